#!/bin/sh
# The sweep under mpiexec (-n 1, 2, 3, --oversubscribe --bind-to none):
# the same rows whatever the rank count, work spread over every rank, and
# resume after kill -9 of mpirun at a random moment.
. "${top_srcdir:-.}/tests/sweep_lib.sh"
small="$cfg_dir/small.ini"
cd "$work" || exit 1
command -v mpiexec >/dev/null 2>&1 || skip_all "mpiexec is missing (apt-get install openmpi-bin)"
"$gs" --version | grep -q "without MPI" &&
    skip_all "gradsweep was built --without-mpi (its run is the one-rank sweep)"
q() { sqlite3 "$db" "$1"; }

"$gs" run "$small" --db np1.db --threads 1 2>np1.err
dump_rows np1.db > np1.rows
check "reference: singleton run" 'grep -q "done: 30 cells" np1.err && [ -s np1.rows ]'
for np in 1 2 3; do
    mpirun_gs $np run "$small" --db mpi$np.db --threads 1 2>mpi$np.err; st=$?
    db=mpi$np.db
    ranks=$(q "SELECT count(DISTINCT rank) FROM runs")
    sess=$(q "SELECT ranks || ' ' || threads || ' ' || status FROM sessions")
    check "mpiexec -n $np: completes (exit $st), every rank computed cells ($ranks), session '$sess'" \
        '[ $st -eq 0 ] && [ "$ranks" -eq $np ] && [ "$sess" = "$np 1 done" ]'
    check "mpiexec -n $np: rows identical to the singleton run but for rank, wall_s, timestamps" \
        'dump_rows mpi$np.db | cmp -s - np1.rows'
done
# tiny cells are shared: each rank gets one before any gets more, then a
# queue as deep as the measured cell time asks, at most a fair share of
# what is left (issue 22: rank 0's thread took 32 of 36, rank 2 none)
cat > tiny36.ini <<'INI'
[sweep]
name = tiny36
seed = 3
[tiny]
task = probe
depth = 1, 2, 3
width = 1, 2, 3, 4
activation = tanh, relu, sigmoid
INI
mpirun_gs 3 run tiny36.ini --db tiny36.db --threads 1 2>tiny36.err; st=$?
db=tiny36.db
share=$(q "SELECT group_concat(n, ' ') FROM (SELECT count(*) AS n FROM runs GROUP BY rank ORDER BY rank)")
check "a 36-cell probe sweep at -n 3: every rank computed some (cells per rank: $share; exit $st)" \
    '[ $st -eq 0 ] && [ "$(q "SELECT count(DISTINCT rank) FROM runs")" = 3 ] && [ "$(q "SELECT count(*) FROM runs")" = 36 ]'
# transformers (issue 21): their block_stats rows and output change are
# the same whatever the rank and thread count (attention's tasks per
# sequence and head; dropout's masks per row from the cell's seed; QK-norm's
# per row and head, its gains' sums in a fixed order)
cat > tf.ini <<'INI'
[sweep]
name = tf
seed = 5
[blocks]
model = transformer
width = 16
heads = 4
seq_len = 6
batch = 3
activation = gelu
depth = 1, 3
ln = post, pre
causal = no, yes
[dropout]
model = transformer
width = 16
heads = 4
seq_len = 6
batch = 3
activation = relu
depth = 2
ln = post, pre
dropout = 0.3
[dropout-train]
model = transformer
task = train
width = 16
heads = 4
seq_len = 6
batch = 3
depth = 2
steps = 4
log_every = 2
optimizer = adam
lr = 0.01
dropout = 0.3
[qknorm]
model = transformer
width = 16
heads = 4
seq_len = 6
batch = 3
depth = 2
ln = post, pre
causal = yes
qk_norm = yes
[qknorm-train]
model = transformer
task = train
width = 16
heads = 4
seq_len = 6
batch = 3
depth = 2
steps = 4
log_every = 2
optimizer = adam
lr = 0.01
qk_norm = yes
INI
"$gs" run tf.ini --db tf1.db --threads 1 2>/dev/null
dump_rows tf1.db > tf1.rows
mpirun_gs 3 run tf.ini --db tf3.db --threads 1 2>/dev/null; st=$?
mpirun_gs 2 run tf.ini --db tf22.db --threads 2 2>/dev/null; st2=$?
nb=$(db=tf1.db q "SELECT count(*) || ' ' || count(DISTINCT run_id) FROM block_stats")
no=$(db=tf1.db q "SELECT count(*) FROM runs WHERE output_change > 0")
nd=$(db=tf1.db q "SELECT count(*) FROM runs WHERE dropout = 0.3")
nq=$(db=tf1.db q "SELECT count(*) FROM runs WHERE qk_norm = 'yes'")
check "transformer cells at -n 3 (1 thread) and -n 2 (2 threads): rows identical to the singleton run, block_stats included ($nb rows, cells; $no output changes; $nd with dropout; $nq with qk_norm; exit $st $st2)" \
    '[ $st -eq 0 ] && [ $st2 -eq 0 ] && [ "$nb" = "360 14" ] && [ "$no" = 14 ] && [ "$nd" = 3 ] && [ "$nq" = 3 ] &&
     dump_rows tf3.db | cmp -s - tf1.rows && dump_rows tf22.db | cmp -s - tf1.rows'
