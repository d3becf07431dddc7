#!/bin/sh
# gradsweep vs PyTorch autograd on small MLPs with identical weights: every
# activation x norm x residual. A TAP skip where python3-torch is missing.
py="${PYTHON3:-python3}"
for cand in "$py" /usr/bin/python3 python3; do
    if [ -x "$(command -v "$cand" 2>/dev/null)" ] && "$cand" -c 'import torch' 2>/dev/null; then
        tmp=$(mktemp) || exit 1
        trap 'rm -f "$tmp"' EXIT
        "${top_builddir:-.}/tests/torch_dump" > "$tmp" || { echo "1..1"; echo "not ok 1 - torch_dump failed"; exit 1; }
        "$cand" "${top_srcdir:-.}/tests/torch_compare.py" "$tmp"
        exit $?
    fi
done
echo "1..0 # SKIP python3-torch is not installed (apt-get install python3-torch)"
