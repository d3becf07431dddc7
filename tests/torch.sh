#!/bin/sh
# gradsweep vs PyTorch autograd on small MLPs with identical weights: every
# activation x norm x residual. A TAP skip where python3-torch is missing.
. "${top_srcdir:-.}/tests/tap.sh"
torch_compare torch_dump torch_compare.py
