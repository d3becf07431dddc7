#!/bin/sh
# The cost of evaluating the held-out rows at every logged step (issue 18):
# seed.ini's training cells of three kinds run with eval_rows=0 and with
# each of the other values, interleaved (one of each per round, so a load
# change hits both), one thread; prints the CPU seconds (user + sys) of
# every run and the median ratio per cell and value. Usage:
#   GRADSWEEP_DATA_DIR=data reports/bench/heldout.sh build/src/gradsweep [ROUNDS] [VALUES]
gs=${1:?usage: $0 GRADSWEEP [ROUNDS] [EVAL_ROWS VALUES]}
rounds=${2:-5}
values=${3:-"256 2000"}
export OMP_WAIT_POLICY=passive
cells='digits-loss-curves|dataset=digits depth=10 width=100 activation=relu init=he optimizer=sgd lr=0.1 batch=32 steps=1500 log_every=25
adding-lstm|model=lstm dataset=adding seq_len=50 depth=1 width=32 init=xavier optimizer=adam lr=1e-2 batch=32 clip=1 steps=800 log_every=20
rnn-clipping|model=rnn dataset=adding seq_len=20 depth=1 width=32 init=orthogonal optimizer=sgd lr=0.1 batch=32 clip=1 steps=1000 log_every=20'
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "$cells" | while IFS='|' read -r name keys; do
    r=1
    while [ "$r" -le "$rounds" ]; do
        for e in 0 $values; do
            # shellcheck disable=SC2086
            /usr/bin/time -f "%U %S" -o "$tmp" "$gs" train $keys eval_rows=$e --threads 1 \
                </dev/null >/dev/null 2>&1 || { echo "$name eval_rows=$e failed" >&2; exit 1; }
            awk -v n="$name" -v e="$e" '{ printf "%s %s %.3f\n", n, e, $1 + $2 }' "$tmp"
        done
        r=$((r + 1))
    done
done | awk '
    { print; t[$1 " " $2] = t[$1 " " $2] " " $3; cells[$1] = 1; vals[$2] = 1 }
    function median(s,   a, n, i, j, x) {
        n = split(s, a, " ")
        for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
        for (c in cells) for (v in vals) if (v != 0)
            printf "median %s eval_rows=%s: %.3f s against %.3f s without: +%.1f%%\n", c, v,
                   median(t[c " " v]), median(t[c " 0"]), 100 * (median(t[c " " v]) / median(t[c " 0"]) - 1)
    }'
