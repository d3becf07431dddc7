#!/bin/sh
# gradsweep's transformer vs PyTorch autograd (float64) on identical weights:
# every ln x residual_scale, causal, without skip and MLP, and the edges,
# with dropout 0.3 (gradsweep's masks applied by the reference) and with
# QK-norm (F.layer_norm on each head's q and k);
# the loss, every gradient and the block statistics to 1e-10, and
# nn.TransformerEncoderLayer where PyTorch has the layer
# (tests/reference/torch_transformer.py). A TAP skip where python3-torch is missing.
. "${top_srcdir:-.}/tests/tap.sh"
torch_compare transformer_dump reference/torch_transformer.py