# reduced precision (issue 20): emulated arithmetic, stochastic rounding
# from the run's own stream, dynamic loss scaling, float64 twins and
# format_stats' counts (a transformer's too), a transformer's arithmetic
# in bfloat16 and float16 (its attention on both threads: n T T d = 2^15)
# - the same rows whatever the rank and thread count
cat > lp.ini <<'INI'
[sweep]
name = lp
[mlp]
task = train
depth = 4
width = 16
batch = 8
steps = 6
log_every = 2
activation = sigmoid
optimizer = sgd
lr = 0.05
precision = float16, bfloat16, e4m3
loss_scale = dynamic
rounding = stochastic
format_stats = yes
[same]
task = train
depth = 3
width = 8
batch = 8
steps = 5
log_every = 1
precision = bfloat16
master_weights = same
rounding = nearest, stochastic
lr = 1e-3
[rec]
model = lstm, gru
task = train
seq_len = 6
depth = 1
width = 8
batch = 4
steps = 4
log_every = 2
precision = float16
loss_scale = 1024
format_stats = yes
[probe]
depth = 6
width = 32
batch = 16
precision = float32, e5m2
format_stats = yes
[tf]
model = transformer
task = train
depth = 2
width = 8
heads = 2
seq_len = 4
batch = 3
steps = 4
log_every = 2
dropout = 0.1
format_stats = yes
[tfprec]
model = transformer
task = train
depth = 2
width = 16
heads = 2
seq_len = 16
batch = 8
steps = 4
log_every = 2
dropout = 0.1
precision = bfloat16, float16
loss_scale = dynamic
rounding = stochastic
format_stats = yes
INI
"$gs" run lp.ini --db lp1.db --threads 1 2>lp1.err; st1=$?
dump_rows lp1.db > lp1.rows
mpirun_gs 3 run lp.ini --db lp3.db --threads 1 2>/dev/null; st=$?
mpirun_gs 2 run lp.ini --db lp22.db --threads 2 2>/dev/null; st2=$?
nl=$(db=lp1.db q "SELECT count(*) || ' ' || count(DISTINCT precision) || ' ' || sum(model = 'transformer') FROM runs WHERE status = 'done'")
nf=$(db=lp1.db q "SELECT count(*) FROM format_stats")
nu=$(db=lp1.db q "SELECT count(*) FROM train_layer_log WHERE lost_update_frac > 0")
check "reduced precision at -n 3 (1 thread) and -n 2 (2 threads): rows identical to the singleton run, format_stats and lost updates included ($nl cells and precisions; $nf format_stats rows; $nu rows with lost updates; exit $st1 $st $st2)" \
    '[ $st1 -eq 0 ] && [ $st -eq 0 ] && [ $st2 -eq 0 ] && [ "$nl" = "12 6 3" ] && [ "$nf" -gt 1000 ] &&
     [ "$nu" -gt 0 ] && dump_rows lp3.db | cmp -s - lp1.rows && dump_rows lp22.db | cmp -s - lp1.rows'
# the held-out evaluation (issue 18) is among those rows: the same
# subset and values whatever the rank count
hn1=$(db=np1.db q "SELECT count(*) FROM train_log WHERE heldout_loss IS NOT NULL")
hn2=$(db=mpi2.db q "SELECT count(*) FROM train_log WHERE heldout_loss IS NOT NULL")
hr=$(db=mpi2.db q "SELECT group_concat(DISTINCT heldout_rows) FROM runs WHERE task = 'train'")
check "mpiexec -n 2: the held-out loss of every logged step ($hn2 of $hn1 rows, heldout_rows $hr) is in the rows compared" \
    '[ "$hn1" -gt 0 ] && [ "$hn1" = "$hn2" ] && [ "$hr" -gt 0 ] &&
     "$gs" schema --dump | grep -q "quote(heldout_loss), quote(heldout_acc)"'
