#!/bin/sh
# gradsweep's transformer vs PyTorch autograd (float64) on identical weights:
# every ln x residual_scale, causal, without skip and MLP, and the edges;
# the loss, every gradient and the block statistics to 1e-10, and
# nn.TransformerEncoderLayer where PyTorch has the layer
# (tests/reference/torch_transformer.py). A TAP skip where python3-torch is missing.
. "${top_srcdir:-.}/tests/tap.sh"
py="${PYTHON3:-python3}"
for cand in "$py" /usr/bin/python3 python3; do
    if [ -x "$(command -v "$cand" 2>/dev/null)" ] && "$cand" -c 'import torch' 2>/dev/null; then
        "${top_builddir:-.}/tests/transformer_dump" > "$work/dump" || { notok "transformer_dump failed"; finish; exit; }
        "$cand" "${top_srcdir:-.}/tests/reference/torch_transformer.py" "$work/dump"
        exit $?
    fi
done
skip_all "python3-torch is not installed (apt-get install python3-torch)"
