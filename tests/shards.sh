#!/bin/sh
# Shards for array jobs: run --shard I/N runs the cells whose config hash
# modulo N is I into a database of its own, which records its shard;
# gradsweep merge joins shards of one sweep (config and seeding checked,
# cells deduplicated, rows copied whole) into rows identical to one
# unsharded run, and the report reads the merged database. Shards of
# another sweep or seed are refused with nothing written.
. "${top_srcdir:-.}/tests/sweep_lib.sh"
small="$cfg_dir/small.ini"
cd "$work" || exit 1
q() { sqlite3 "$db" "$1"; }

"$gs" run "$small" --db whole.db --threads 1 2>whole.err
dump_rows whole.db > whole.rows
check "reference: the unsharded run of small.ini" 'grep -q "done: 30 cells" whole.err'

total=0
for i in 0 1 2; do
    "$gs" run "$small" --shard $i/3 --threads 1 2>s$i.err; st=$?
    db=results/small.shard-$i-of-3.db
    cnt=$(q "SELECT count(*) FROM runs")
    total=$((total + cnt))
    # every cell's hash modulo 3 is i (python3: 64-bit arithmetic)
    off=$(q "SELECT config_hash FROM runs" | python3 -c "import sys; print(sum(int(h, 16) % 3 != $i for h in sys.stdin.read().split()))")
    check "--shard $i/3: exit $st, its own database (default name), records '$(q "SELECT shard FROM sweeps")', $cnt cells, $off not of the shard" \
        '[ $st -eq 0 ] && [ "$(q "SELECT shard FROM sweeps")" = "$i/3" ] && [ "$cnt" -gt 0 ] && [ "$off" = 0 ] &&
         grep -q "cells in shard $i/3" s$i.err'
done
check "the three shards hold 30 cells together ($total)" '[ $total -eq 30 ]'
"$gs" status results/small.shard-1-of-3.db >status1.out 2>&1; st=$?
check "status of a shard: says so, nothing missing (exit $st)" \
    '[ $st -eq 0 ] && grep -q "^shard 1/3: " status1.out && grep -q "^total  *[0-9]* *[0-9]* *[0-9]* *[0-9]* *0 " status1.out'
s0=results/small.shard-0-of-3.db s1=results/small.shard-1-of-3.db s2=results/small.shard-2-of-3.db