# threads do not change the numbers either
mpirun_gs 2 run "$small" --db t2.db --threads 2 2>/dev/null
check "mpiexec -n 2 with 2 threads per rank: identical rows" 'dump_rows t2.db | cmp -s - np1.rows'

# kill -9 of mpirun at a random moment, twice, then resume with another rank count
rounds=0
tap_seed
while [ $rounds -lt 2 ]; do
    # each cell 0.1 s longer, so that the kill lands mid-sweep
    kill_at_random $((seed + rounds)) 1.0 1.5 env GRADSWEEP_TEST_CELL_DELAY=0.1 mpiexec --oversubscribe \
        --bind-to none -x GRADSWEEP_TEST_CELL_DELAY -n 3 "$gs" run "$small" --db "$work/mpikill.db" \
        --threads 1
    # mpirun is gone; its ranks die when their parent does - make sure
    # (the pattern names this test's own folder: other tests may run too)
    pkill -9 -f "gradsweep run $small --db $work/mpikill.db" 2>/dev/null
    sleep 0.3
    db=mpikill.db
    echo "# kill -9 of mpirun after ${delay}s: $(q "SELECT count(*) FROM runs" 2>/dev/null) cells stored"
    rounds=$((rounds + 1))
done
# SIGINT to mpirun alone (kill), and to its process group (Ctrl-C in a
# terminal; the ranks sit in groups of their own): mpirun sends every
# rank SIGTERM, then SIGKILL a second later. Rank 0 prints the resume hint,
# commits what arrived, marks the session interrupted and clears the
# in_flight rows; the resume gives the rows of an uninterrupted run.
wait_rows() {
    i=0
    while [ $i -lt 300 ] && [ "$(sqlite3 "$1" "SELECT count(*) FROM runs" 2>/dev/null || echo 0)" = 0 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}
# Each cell 0.3 s longer: the 30 cells take 4.5 s or more on 2 ranks, so
# the signal, 0.3 s after the first row, lands mid-sweep even on a loaded
# machine (with 0.1 s, one loaded run in a few had finished before it).
for how in mpirun group; do
    rm -f "int_$how.db"*
    setsid env GRADSWEEP_TEST_CELL_DELAY=0.3 mpiexec --oversubscribe --bind-to none \
        -x GRADSWEEP_TEST_CELL_DELAY -n 2 "$gs" run "$small" --db "int_$how.db" --threads 1 \
        2>"int_$how.err" &
    bg=$!
    wait_rows "int_$how.db"
    sleep 0.3
    if [ $how = mpirun ]; then kill -INT $bg; else kill -INT -- -$bg; fi
    wait $bg; st=$?
    bg=
    db=int_$how.db
    v=$(q "SELECT status FROM sessions; SELECT count(*) FROM in_flight; PRAGMA integrity_check")
    kept=$(q "SELECT count(*) FROM runs")
    # Open MPI 4.1's mpirun exits 1 whenever it is signalled, whatever its
    # ranks return; rank 0 itself exits 130 (the single-process test checks it)
    check "SIGINT to $how under mpiexec -n 2: resume hint, session interrupted, no in_flight rows ($kept cells kept; exit $st: $(echo $v))" \
        '[ $st -ne 0 ] && grep -q "rerun the same command to resume" int_$how.err && [ "$v" = "interrupted
0
ok" ]'
    mpirun_gs 2 run "$small" --db "int_$how.db" --threads 1 2>"int_$how.resume"; st=$?
    check "... the resume completes (exit $st) with the rows of the uninterrupted run" \
        '[ $st -eq 0 ] && grep -q "$kept stored already" int_$how.resume && dump_rows int_$how.db | cmp -s - np1.rows'
done

mpirun_gs 2 run "$small" --db mpikill.db --threads 1 2>resume.err; st=$?
db=mpikill.db
v=$(q "PRAGMA integrity_check"; q "SELECT count(*), count(DISTINCT config_hash) FROM runs")
check "after kill -9 of mpirun: resume with -n 2 completes, integrity ok, no duplicates ($v)" \
    '[ $st -eq 0 ] && [ "$v" = "ok
30|30" ]'
check "after kill -9 of mpirun: the same rows as the uninterrupted run" 'dump_rows mpikill.db | cmp -s - np1.rows'
finish
