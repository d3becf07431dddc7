#!/bin/sh
# gradsweep vs PyTorch autograd on small MLPs with identical weights: every
# activation x norm x residual. A TAP skip where python3-torch is missing.
. "${top_srcdir:-.}/tests/tap.sh"
py="${PYTHON3:-python3}"
for cand in "$py" /usr/bin/python3 python3; do
    if [ -x "$(command -v "$cand" 2>/dev/null)" ] && "$cand" -c 'import torch' 2>/dev/null; then
        "${top_builddir:-.}/tests/torch_dump" > "$work/dump" || { notok "torch_dump failed"; finish; exit; }
        "$cand" "${top_srcdir:-.}/tests/torch_compare.py" "$work/dump"
        exit $?
    fi
done
skip_all "python3-torch is not installed (apt-get install python3-torch)"
