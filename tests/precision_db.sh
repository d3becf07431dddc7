#!/bin/sh
# Reduced precision stored (issue 20): the keys, runs.loss_scale_final and
# skipped_steps, train_layer_log.lost_update_frac and layer_stats'
# twin_rel_err and twin_cos, set for the reduced-precision cells and NULL
# for the float64 one; the same rows from 1, 2 and 3 MPI ranks (the
# stochastic rounding's draws are the cell's own); bad input refused with
# exit 2.
. "${top_srcdir:-.}/tests/sweep_lib.sh"
ini="$cfg_dir/precision.ini"
cd "$work" || exit 1
q() { sqlite3 pr.db "$1"; }

"$gs" run "$ini" --db pr.db --threads 1 2>run.err; st=$?
check "run: the reduced-precision sweep completes (exit $st)" '[ $st -eq 0 ] && grep -q "done: 5 cells" run.err'
v=$(q "SELECT experiment, precision, coalesce(loss_scale_final, 'NULL'), coalesce(skipped_steps, 'NULL')
       FROM runs ORDER BY experiment, precision, loss_scale" | tr '\n' ' ')
check "runs: the keys stored, loss_scale_final 2^16 for the dynamic runs (8 steps: no growth), skipped_steps 0 (training only) ($v)" \
    '[ "$v" = "float64|float64|NULL|0 probe|float16|NULL|NULL probe|float16|NULL|NULL train|bfloat16|65536.0|0 train|float16|65536.0|0 " ]'
v=$(q "SELECT r.experiment || ':' || count(l.lost_update_frac) || ':' || count(*) || ':' ||
       coalesce(min(l.lost_update_frac) >= 0 AND max(l.lost_update_frac) <= 1, 'NULL')
       FROM runs r JOIN train_layer_log l ON l.run_id = r.id GROUP BY r.id ORDER BY r.experiment, r.precision" | tr '\n' ' ')
check "train_layer_log.lost_update_frac: a share on every logged row of a reduced-precision run, NULL in float64 ($v)" \
    '[ "$v" = "float64:0:15:NULL train:15:15:1 train:15:15:1 " ]'
v=$(q "SELECT r.loss_scale || ':' || count(s.twin_rel_err) || ':' || count(s.twin_cos) || ':' || count(*)
       FROM runs r JOIN layer_stats s ON s.run_id = r.id WHERE r.experiment = 'probe' GROUP BY r.id
       ORDER BY r.loss_scale" | tr '\n' ' ')
lost=$(q "SELECT s.twin_rel_err FROM runs r JOIN layer_stats s ON s.run_id = r.id
          WHERE r.experiment = 'probe' AND r.loss_scale = 'none' AND s.layer = 1")
check "layer_stats' twin columns: every layer of the probes; float16 without a scale loses layers 1-4's gradients whole (layer 1: relative error $lost; their cosines NULL) ($v)" \
    '[ "$v" = "4096:13:13:13 none:13:9:13 " ] && [ "$lost" = "1.0" ]'
v=$(q "SELECT count(*) FROM runs r JOIN layer_stats s ON s.run_id = r.id
       WHERE r.precision = 'float64' AND (s.twin_rel_err IS NOT NULL OR s.twin_cos IS NOT NULL)")
check "no twin for the float64 cell ($v rows)" '[ "$v" = 0 ]'

# ---- the same rows from 1, 2 and 3 ranks ----
if command -v mpiexec >/dev/null 2>&1 && ! "$gs" --version | grep -q "without MPI"; then
    dump_rows pr.db > np1.rows
    for np in 2 3; do
        mpirun_gs $np run "$ini" --db np$np.db --threads 1 2>np$np.err; st=$?
        check "mpiexec -n $np: the same rows as one process, bit for bit (exit $st)" \
            '[ $st -eq 0 ] && dump_rows np$np.db | cmp -s - np1.rows'
    done
else
    skip "no mpiexec, or a build without MPI: the rank comparison"
fi

# ---- bad input ----
msg=$("$gs" probe model=gru precision=bfloat16 2>&1); st=$?
check "precision=bfloat16 with model=gru: exit 2, not yet ($msg)" \
    '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "not yet"'
msg=$("$gs" train loss_scale=dynamic 2>&1); st=$?
check "loss_scale without a precision: exit 2 and what to set ($msg)" \
    '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "set precision"'
msg=$("$gs" probe precision=float8 2>&1); st=$?
check "precision=float8: exit 2 naming the values ($msg)" \
    '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "float64, float32, bfloat16, float16, e5m2, e4m3"'
finish