"$gs" merge merged.db $s0 $s1 $s2 >merge.out 2>merge.err; st=$?
db=merged.db
check "merge of shards 0/3, 1/3, 2/3: exit $st, 30 cells copied, shard NULL ($(cat merge.out merge.err))" \
    '[ $st -eq 0 ] && grep -q "30 cells copied, 0 skipped" merge.out && grep -q "holds 30 of the sweep.s 30 cells" merge.out &&
     [ "$(q "SELECT quote(shard) FROM sweeps; SELECT count(*) FROM sessions; PRAGMA integrity_check; PRAGMA foreign_key_check")" = "NULL
1
ok" ]'
check "... rows identical to the unsharded run" 'dump_rows merged.db | cmp -s - whole.rows'
"$gs" run "$small" --db merged.db --threads 1 2>rerun.err; st=$?
check "... a run on the merged database has nothing left to run (exit $st)" \
    '[ $st -eq 0 ] && grep -q "30 stored already, 0 to run" rerun.err'
"$gs" report merged.db -o rep >/dev/null 2>rep.err; st=$?
check "... gradsweep report reads it (exit $st)" '[ $st -eq 0 ] && [ -s rep/index.html ]'

# overlapping shards, one given twice and the whole run among them
"$gs" merge over.db $s0 $s1 $s0 whole.db $s2 >over.out 2>&1; st=$?
n0=$(db=$s0 q "SELECT count(*) FROM runs")
check "overlapping shards deduplicate: exit $st, 30 copied, $((n0 + 30)) skipped, rows identical" \
    '[ $st -eq 0 ] && grep -q "30 cells copied, $((n0 + 30)) skipped" over.out && dump_rows over.db | cmp -s - whole.rows'
# a merge in two steps: a shard missing, then added
"$gs" merge two.db $s0 $s2 >two.out 2>&1; st1=$?
"$gs" merge two.db $s1 >>two.out 2>&1; st2=$?
check "a merge in two steps (exit $st1, $st2): the first says what is missing, the second completes" \
    '[ $st1 -eq 0 ] && [ $st2 -eq 0 ] && grep -q "missing: gradsweep run" two.out && dump_rows two.db | cmp -s - whole.rows'

# shards of another seed, another config: refused, nothing written
"$gs" run "$small" seed=12 --shard 1/3 --db seed12.db --threads 1 2>/dev/null
"$gs" merge bad.db $s0 seed12.db >bad.out 2>&1; st=$?
check "a shard of another seed: refused (exit $st), nothing written ($(cat bad.out))" \
    '[ $st -eq 2 ] && grep -q "seed 12" bad.out && grep -q "nothing was written" bad.out && [ ! -e bad.db ]'
cp two.db keep.db
sum=$(dump_rows two.db | cksum; sqlite3 two.db "SELECT count(*) FROM sessions")
"$gs" merge two.db seed12.db >bad2.out 2>&1; st=$?
check "... into an existing merged database: refused (exit $st), it is unchanged" \
    '[ $st -eq 2 ] && [ "$(dump_rows two.db | cksum; sqlite3 two.db "SELECT count(*) FROM sessions")" = "$sum" ]'
"$gs" run "$cfg_dir/report.ini" --shard 0/3 --db other.db --threads 1 >/dev/null 2>&1
"$gs" merge bad.db $s0 other.db >bad3.out 2>&1; st=$?
check "a shard of another sweep: refused (exit $st), nothing written ($(cat bad3.out))" \
    '[ $st -eq 2 ] && grep -q "other.db holds sweep .* and .* sweep .small.: not shards of one sweep" bad3.out && [ ! -e bad.db ]'
# the same sweep with another key: its config text differs
"$gs" run "$small" steps=50 --shard 0/3 --db steps50.db --threads 1 >/dev/null 2>&1
"$gs" merge bad.db $s0 steps50.db >bad6.out 2>&1; st=$?
check "a shard of the same sweep with an override: refused (exit $st), nothing written ($(cat bad6.out))" \
    '[ $st -eq 2 ] && grep -q "another config" bad6.out && [ ! -e bad.db ]'
"$gs" merge $s1 $s0 >bad4.out 2>&1; st=$?
db=$s1
check "merging into a shard's database: refused (exit $st), the shard unchanged" \
    '[ $st -eq 2 ] && grep -q "holds shard 1/3" bad4.out && [ "$(q "SELECT count(*) FROM sessions")" = 1 ]'
"$gs" merge bad.db nosuch.db >bad5.out 2>&1; st=$?
check "a shard that does not exist: refused (exit $st), nothing written" '[ $st -eq 2 ] && [ ! -e bad.db ]'

# a database holds one shard: another shard, or the whole sweep, is refused
db=$s0
before=$(dump_rows $s0 | cksum)
for other in "--shard 1/3" "--shard 0/2" ""; do
    "$gs" run "$small" $other --db $s0 --threads 1 2>refuse.err; st=$?
    check "a run of '${other:-the whole sweep}' on shard 0/3's database: refused (exit $st), unchanged" \
        '[ $st -eq 2 ] && grep -q "holds shard 0/3" refuse.err && [ "$(dump_rows $s0 | cksum)" = "$before" ]'
done
for bad in 3/3 -1/3 1/0 x 1 1/ /3 1/3x; do
    "$gs" run "$small" --shard "$bad" --db badshard.db 2>bad.err; st=$?
    check "--shard $bad: refused (exit $st)" '[ $st -eq 2 ] && grep -q "not a shard" bad.err && [ ! -e badshard.db ]'
done

# a shard under mpiexec: its rows are the unsharded run's
if command -v mpiexec >/dev/null 2>&1 && ! "$gs" --version | grep -q "without MPI"; then
    mpirun_gs 2 run "$small" --shard 1/3 --db mpi1.db --threads 1 2>/dev/null; st=$?
    check "--shard 1/3 under mpiexec -n 2: exit $st, the rows of shard 1/3" \
        '[ $st -eq 0 ] && [ "$(dump_rows mpi1.db)" = "$(dump_rows $s1)" ]'
else
    skip "no mpiexec: a shard under mpiexec"
fi
finish
