# Helpers for the sweep tests (sourced): tests/tap.sh (TAP, the work
# folder, the seed), the gradsweep and configs under test, and a dump of a
# database's rows without the columns that may differ between two runs of
# one sweep (rank, wall_s, timestamps, session, host, threads).
. "${top_srcdir:-.}/tests/tap.sh"
gs="$(cd "${top_builddir:-.}" && pwd)/src/gradsweep"
cfg_dir="$(cd "${top_srcdir:-.}" && pwd)/tests/configs"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

command -v sqlite3 >/dev/null 2>&1 ||
    skip_all "the sqlite3 program is missing (apt-get install sqlite3)"

# Every stored number of a database, in a fixed order.
dump_rows() {
    sqlite3 "$1" <<'SQL'
.mode list
SELECT id, config_hash, experiment, canonical_key, repeat, seed, status, error, diagnosis,
       quote(grad_ratio), quote(init_loss), quote(train_loss), quote(test_loss), quote(test_acc),
       quote(baseline_loss), quote(clip_fraction), diverged_step, steps_run, sigma_w2, sigma_b2,
       quote(grad_ratio_final), diagnosis_final, diverged_layer, diverged_tensor,
       quote(last_finite_grad_norm)
  FROM runs ORDER BY id;
SELECT run_id, step, layer, quote(act_mean), quote(act_std), quote(saturated_frac),
       quote(dead_frac), quote(grad_pre_norm), quote(grad_w_norm), quote(w_norm)
  FROM layer_stats ORDER BY 1, 2, 3;
SELECT run_id, step, quote(loss), quote(grad_norm), quote(grad_norm_clipped), clipped
  FROM train_log ORDER BY 1, 2;
SELECT run_id, step, layer, quote(grad_w_norm), quote(w_norm), quote(update_ratio),
       quote(dead_frac), quote(saturated_frac), quote(grad_h_first), quote(grad_h_last)
  FROM train_layer_log ORDER BY 1, 2, 3;
SELECT run_id, step, t, quote(hidden_norm), quote(grad_hidden_norm) FROM time_stats ORDER BY 1, 2, 3;
SELECT * FROM histograms ORDER BY 1, 2, 3, 4;
SELECT run_id, quote(q_star), quote(chi1), quote(depth_scale), quote(predicted_slope),
       quote(measured_slope), quote(fit_r2), quote(sv2_min), quote(sv2_max), quote(sv2_mean),
       quote(condition), quote(residual_growth_predicted), quote(residual_growth_measured),
       quote(step_bound) FROM theory ORDER BY 1;
SQL
}

# random_delay SEED LOW SPAN: a pseudo-random number of seconds in
# [LOW, LOW + SPAN), for killing a run at a random moment. SEED comes from
# tap_seed's $seed, so that GS_TEST_SEED replays the same moments.
random_delay() {
    awk -v s="$1" -v lo="$2" -v span="$3" 'BEGIN { srand(s); printf "%.2f", lo + rand() * span }'
}

# kill_at_random SEED LOW SPAN COMMAND...: run COMMAND in the background
# and kill -9 it after random_delay SEED LOW SPAN seconds (left in $delay).
kill_at_random() {
    delay=$(random_delay "$1" "$2" "$3")
    shift 3
    "$@" 2>/dev/null &
    bg=$!
    sleep "$delay"
    kill -9 $bg 2>/dev/null
    wait $bg 2>/dev/null
    bg=
}

mpirun_gs() {
    np=$1
    shift
    mpiexec --oversubscribe --bind-to none -n "$np" "$gs" "$@"
}
