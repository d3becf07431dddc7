#!/bin/sh
# A drain (SIGUSR1; SIGTERM with run --term-grace): rank 0 hands out no
# more cells, the running ones finish and are stored, the session ends
# interrupted with no in_flight rows, exit 130 with the command that
# resumes, and no MPI_ABORT banner; the rerun gives the rows of an
# uninterrupted run. The grace's end stops a drain as SIGINT does.
. "${top_srcdir:-.}/tests/sweep_lib.sh"
small="$cfg_dir/small.ini"
cd "$work" || exit 1
q() { sqlite3 "$db" "$1"; }
train="--experiment train --threads 1"

"$gs" run "$small" $train --db ref.db 2>ref.err
dump_rows ref.db > ref.rows
check "reference: the 8 training cells of small.ini, uninterrupted" \
    'grep -q "done: 8 cells" ref.err && [ "$(sqlite3 ref.db "SELECT count(*) FROM runs")" -eq 8 ]'

# wait_running DB N: until DB holds a stored cell and N cells in flight
# (training cells of 0.5 s and more go one at a time: in flight = running)
wait_running() {
    i=0
    while [ $i -lt 200 ]; do
        r=$(sqlite3 "$1" "SELECT (SELECT count(*) FROM runs) > 0 AND (SELECT count(*) FROM in_flight) >= $2" 2>/dev/null)
        [ "$r" = 1 ] && return 0
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# drained DB ERR STATUS SIGNAME: the checks every drain must pass; the
# cells in flight when the signal was sent are in running.txt
drained() {
    db=$1 errf=$2 dst=$3 sig=$4
    v=$(q "SELECT group_concat(status) FROM sessions; SELECT count(*) FROM in_flight; PRAGMA integrity_check")
    lost=0
    for h in $(cat running.txt); do
        [ "$(q "SELECT count(*) FROM runs WHERE config_hash = '$h'")" = 1 ] || lost=$((lost + 1))
    done
    kept=$(q "SELECT count(*) FROM runs")
    check "$sig: exit $dst, session interrupted, no in_flight rows ($(echo $v)); $kept cells stored, $lost of the $(wc -w < running.txt) running lost" \
        '[ "$dst" -eq 130 ] && [ "$v" = "interrupted
0
ok" ] && [ $lost -eq 0 ] && [ "$kept" -lt 8 ]'
    check "$sig: says it drained and what resumes, no MPI_ABORT banner" \
        'grep -q "drained by $sig: .* none of those running lost" "$errf" &&
         grep -q "Resubmit the same command to resume" "$errf" && ! grep -q MPI_ABORT "$errf"'
}

# ---- SIGUSR1 to mpiexec, which passes it to every rank (srun does too) ----
if ! command -v mpiexec >/dev/null 2>&1 || "$gs" --version | grep -q "without MPI"; then
    skip "no mpiexec, or gradsweep built --without-mpi: the drain under mpiexec"
    skip "..."
    skip "..."
else
    env GRADSWEEP_TEST_CELL_DELAY=0.5 mpiexec --oversubscribe --bind-to none \
        -x GRADSWEEP_TEST_CELL_DELAY -n 2 "$gs" run "$small" $train --db usr1.db 2>usr1.err &
    bg=$!
    wait_running usr1.db 2
    sqlite3 usr1.db "SELECT config_hash FROM in_flight" > running.txt
    kill -USR1 $bg
    wait $bg; st=$?
    bg=
    drained usr1.db usr1.err $st SIGUSR1
    mpirun_gs 2 run "$small" $train --db usr1.db 2>usr1.resume; st=$?
    check "... the rerun completes (exit $st) with the rows of the uninterrupted run" \
        '[ $st -eq 0 ] && grep -q "$kept stored already" usr1.resume && dump_rows usr1.db | cmp -s - ref.rows'
fi

# ---- one process: SIGUSR1, and SIGTERM within --term-grace ----
for how in USR1 TERM; do
    env GRADSWEEP_TEST_CELL_DELAY=0.5 "$gs" run "$small" $train --db one$how.db --term-grace 60 \
        2>one$how.err &
    bg=$!
    wait_running one$how.db 1
    sqlite3 one$how.db "SELECT config_hash FROM in_flight" > running.txt
    kill -$how $bg
    wait $bg; st=$?
    bg=
    drained one$how.db one$how.err $st SIG$how
    check "... the resume hint keeps --term-grace" 'grep -q "\-\-term-grace 60" one$how.err'
    "$gs" run "$small" $train --db one$how.db 2>one$how.resume; st=$?
    check "... the rerun completes (exit $st) with the rows of the uninterrupted run" \
        '[ $st -eq 0 ] && dump_rows one$how.db | cmp -s - ref.rows'
done

# ---- a cell that outlasts the grace: SIGTERM stops at once when it ends ----
env GRADSWEEP_TEST_CELL_DELAY=4 "$gs" run "$small" $train --db grace.db --term-grace 0.5 \
    2>grace.err &
bg=$!
wait_running grace.db 1
t0=$(date +%s.%N)
kill -TERM $bg
wait $bg; st=$?
bg=
t=$(echo "$(date +%s.%N) $t0" | awk '{ printf "%.1f", $1 - $2 }')
db=grace.db
v=$(q "SELECT group_concat(status) FROM sessions; SELECT count(*) FROM in_flight; PRAGMA integrity_check")
check "SIGTERM, the running cell 4 s longer than a 0.5 s grace: stopped after ${t}s (exit $st), interrupted, no in_flight rows" \
    '[ $st -eq 130 ] && [ "$v" = "interrupted
0
ok" ] && grep -q "draining" grace.err && grep -q "interrupted by SIGTERM" grace.err &&
     awk -v t=$t "BEGIN { exit !(t < 3.5) }"'
# bad --term-grace values are refused before anything runs
for bad in -1 x 1e9; do
    "$gs" run "$small" --db bad.db --term-grace $bad 2>bad.err; st=$?
    check "--term-grace $bad: refused (exit $st), nothing created" \
        '[ $st -eq 2 ] && grep -q "term-grace $bad: not a number of seconds" bad.err && [ ! -e bad.db ]'
done
finish
