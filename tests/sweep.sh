#!/bin/sh
# gradsweep plan / run / status / schema without mpirun: config errors,
# the schema, resume, --fresh, the run lock, signals, kill -9 and failed cells.
. "${top_srcdir:-.}/tests/sweep_lib.sh"
small="$cfg_dir/small.ini"
cd "$work" || exit 1

# ---- plan and config errors ----
out=$("$gs" plan "$small")
check "plan: experiments, cells, cost and the database" \
    'printf "%s\n" "$out" | grep -q "^\[depth\] line 8: 18 cells" &&
     printf "%s\n" "$out" | grep -q "axis activation   sigmoid, tanh, relu" &&
     printf "%s\n" "$out" | grep -q "^total: 30 cells" &&
     printf "%s\n" "$out" | grep -q "results/small.db does not exist yet"'
msg=$("$gs" plan "$cfg_dir/bad.ini" 2>&1 >/dev/null); st=$?
check "plan: a config error exits 2 with file:line, key, value and allowed values ($msg)" \
    '[ $st -eq 2 ] && printf "%s\n" "$msg" | grep -q "bad.ini:5: \[e\] depth=0: out of range; allowed: an integer from 1 to 10000"'
msg=$("$gs" run "$cfg_dir/bad.ini" 2>&1); st=$?
check "run: a config error exits 2 and creates no database" '[ $st -eq 2 ] && [ ! -e results/bad.db ] && [ ! -e results ]'
msg=$("$gs" run nonexistent.ini 2>&1); st=$?
check "run: a missing config exits 2 ($msg)" '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "nonexistent.ini: cannot open"'

# ---- a full run, the schema, status ----
"$gs" run "$small" --threads 1 2>run1.err; st=$?
check "run: singleton run completes (exit $st)" '[ $st -eq 0 ] && grep -q "done: 30 cells stored in results/small.db" run1.err'
v=$(sqlite3 results/small.db "PRAGMA integrity_check"; sqlite3 results/small.db "PRAGMA journal_mode")
check "integrity_check ok, WAL mode" '[ "$v" = "ok
wal" ]'
ok_cols=1
for spec in \
    "sweeps:name description config_text base_seed vanishing_below exploding_above" \
    "sessions:status started_at ended_at host pid ranks threads hosts wall_s" \
    "runs:config_hash experiment canonical_key repeat seed model task dataset depth width seq_len activation init gain bias_std norm residual optimizer lr batch steps log_every clip clip_mode status error diagnosis grad_ratio train_loss test_loss test_acc clip_fraction diverged_step wall_s rank sigma_w2 sigma_b2 grad_ratio_final diagnosis_final diverged_layer diverged_tensor last_finite_grad_norm" \
    "layer_stats:run_id step layer act_mean act_std saturated_frac dead_frac grad_pre_norm grad_w_norm w_norm" \
    "train_log:run_id step loss grad_norm grad_norm_clipped clipped" \
    "train_layer_log:run_id step layer grad_w_norm w_norm update_ratio dead_frac saturated_frac grad_h_first grad_h_last" \
    "time_stats:run_id step t hidden_norm grad_hidden_norm" \
    "theory:run_id q_star chi1 depth_scale predicted_slope measured_slope fit_r2 sv2_min sv2_max sv2_mean condition residual_growth_predicted residual_growth_measured step_bound" \
    "histogram_counts:run_id layer quantity lo hi counts" \
    "histograms:run_id layer quantity bin lo hi count" \
    "format_stats:run_id step layer tensor format n_values nonzero zero_frac subnormal_frac overflow_frac max_abs min_abs scale_lo_log2 scale_hi_log2" \
    "format_exponents:run_id step layer tensor exp_lo counts" \
    "format_exponent_bins:run_id step layer tensor exponent count" \
    "loss_scale_window:run_id step tensor format lo_log2 hi_log2 empty default_ok" \
    "summary:run_id experiment depth activation init status diagnosis grad_ratio test_acc"; do
    table=${spec%%:*}
    have=$(sqlite3 results/small.db "SELECT name FROM pragma_table_info('$table')" | tr '\n' ' ')
    for col in ${spec#*:}; do
        case " $have " in *" $col "*) ;; *) ok_cols=0; echo "# missing: $table.$col" ;; esac
    done
done
check "schema: every documented table, column and the summary view exist" '[ $ok_cols -eq 1 ]'
sch=$("$gs" schema)
uncommented=$(printf '%s\n' "$sch" | grep -E '^  [a-z_0-9]+ (INTEGER|REAL|TEXT)' | grep -vc -- '--')
check "gradsweep schema: a comment on every column ($uncommented without)" '[ "$uncommented" -eq 0 ]'
q() { sqlite3 "${db:-results/small.db}" "$1"; }
v=$(q "SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view')")
check "the database holds the 14 tables and the 4 views ($v)" '[ "$v" -eq 18 ]'

# ---- theory beside measurement ----
v=$(q "SELECT count(*) FROM runs r JOIN theory t ON t.run_id = r.id
        WHERE r.model = 'mlp' AND r.status = 'done' AND t.predicted_slope IS NOT NULL")
v2=$(q "SELECT count(*) FROM runs WHERE model = 'mlp' AND status = 'done' AND norm = 'none' AND residual = 'no'")
v3=$(q "SELECT count(*) FROM theory t JOIN runs r ON r.id = t.run_id WHERE r.model IN ('lstm', 'gru')")
check "theory: a prediction for every mlp cell without norm or residuals ($v of $v2), no row for gated cells ($v3)" \
    '[ "$v2" -gt 0 ] && [ "$v" -eq "$v2" ] && [ "$v3" -eq 0 ]'
v=$(q "SELECT count(*) FROM theory t JOIN runs r ON r.id = t.run_id WHERE r.activation = 'relu'
        AND r.norm = 'none' AND abs(t.chi1 - r.sigma_w2 / 2) > 1e-12")
check "theory: relu's stored chi1 is sigma_w2 / 2 ($v differ)" '[ "$v" -eq 0 ]'
v=$(q "SELECT count(*) FROM theory t JOIN runs r ON r.id = t.run_id WHERE r.model = 'rnn'
        AND t.step_bound IS NOT NULL AND t.measured_slope <= t.step_bound + 0.01")
check "theory: the rnn cell's measured per-step slope is within Pascanu's bound ($v of 1)" '[ "$v" -eq 1 ]'

# ---- the per-layer training log ----
# its norm at step 1 is the measurement at init (the same gradient), to 1e-12
v=$(q "SELECT count(*) FROM train_layer_log t JOIN layer_stats l
         ON l.run_id = t.run_id AND l.step = 0 AND l.layer = t.layer
       WHERE t.step = 1 AND abs(t.grad_w_norm - l.grad_w_norm) <= 1e-12 * l.grad_w_norm")
nrows=$(q "SELECT count(*) FROM train_layer_log WHERE step = 1")
check "train_layer_log: ||dL/dW_l|| at step 1 equals layer_stats.grad_w_norm ($v of $nrows rows)" \
    '[ "$nrows" -gt 0 ] && [ "$v" -eq "$nrows" ]'
# SGD without clipping: the update is -lr g, so the ratio is lr ||g_l|| / ||W_l|| (1e-12)
v=$(q "SELECT count(*), sum(abs(t.update_ratio - r.lr * t.grad_w_norm / t.w_norm)
                            <= 1e-12 * t.update_ratio)
         FROM train_layer_log t JOIN runs r ON r.id = t.run_id
        WHERE r.optimizer = 'sgd' AND r.clip IS NULL AND r.status = 'done'")
check "train_layer_log: SGD's update ratio is lr ||dL/dW_l|| / ||W_l|| to 1e-12 ($v)" \
    '[ "${v%%|*}" -gt 0 ] && [ "${v%%|*}" = "${v#*|}" ]'
# clipping by norm scales every layer's update by grad_norm_clipped / grad_norm
v=$(q "SELECT count(*), sum(abs(t.update_ratio - r.lr * t.grad_w_norm / t.w_norm
                                  * g.grad_norm_clipped / g.grad_norm) <= 1e-10 * t.update_ratio)
         FROM train_layer_log t JOIN runs r ON r.id = t.run_id
         JOIN train_log g ON g.run_id = t.run_id AND g.step = t.step
        WHERE r.optimizer = 'sgd' AND r.clip IS NOT NULL AND r.clip_mode = 'norm' AND g.clipped = 1")
check "train_layer_log: a clipped SGD step's update ratio carries the clip's scale (1e-10) ($v)" \
    '[ "${v%%|*}" -gt 0 ] && [ "${v%%|*}" = "${v#*|}" ]'
v=$(q "SELECT count(*) FROM runs r WHERE r.task = 'train' AND r.status != 'failed' AND
         (SELECT count(*) FROM train_layer_log t WHERE t.run_id = r.id) !=
         (r.depth + 1) * (SELECT count(*) FROM train_log g WHERE g.run_id = r.id)")
check "train_layer_log: (depth + 1) rows per train_log step of every training run ($v runs differ)" \
    '[ "$v" -eq 0 ]'
v=$(q "SELECT count(*) FROM train_layer_log t JOIN runs r ON r.id = t.run_id
        WHERE r.model != 'mlp' AND t.layer <= r.depth AND (t.grad_h_first IS NULL OR t.grad_h_last IS NULL)")
v2=$(q "SELECT count(*) FROM train_layer_log t JOIN runs r ON r.id = t.run_id
        WHERE (r.model = 'mlp' OR t.layer = r.depth + 1) AND t.grad_h_first IS NOT NULL")
check "train_layer_log: ||dL/dh_1||, ||dL/dh_T|| on recurrent layers only ($v missing, $v2 extra)" \
    '[ "$v" -eq 0 ] && [ "$v2" -eq 0 ]'
v=$(q "SELECT count(*) FROM runs WHERE (task = 'train' AND status != 'failed') != (diagnosis_final IS NOT NULL)
          OR (status = 'diverged') != (diverged_layer IS NOT NULL AND diverged_tensor IS NOT NULL)
          OR (diverged_sublayer IS NOT NULL AND (model != 'transformer' OR status != 'diverged'))")
check "runs: diagnosis_final for every training run, diverged_layer and tensor only for diverged ones, diverged_sublayer only for diverged transformers ($v wrong)" \
    '[ "$v" -eq 0 ]'
v=$(q "SELECT count(*), count(DISTINCT config_hash) FROM runs")
check "runs: 30 cells, one row each ($v)" '[ "$v" = "30|30" ]'
v=$(q "SELECT count(*) FROM runs r WHERE model = 'mlp' AND (SELECT count(*) FROM layer_stats l WHERE l.run_id = r.id) != r.depth + 1")
check "layer_stats: one row per layer (depth+1) of every mlp cell at init" '[ "$v" -eq 0 ]'
v=$(q "SELECT count(*) FROM time_stats")
check "time_stats: seq_len rows for each of the 3 recurrent cells ($v)" '[ "$v" -eq 90 ]'
v=$(q "SELECT group_concat(step) FROM (SELECT step FROM train_log WHERE run_id = (SELECT min(id) FROM runs WHERE experiment = 'train') ORDER BY step)")
check "train_log: rows at steps 1, 25, 50, ..., 500 of a training cell" '[ "$v" = "1,25,50,75,100,125,150,175,200,225,250,275,300,325,350,375,400,425,450,475,500" ]'
v=$(q "SELECT group_concat(n) FROM (SELECT h.layer, count(*) || ':' || sum(count) AS n FROM histograms h JOIN runs r ON r.id = h.run_id WHERE r.experiment = 'depth' AND r.depth = 2 AND r.activation = 'tanh' AND r.init = 'he' GROUP BY h.layer ORDER BY h.layer)")
check "histograms: 30 bins per weight matrix summing to its size ($v)" '[ "$v" = "30:2304,30:2304,30:480" ]'
v=$(q "SELECT group_concat(activation || '/' || init || ':' || diagnosis) FROM (SELECT * FROM runs WHERE experiment = 'depth' AND depth = 12 AND ((activation = 'sigmoid' AND init = 'xavier') OR (activation = 'relu' AND init = 'he')) ORDER BY activation)")
check "the deck's contrast in the data: depth 12 sigmoid vanishes, relu/he does not ($v)" '[ "$v" = "relu/he:healthy,sigmoid/xavier:vanishing" ]'
st_out=$("$gs" status results/small.db)
check "status: per experiment done/diverged/failed/missing and diagnoses" \
    'printf "%s\n" "$st_out" | grep -Eq "^depth +18 +0 +0 +0 " && printf "%s\n" "$st_out" | grep -Eq "^total +30 +0 +0 +0 "'
fin=$(printf '%s\n' "$st_out" | awk '/^at the end of training/ { on = 1; next } on && $1 == "train" { print $2 + $3 + $4 + $5 }')
want=$(q "SELECT count(*) FROM runs WHERE experiment = 'train' AND diagnosis_final IS NOT NULL")
ch=$(printf '%s\n' "$st_out" | awk '/^at the end of training/ { on = 1; next } on && $1 == "train" { print $6 }')
wch=$(q "SELECT count(*) FROM runs WHERE experiment = 'train' AND diagnosis_final != diagnosis")
probes=$(printf '%s\n' "$st_out" | awk '/^at the end of training/ { on = 1; next } on && ($1 == "depth" || $1 == "recurrent")')
check "status: the diagnoses at the end of training, per training experiment ($fin of $want), how many changed ($ch of $wch), no probe rows" \
    '[ -n "$fin" ] && [ "$fin" = "$want" ] && [ "$ch" = "$wch" ] && [ -z "$probes" ]'
dump_rows results/small.db > ref.rows
# the columns of version 9 (issue 21: runs.output_change and the
# transformer's keys; the warmup key; issue 20's reduced precision: its
# keys, the run's final loss scale and skipped steps,
# train_layer_log.lost_update_frac, layer_stats' twin columns), and of
# version 8 (issue 18's held-out evaluation, issue 20's format_stats key)
# with them: what a database of version 8, or of 7 and before, lacks for
# the cells it stored
v9cols="output_change heads ffn vocab ln residual_scale skip mlp causal dropout qk_norm warmup
  precision loss_scale master_weights rounding loss_scale_final skipped_steps diverged_sublayer lost_update_frac
  twin_rel_err twin_cos"
v8cols="heldout_rows heldout_loss heldout_acc format_stats $v9cols"
dump_rows results/small.db $v9cols > ref-v8.rows   # as a database of version 8 has it
dump_rows results/small.db $v8cols > ref-v7.rows   # as a database of version 7 has it
dump_rows results/small.db work_bytes $v8cols > ref-v6.rows   # as a database of version 6 has it

# ---- export: every table and view as CSV with a header, or JSON lines ----
"$gs" export results/small.db runs > runs.csv; st=$?
"$gs" export results/small.db sweeps > sweeps.csv
"$gs" export results/small.db summary --json > summary.jsonl
v=$(python3 - <<'PY' 2>&1
import csv, json, sqlite3
db = sqlite3.connect("results/small.db")
rows = list(csv.DictReader(open("runs.csv", newline="")))
cols = [r[1] for r in db.execute("PRAGMA table_info(runs)")]
text = db.execute("SELECT config_text FROM sweeps").fetchone()[0]
sw = list(csv.DictReader(open("sweeps.csv", newline="")))
js = [json.loads(l) for l in open("summary.jsonl")]
ids = sorted(int(r["id"]) for r in rows) == sorted(i for (i,) in db.execute("SELECT id FROM runs"))
ratio = all(abs(float(r["grad_ratio"]) - g) <= 1e-15 * abs(g) for r in rows
            for (g,) in db.execute("SELECT grad_ratio FROM runs WHERE id = ?", (int(r["id"]),)) if g is not None)
print(len(rows), list(rows[0].keys()) == cols, ids, ratio, sw[0]["config_text"] == text, len(js),
      all(j["status"] in ("done", "diverged", "failed", "crashed") for j in js))
PY
)
check "export: runs as CSV (every column, every row, reals to 17 digits), the config text with its commas and newlines intact, the summary view as JSON lines (exit $st: $v)" \
    '[ $st -eq 0 ] && [ "$v" = "30 True True True True 30 True" ]'
msg=$("$gs" export results/small.db "runs; DROP TABLE runs" 2>&1 >/dev/null); st=$?
v=$(q "SELECT count(*) FROM runs")
check "export: a name that is no table or view exits 2 and lists those there are ($msg)" \
    '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "there are: block_stats, format_exponent_bins, format_exponents, format_stats, head_stats, histogram_counts, histograms, in_flight, layer_stats, loss_scale_window, runs" && [ "$v" -eq 30 ]'

# ---- resume: nothing left to do ----
"$gs" run "$small" 2>run2.err
check "rerun: all 30 stored, nothing to run" 'grep -q "30 stored already, 0 to run" run2.err'
check "rerun: rows unchanged" 'dump_rows results/small.db | cmp -s - ref.rows'

# ---- --fresh ----
"$gs" run "$small" --fresh --threads 2 2>fresh.err
check "--fresh says what it deleted and reruns everything (2 threads: same numbers)" \
    'grep -q "deleted the 30 stored cells in results/small.db" fresh.err && grep -q "0 stored already, 30 to run" fresh.err &&
     dump_rows results/small.db | cmp -s - ref.rows'

# ---- databases that are not ours ----
sqlite3 other.db "CREATE TABLE t(x); INSERT INTO t VALUES (1)"
msg=$("$gs" run "$small" --db other.db 2>&1); st=$?
v=$(db=other.db q "SELECT count(*) FROM t")
check "a database of another program is refused, untouched ($msg)" '[ $st -ne 0 ] && printf "%s" "$msg" | grep -q "not a gradsweep database" && [ "$v" -eq 1 ]'
printf 'not a database at all, just text\n%.0s' 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 > text.db
msg=$("$gs" run "$small" --db text.db 2>&1); st=$?
check "a file that is not SQLite is refused ($msg)" '[ $st -ne 0 ] && printf "%s" "$msg" | grep -Eq "not (an SQLite|a) database"'
cp results/small.db newer.db
sqlite3 newer.db "PRAGMA user_version = 99"
msg=$("$gs" run "$small" --db newer.db 2>&1); st=$?
check "a newer schema is refused ($msg)" '[ $st -ne 0 ] && printf "%s" "$msg" | grep -q "newer gradsweep (schema version 99"'
# one cell, all or nothing: a child insert that fails (an SQLite trigger
# refuses one cell's histograms) rolls that cell back alone; the run stops
# naming the database and the cause, the batch's other cells stay whole,
# and once the trigger is gone the rerun gives the reference rows
cp results/small.db half.db
sqlite3 half.db "DELETE FROM histogram_counts; DELETE FROM time_stats; DELETE FROM train_log;
  DELETE FROM train_layer_log; DELETE FROM layer_stats; DELETE FROM theory; DELETE FROM runs"
bad=$(q "SELECT id FROM runs WHERE experiment = 'depth' ORDER BY id LIMIT 1")
sqlite3 half.db "CREATE TRIGGER refuse BEFORE INSERT ON histogram_counts WHEN NEW.run_id = $bad
  BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
"$gs" run "$small" --db half.db --threads 1 >/dev/null 2>half.err; st=$?
v=$(sqlite3 half.db "PRAGMA integrity_check; SELECT count(*) FROM runs WHERE id = $bad;
  SELECT count(*) FROM layer_stats WHERE run_id = $bad;
  SELECT count(*) FROM runs r WHERE r.model = 'mlp' AND r.status != 'failed' AND
    (SELECT count(*) FROM layer_stats l WHERE l.run_id = r.id) != r.depth + 1")
check "a failing insert: exit $st, says where and why; the cell is not half stored, the others whole ($v)" \
    '[ $st -ne 0 ] && grep -q "half.db" half.err && grep -q "injected failure" half.err && [ "$v" = "ok
0
0
0" ]'
sqlite3 half.db "DROP TRIGGER refuse"
"$gs" run "$small" --db half.db --threads 1 >/dev/null 2>&1; st=$?
check "... and the rerun stores it: rows identical to the uninterrupted run (exit $st)" \
    '[ $st -eq 0 ] && dump_rows half.db | cmp -s - ref.rows'

# a version-1 database (no train_layer_log, runs without the columns of
# version 2): the report refuses it, saying how to upgrade; a run upgrades
# it in place, keeps its cells and stores nothing new
# (old_status: runs.status's CHECK list as versions 1-3 wrote it, without
# 'crashed'; the edit SQLite's ALTER TABLE page describes)
# (old_v7: without version 8's held-out columns;
# old_v6: histograms a row per bin, as version 6 and before stored them;
# old_v4: what version 5 added undone - grad_h_ratio, grad_h_ratio_final,
# data_seed, sweeps.seeding and 'dead' in the diagnoses' CHECK lists)
# what each schema version added, undone: a database as that version wrote it
old_v8="ALTER TABLE runs DROP COLUMN diverged_sublayer; ALTER TABLE runs DROP COLUMN skipped_steps; ALTER TABLE runs DROP COLUMN loss_scale_final;
  ALTER TABLE runs DROP COLUMN precision; ALTER TABLE runs DROP COLUMN loss_scale;
  ALTER TABLE runs DROP COLUMN master_weights; ALTER TABLE runs DROP COLUMN rounding;
  ALTER TABLE train_layer_log DROP COLUMN lost_update_frac; ALTER TABLE layer_stats DROP COLUMN twin_cos;
  ALTER TABLE layer_stats DROP COLUMN twin_rel_err;
  ALTER TABLE runs DROP COLUMN warmup; DROP TABLE block_stats; DROP TABLE head_stats; ALTER TABLE runs DROP COLUMN output_change;
  ALTER TABLE runs DROP COLUMN heads; ALTER TABLE runs DROP COLUMN ffn; ALTER TABLE runs DROP COLUMN vocab;
  ALTER TABLE runs DROP COLUMN ln; ALTER TABLE runs DROP COLUMN residual_scale;
  ALTER TABLE runs DROP COLUMN skip; ALTER TABLE runs DROP COLUMN mlp; ALTER TABLE runs DROP COLUMN causal;
  ALTER TABLE runs DROP COLUMN dropout; ALTER TABLE runs DROP COLUMN qk_norm;
  PRAGMA writable_schema = ON;
  UPDATE sqlite_schema SET sql = replace(sql, ', ''collapsed''))', '))') WHERE name = 'runs';
  PRAGMA writable_schema = OFF;"
old_v7="$old_v8 ALTER TABLE sweeps DROP COLUMN shard; ALTER TABLE sessions DROP COLUMN pid_start;
  ALTER TABLE runs DROP COLUMN heldout_rows; ALTER TABLE train_log DROP COLUMN heldout_loss;
  ALTER TABLE train_log DROP COLUMN heldout_acc; DROP VIEW loss_scale_window;
  DROP VIEW format_exponent_bins; DROP TABLE format_stats; DROP TABLE format_exponents;
  ALTER TABLE runs DROP COLUMN format_stats;"
old_v6="$old_v7 ALTER TABLE runs DROP COLUMN work_bytes; CREATE TABLE h6 (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  layer INTEGER NOT NULL, quantity TEXT NOT NULL, bin INTEGER NOT NULL, lo REAL NOT NULL,
  hi REAL NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (run_id, layer, quantity, bin)) WITHOUT ROWID;
  INSERT INTO h6 SELECT * FROM histograms; DROP VIEW histograms; DROP TABLE histogram_counts;
  ALTER TABLE h6 RENAME TO histograms;"
old_v5="$old_v6 PRAGMA writable_schema = ON;
  UPDATE sqlite_schema SET sql = replace(sql, ' ON DELETE CASCADE', '') WHERE type = 'table';
  PRAGMA writable_schema = OFF;"
old_v4="$old_v5 DROP VIEW summary; ALTER TABLE runs DROP COLUMN grad_h_ratio;
  ALTER TABLE runs DROP COLUMN grad_h_ratio_final; ALTER TABLE runs DROP COLUMN data_seed;
  ALTER TABLE sweeps DROP COLUMN seeding; PRAGMA writable_schema = ON;
  UPDATE sqlite_schema SET sql = replace(sql, ', ''dead''))', '))') WHERE name = 'runs';
  PRAGMA writable_schema = OFF;"
old_status="$old_v4 DROP TABLE in_flight; PRAGMA writable_schema = ON;
  UPDATE sqlite_schema SET sql = replace(sql, ', ''crashed''))', '))') WHERE name = 'runs';
  PRAGMA writable_schema = OFF;"
cp results/small.db v1.db
sqlite3 v1.db "$old_status DROP TABLE train_layer_log; DROP TABLE theory; ALTER TABLE runs DROP COLUMN spectrum;
  ALTER TABLE runs DROP COLUMN grad_ratio_final;
  ALTER TABLE runs DROP COLUMN diagnosis_final; ALTER TABLE runs DROP COLUMN diverged_layer;
  ALTER TABLE runs DROP COLUMN diverged_tensor; ALTER TABLE runs DROP COLUMN last_finite_grad_norm;
  PRAGMA user_version = 1"
msg=$("$gs" report v1.db -o v1rep 2>&1); st=$?
check "a version-1 database: the report says to upgrade it with a run ($msg)" \
    '[ $st -ne 0 ] && printf "%s" "$msg" | grep -q "older gradsweep (schema version 1.*upgrades it in place"'
"$gs" run "$small" --db v1.db --threads 1 >/dev/null 2>v1.err; st=$?
v=$(sqlite3 v1.db "PRAGMA user_version; SELECT count(*) FROM runs; SELECT count(*) FROM train_layer_log;
  SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'diagnosis_final';
  SELECT count(*) FROM sqlite_schema WHERE name = 'runs' AND sql LIKE '%''failed'', ''crashed''))%';
  SELECT count(*) FROM in_flight; PRAGMA integrity_check")
check "a version-1 database: a run upgrades it to version $ver (status may be crashed, in_flight added) and keeps its 30 cells ($st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "$ver
30
0
1
1
0
ok" ] && grep -q "30 stored already, 0 to run" v1.err'
# a version-2 database (before the theory table): upgraded by a run too
cp results/small.db v2.db
sqlite3 v2.db "$old_status DROP TABLE theory; ALTER TABLE runs DROP COLUMN spectrum; PRAGMA user_version = 2"
"$gs" run "$small" --db v2.db --threads 1 >/dev/null 2>&1; st=$?
v=$(sqlite3 v2.db "PRAGMA user_version; SELECT count(*) FROM runs; SELECT count(*) FROM theory")
check "a version-2 database: a run adds the theory table, keeps the cells ($st: $v)" \
    '[ $st -eq 0 ] && [ "$v" = "$ver
30
0" ]'
# a version-3 database (status without crashed, no in_flight): the same
cp results/small.db v3.db
sqlite3 v3.db "$old_status PRAGMA user_version = 3"
"$gs" run "$small" --db v3.db --threads 1 >/dev/null 2>&1; st=$?
v=$(sqlite3 v3.db "PRAGMA user_version; SELECT count(*) FROM runs;
  SELECT count(*) FROM sqlite_schema WHERE name = 'runs' AND sql LIKE '%''crashed''))%'; PRAGMA integrity_check")
check "a version-3 database: a run widens runs.status, keeps the cells ($st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "$ver
30
1
ok" ]'
# a version-4 database (diagnoses from the weight gradients, per-cell
# seeds): a run widens the diagnoses' lists, adds grad_h_ratio (NULL for
# the cells stored before) and keeps the database's per-cell seeding for
# the cells it computes now, so that its arms stay comparable; status says
# which seeding it uses
cp results/small.db v4.db
sqlite3 v4.db "$old_v4 PRAGMA user_version = 4"
sqlite3 v4.db "DELETE FROM layer_stats WHERE run_id IN (SELECT id FROM runs WHERE experiment = 'train');
  DELETE FROM train_log WHERE run_id IN (SELECT id FROM runs WHERE experiment = 'train');
  DELETE FROM train_layer_log WHERE run_id IN (SELECT id FROM runs WHERE experiment = 'train');
  DELETE FROM histograms WHERE run_id IN (SELECT id FROM runs WHERE experiment = 'train');
  DELETE FROM theory WHERE run_id IN (SELECT id FROM runs WHERE experiment = 'train');
  DELETE FROM runs WHERE experiment = 'train'"
"$gs" run "$small" --db v4.db --threads 1 >/dev/null 2>&1; st=$?
v=$(sqlite3 v4.db "PRAGMA user_version; SELECT count(*) FROM runs; SELECT seeding FROM sweeps;
  SELECT count(*) FROM sqlite_schema WHERE name = 'runs' AND sql LIKE '%''diverged'', ''dead'', ''collapsed''))%''diverged'', ''dead'', ''collapsed''))%';
  SELECT count(*) FROM runs WHERE experiment = 'train' AND grad_h_ratio IS NOT NULL;
  SELECT count(*) FROM runs WHERE experiment != 'train' AND grad_h_ratio IS NULL;
  SELECT count(DISTINCT seed) FROM runs WHERE experiment = 'train'; PRAGMA integrity_check")
ref_seeds=$(sqlite3 results/small.db "SELECT count(DISTINCT seed) FROM runs WHERE experiment = 'train'")
seeding=$("$gs" status v4.db | sed -n 's/^seeds: \([a-z_]*\).*/\1/p')
check "a version-4 database: widened to 'dead' (and version 9's 'collapsed'), grad_h_ratio added, its per-cell seeding kept for the 8 cells run now: one seed each, against $ref_seeds paired ($st: $(echo $v); status: $seeding)" \
    '[ $st -eq 0 ] && [ "$v" = "$ver
30
per_cell
1
8
22
8
ok" ] && [ "$ref_seeds" -eq 2 ] && [ "$seeding" = per_cell ]'
seeding=$("$gs" status results/small.db | sed -n 's/^seeds: \([a-z_]*\).*/\1/p')
check "a new database pairs its arms (status: $seeding)" '[ "$seeding" = paired ]'

# ---- foreign keys: a cell's rows go with its runs row (schema version 6) ----
v=$(q "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%REFERENCES runs(id) ON DELETE CASCADE%'")
check "schema 6: the 10 tables of a cell's rows reference runs(id) ON DELETE CASCADE ($v)" '[ "$v" -eq 10 ]'
# a version-5 database (no cascade) whose runs row was deleted by hand in
# the sqlite3 shell (foreign keys off there): its rows were orphaned, and
# every later run failed on layer_stats' UNIQUE constraint. The upgrade
# rebuilds the tables (SQLite's 12-step procedure) without the orphans.
cp results/small.db v5.db
sqlite3 v5.db "$old_v5 PRAGMA user_version = 5"
gone=$(db=v5.db q "SELECT id FROM runs WHERE experiment = 'train' ORDER BY id LIMIT 1")
sqlite3 v5.db "DELETE FROM runs WHERE id = $gone"
orph=$(db=v5.db q "SELECT count(*) FROM layer_stats WHERE run_id = $gone")
"$gs" run "$small" --db v5.db --threads 1 >/dev/null 2>v5.err; st=$?
v=$(sqlite3 v5.db "PRAGMA user_version; PRAGMA foreign_key_check; PRAGMA integrity_check;
  SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%ON DELETE CASCADE%' AND name NOT LIKE 'format%'")
check "a version-5 database with a hand-deleted run ($orph orphaned rows): upgraded to $ver, foreign_key_check empty, integrity ok, the cell rerun (exit $st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$orph" -gt 0 ] && [ "$v" = "$ver
ok
8" ] && grep -q "29 stored already, 1 to run" v5.err && dump_rows v5.db work_bytes $v8cols | cmp -s - ref-v6.rows'
# a version-6 database (no work_bytes): a run adds the column, NULL for the
# cells stored before, and fills it for the cells it computes
cp results/small.db v6.db
sqlite3 v6.db "$old_v6 PRAGMA user_version = 6; PRAGMA foreign_keys = ON;
  DELETE FROM runs WHERE experiment = 'train'"
"$gs" run "$small" --db v6.db --threads 1 >/dev/null 2>&1; st=$?
v=$(sqlite3 v6.db "PRAGMA user_version; SELECT count(*) FROM runs WHERE work_bytes > 0;
  SELECT count(*) FROM runs WHERE work_bytes IS NULL; PRAGMA integrity_check")
check "a version-6 database: work_bytes added, NULL for the 22 cells stored before, filled for the 8 run now ($st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "$ver
8
22
ok" ]'
# a version-8 database (no block_stats, runs.output_change, transformer
# keys or 'collapsed'): a run adds them, NULL for the cells stored, widens
# the diagnoses' CHECK lists and reruns nothing
cp results/small.db v8.db
sqlite3 v8.db "$old_v8 PRAGMA user_version = 8"
"$gs" run "$small" --db v8.db --threads 1 >/dev/null 2>v8.err; st=$?
v=$(sqlite3 v8.db "PRAGMA user_version; SELECT count(*) FROM sqlite_schema WHERE name = 'block_stats';
  SELECT count(*) FROM pragma_table_info('runs') WHERE name IN ('output_change', 'heads', 'ln', 'causal');
  SELECT count(*) FROM sqlite_schema WHERE name = 'runs'
    AND sql LIKE '%diagnosis IN (%''dead'', ''collapsed''))%diagnosis_final IN (%''dead'', ''collapsed''))%';
  SELECT count(*) FROM runs WHERE output_change IS NOT NULL OR heads IS NOT NULL; PRAGMA integrity_check")
check "a version-8 database: upgraded to $ver with block_stats, output_change, the transformer keys and 'collapsed' in both diagnoses' lists, nothing rerun (exit $st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "$ver
1
4
1
0
ok" ] && grep -q "30 stored already, 0 to run" v8.err && dump_rows v8.db $v9cols | cmp -s - ref-v8.rows'
sqlite3 v8.db "UPDATE runs SET diagnosis = 'collapsed' WHERE id = (SELECT min(id) FROM runs)" 2>/dev/null; st=$?
check "... and the widened list takes 'collapsed' (exit $st)" '[ $st -eq 0 ]'
# a version-7 database (no sessions.pid_start): a run adds the column, NULL
# for the sessions before, its own start time for the new one
cp results/small.db v7.db
sqlite3 v7.db "$old_v7 PRAGMA user_version = 7"
"$gs" run "$small" --db v7.db --threads 1 >/dev/null 2>&1; st=$?
v=$(sqlite3 v7.db "PRAGMA user_version; SELECT count(*) FROM sessions WHERE pid_start IS NULL;
  SELECT count(*) FROM sessions WHERE pid_start > 0; PRAGMA integrity_check")
n_sess=$(sqlite3 results/small.db "SELECT count(*) FROM sessions")
check "a version-7 database: sessions.pid_start added, NULL for its $n_sess sessions, set for the new one ($st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "$ver
$n_sess
1
ok" ] && dump_rows v7.db $v8cols | cmp -s - ref-v7.rows'
# version 6: deleting the runs row with foreign keys on takes its rows along
cp results/small.db fk.db
sqlite3 fk.db "PRAGMA foreign_keys = ON; DELETE FROM runs WHERE id = $gone"
v=$(sqlite3 fk.db "SELECT count(*) FROM layer_stats WHERE run_id = $gone; PRAGMA foreign_key_check")
"$gs" run "$small" --db fk.db --threads 1 >/dev/null 2>fk.err; st=$?
check "a run deleted with foreign keys on takes its rows along ($v left); the rerun recomputes it (exit $st)" \
    '[ "$v" = 0 ] && [ $st -eq 0 ] && grep -q "29 stored already, 1 to run" fk.err && dump_rows fk.db | cmp -s - ref.rows'
# and deleted with them off (the sqlite3 shell's default): the rerun still
# recomputes it, replacing the orphans, and leaves no violation
cp results/small.db fkoff.db
sqlite3 fkoff.db "DELETE FROM runs WHERE id = $gone"
"$gs" run "$small" --db fkoff.db --threads 1 >/dev/null 2>&1; st=$?
v=$(sqlite3 fkoff.db "PRAGMA foreign_key_check; PRAGMA integrity_check")
check "a run deleted with foreign keys off: the rerun replaces its orphans (exit $st, $v)" \
    '[ $st -eq 0 ] && [ "$v" = ok ] && dump_rows fkoff.db | cmp -s - ref.rows'

# a version-8 database (before the warmup key): a run adds runs.warmup,
# NULL (no warm-up) for the cells stored before, reruns none of them (the
# key is in the canonical key only when set) and keeps every other column
cp results/small.db v8.db
sqlite3 v8.db "$old_v8 PRAGMA user_version = 8"
"$gs" run "$small" --db v8.db --threads 1 >/dev/null 2>v8.err; st=$?
v=$(sqlite3 v8.db "PRAGMA user_version; SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'warmup';
  SELECT count(*) FROM runs WHERE warmup IS NOT NULL; PRAGMA integrity_check")
check "a version-8 database: upgraded to $ver, runs.warmup added as NULL, nothing rerun (exit $st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "$ver
1
0
ok" ] && grep -q "30 stored already, 0 to run" v8.err && dump_rows v8.db $v9cols | cmp -s - ref-v8.rows'

# ---- shards: sweeps.shard (schema version 8) ----
# a version-7 database has no sweeps.shard: a run adds it, NULL (the
# whole sweep), and resumes with the rows it had
cp results/small.db v7.db
sqlite3 v7.db "$old_v7 PRAGMA user_version = 7"
"$gs" run "$small" --db v7.db --threads 1 >/dev/null 2>v7.err; st=$?
v=$(sqlite3 v7.db "PRAGMA user_version; SELECT count(*) FROM pragma_table_info('sweeps') WHERE name = 'shard';
  SELECT quote(shard) FROM sweeps; PRAGMA integrity_check")
check "a version-7 database: upgraded to $ver, sweeps.shard added as NULL, nothing rerun (exit $st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "$ver
1
NULL
ok" ] && grep -q "30 stored already, 0 to run" v7.err && dump_rows v7.db $v8cols | cmp -s - ref-v7.rows'

# ---- reduced precision (schema version 9) ----
# a version-8 database: a run adds the keys precision, loss_scale,
# master_weights and rounding, runs.loss_scale_final and skipped_steps and
# train_layer_log.lost_update_frac and layer_stats' twin_rel_err and
# twin_cos, NULL for the cells stored before
# (float64, no scale), and reruns nothing: the cells' keys are unchanged
cp results/small.db v8.db
sqlite3 v8.db "$old_v8 PRAGMA user_version = 8"
"$gs" run "$small" --db v8.db --threads 1 >/dev/null 2>v8.err; st=$?
v=$(sqlite3 v8.db "PRAGMA user_version; SELECT count(*) FROM pragma_table_info('runs') WHERE name IN
  ('precision', 'loss_scale', 'master_weights', 'rounding', 'loss_scale_final', 'skipped_steps',
   'diverged_sublayer');
  SELECT count(*) FROM pragma_table_info('train_layer_log') WHERE name = 'lost_update_frac';
  SELECT count(*) FROM pragma_table_info('layer_stats') WHERE name IN ('twin_rel_err', 'twin_cos');
  SELECT count(*) FROM runs WHERE precision IS NOT NULL OR skipped_steps IS NOT NULL;
  PRAGMA integrity_check")
check "a version-8 database: upgraded to $ver, version 9's 10 columns added, NULL for its 30 cells, nothing rerun (exit $st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "$ver
7
1
2
0
ok" ] && grep -q "30 stored already, 0 to run" v8.err && dump_rows v8.db $v9cols | cmp -s - ref-v8.rows'

# ---- histograms: one row a histogram (schema version 7) ----
# a version-6 database holds a row per bin: a run turns each histogram
# into one row (edges and a JSON array of counts), and the histograms view
# gives back the rows it had, bit for bit (edges included: quote())
hist_rows() {
    sqlite3 "$1" "SELECT run_id, layer, quantity, bin, quote(lo), quote(hi), count, typeof(bin),
      typeof(count) FROM histograms ORDER BY 1, 2, 3, 4"
}
hist_rows results/small.db > ref.hist
cp results/small.db v6.db
sqlite3 v6.db "$old_v6 PRAGMA user_version = 6"
v6rows=$(db=v6.db q "SELECT count(*) FROM histograms; SELECT type FROM sqlite_schema WHERE name = 'histograms'")
"$gs" run "$small" --db v6.db --threads 1 >/dev/null 2>v6.err; st=$?
v=$(sqlite3 v6.db "PRAGMA user_version; SELECT type FROM sqlite_schema WHERE name = 'histograms';
  SELECT count(*) FROM histogram_counts; SELECT count(*) FROM histogram_counts WHERE json_array_length(counts) != 30;
  PRAGMA foreign_key_check; PRAGMA integrity_check")
want=$(q "SELECT count(*) FROM histogram_counts")
check "a version-6 database ($(echo $v6rows)): upgraded to $ver, its histograms one row each ($st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "$ver
view
$want
0
ok" ] && [ "$want" -gt 0 ] && grep -q "30 stored already, 0 to run" v6.err'
check "... and the histograms view gives the rows version 6 stored, edges bit for bit" \
    'hist_rows v6.db | cmp -s - ref.hist && [ "$(wc -l < ref.hist)" -eq "${v6rows%%[!0-9]*}" ] &&
     dump_rows v6.db work_bytes $v8cols | cmp -s - ref-v6.rows'
# a version-7 database (before the held-out evaluation): a run adds
# runs.heldout_rows and train_log's heldout_loss and heldout_acc, NULL for
# the cells stored before; a training cell deleted and run again gets them
cp results/small.db v7.db
sqlite3 v7.db "$old_v7 PRAGMA user_version = 7"
"$gs" run "$small" --db v7.db --threads 1 >/dev/null 2>v7.err; st=$?
v=$(sqlite3 v7.db "PRAGMA user_version; SELECT count(*) FROM pragma_table_info('train_log')
  WHERE name IN ('heldout_loss', 'heldout_acc'); SELECT count(*) FROM train_log WHERE heldout_loss
  IS NOT NULL OR heldout_acc IS NOT NULL; SELECT count(*) FROM runs WHERE heldout_rows IS NOT NULL;
  PRAGMA integrity_check")
check "a version-7 database: upgraded to $ver, the held-out columns added, NULL for its 30 cells ($st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "$ver
2
0
0
ok" ] && grep -q "30 stored already, 0 to run" v7.err && dump_rows v7.db $v8cols | cmp -s - ref-v7.rows'
tid=$(q "SELECT id FROM runs WHERE task = 'train' AND dataset = 'digits' LIMIT 1")
sqlite3 v7.db "PRAGMA foreign_keys = ON; DELETE FROM runs WHERE id = $tid"
"$gs" run "$small" --db v7.db --threads 1 >/dev/null 2>v7b.err; st=$?
v=$(sqlite3 v7.db "SELECT count(*) FROM runs WHERE heldout_rows IS NOT NULL;
  SELECT count(DISTINCT run_id) FROM train_log WHERE heldout_loss IS NOT NULL")
check "... a training cell run again there gets its held-out rows, the others stay NULL, every row as a fresh run's ($st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "1
1" ] && grep -q "29 stored already, 1 to run" v7b.err &&
     dump_rows v7.db | grep "^$tid|" | cmp -s - "$(grep "^$tid|" ref.rows > tid.rows; echo tid.rows)" &&
     [ -s tid.rows ] && dump_rows v7.db $v8cols | cmp -s - ref-v7.rows'
# a database of version 6 or 7 whose runs row was deleted in the sqlite3
# shell (foreign keys off): those versions kept the orphaned rows until
# the cell was stored again; the upgrade, which checks every foreign key,
# drops them first (version 7's were refused until it did)
# orphan_upgrade VERSION RECIPE REFERENCE [COLUMN...]: the columns left out
orphan_upgrade() {
    orph_v=$1 o=v$1orph.db recipe=$2 ref=$3
    shift 3
    cols="$*"
    cp results/small.db $o
    sqlite3 $o "$recipe PRAGMA user_version = $orph_v; DELETE FROM runs WHERE id = $gone"
    "$gs" run "$small" --db $o --threads 1 >/dev/null 2>$o.err; st=$?
    v=$(sqlite3 $o "PRAGMA user_version; PRAGMA foreign_key_check; PRAGMA integrity_check")
    check "a version-$orph_v database with a run deleted by hand: upgraded, its orphans dropped, the cell rerun (exit $st: $(echo $v))" \
        '[ $st -eq 0 ] && [ "$v" = "$ver
ok" ] && grep -q "29 stored already, 1 to run" $o.err && dump_rows $o $cols | cmp -s - $ref'
}
orphan_upgrade 6 "$old_v6" ref-v6.rows work_bytes $v8cols
orphan_upgrade 7 "$old_v7" ref-v7.rows $v8cols
# a histogram whose bins are not 0..29 (a row deleted by hand) cannot be
# one array: the upgrade is refused, and the database left as it was
cp results/small.db v6bad.db
sqlite3 v6bad.db "$old_v6 PRAGMA user_version = 6; DELETE FROM histograms WHERE (run_id, layer, quantity, bin) IN
  (SELECT run_id, layer, quantity, 3 FROM histograms LIMIT 1)"
"$gs" run "$small" --db v6bad.db --threads 1 >/dev/null 2>v6bad.err; st=$?
v=$(sqlite3 v6bad.db "PRAGMA user_version; SELECT type FROM sqlite_schema WHERE name = 'histograms';
  SELECT count(*) FROM histograms")
check "a version-6 database with a bin deleted by hand: the upgrade is refused, nothing changed (exit $st: $(echo $v))" \
    '[ $st -ne 0 ] && grep -q "bins are not 0, 1, 2" v6bad.err && [ "$v" = "6
table
$(( ${v6rows%%[!0-9]*} - 1 ))" ]'
# ---- another sweep's database: refused whole, or replaced whole with --fresh ----
msg=$("$gs" run "$cfg_dir/bad.ini" --db results/small.db 2>&1)
sed 's/^name = small/name = other/' "$small" > other.ini
cp results/small.db theirs.db
msg=$("$gs" run other.ini --db theirs.db 2>&1); st=$?
check "a database of another sweep is refused, exit 2, saying what --fresh would delete ($msg)" \
    '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "holds sweep .small. (30 stored cells), not .other.; nothing was changed" &&
     printf "%s" "$msg" | grep -q "fresh would delete those 30 cells and sweep .small. for good"'
check "... and every row is intact" 'dump_rows theirs.db | cmp -s - ref.rows'
pl=$("$gs" plan other.ini --db theirs.db); st=$?
check "plan names the sweep the database holds (exit $st)" \
    '[ $st -eq 0 ] && printf "%s" "$pl" | grep -q "theirs.db holds sweep .small. (30 stored cells), not .other."'
# --fresh used to delete every row and then refuse with the same message
"$gs" run other.ini --db theirs.db --fresh --threads 1 >/dev/null 2>theirs.err; st=$?
v=$(sqlite3 theirs.db "SELECT name FROM sweeps; SELECT count(*) FROM runs; SELECT count(*) FROM sessions;
  PRAGMA foreign_key_check; PRAGMA integrity_check")
check "--fresh on another sweep's database replaces that sweep whole: sweeps row, sessions, cells (exit $st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "other
30
1
ok" ] && grep -q "deleted sweep .small. and its 30 stored cells from theirs.db" theirs.err'
# plan's stored count: stored_of's 0 (success) was read as "no database"
pl=$("$gs" plan "$small")
check "plan: the true stored count of a complete database" \
    'printf "%s" "$pl" | grep -q "results/small.db holds 30 of them (sweep .small.); 0 to run"'

# ---- the run lock, SIGTERM and SIGINT ----
# one long training cell keeps a run alive for as long as these checks need
cat > long.ini <<'INI'
[sweep]
name = long
[long]
task = train
depth = 4
width = 64
steps = 200000
INI
# wait_for DB SQL: until the query prints something other than 0 (10 s at most)
wait_for() {
    i=0
    while [ $i -lt 100 ] && [ "$(sqlite3 "$1" "$2" 2>/dev/null || echo 0)" = 0 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}
rm -f lock.db*
"$gs" run long.ini --db lock.db --threads 1 2>lock1.err &
bg=$!
wait_for lock.db "SELECT count(*) FROM sessions WHERE status = 'running'"
msg=$("$gs" run long.ini --db lock.db 2>&1); st=$?
check "a second run on a database being written is refused, naming host and pid ($msg)" \
    '[ $st -ne 0 ] && printf "%s" "$msg" | grep -q "a run is writing this database (host $(hostname), pid $bg)"'
kill -TERM $bg
wait $bg; st=$?
bg=
v=$(db=lock.db q "PRAGMA integrity_check"; db=lock.db q "SELECT status FROM sessions")
check "SIGTERM: says how to resume, exits 130, the session marked interrupted (exit $st)" \
    '[ $st -eq 130 ] && grep -q "interrupted by SIGTERM" lock1.err && grep -q "rerun the same command to resume" lock1.err &&
     [ "$v" = "ok
interrupted" ]'
"$gs" run long.ini --db int.db --threads 1 2>int.err &
bg=$!
wait_for int.db "SELECT count(*) FROM sessions WHERE status = 'running'"
kill -INT $bg
wait $bg; st=$?
bg=
check "SIGINT exits 130 (exit $st)" '[ $st -eq 130 ] && grep -q "interrupted by SIGINT" int.err'
# SIGTERM in the middle of a sweep keeps what arrived; the rerun completes it
# (each cell made 0.1 s longer, so that the 30 cells outlast the timers)
GRADSWEEP_TEST_CELL_DELAY=0.1 "$gs" run "$small" --db term.db --threads 1 2>term.err &
bg=$!
wait_for term.db "SELECT count(*) FROM runs"
kill -TERM $bg
wait $bg; st=$?
bg=
n_kept=$(db=term.db q "SELECT count(*) FROM runs")
"$gs" run "$small" --db term.db 2>term2.err
v=$(db=term.db q "SELECT count(*) FROM in_flight")
check "SIGTERM mid-sweep: exit 130 with $n_kept cells kept, in_flight cleared ($v); the rerun completes, identical to an uninterrupted run" \
    '[ $st -eq 130 ] && [ "$v" -eq 0 ] && [ "$n_kept" -ge 1 ] && grep -q "$n_kept stored already" term2.err && dump_rows term.db | cmp -s - ref.rows'

# ---- kill -9 at random moments: three runs, each killed once, then resumed ----
tap_seed
for round in 1 2 3; do
    rm -f kill$round.db*
    kill_at_random $((seed + round)) 0.6 2.0 env GRADSWEEP_TEST_CELL_DELAY=0.1 "$gs" run "$small" \
        --db kill$round.db --threads 1
    kept=$(db=kill$round.db q "SELECT count(*) FROM runs" 2>/dev/null)
    v=$(db=kill$round.db q "PRAGMA integrity_check" 2>/dev/null)
    "$gs" run "$small" --db kill$round.db 2>kill$round.err
    sessions=$(db=kill$round.db q "SELECT group_concat(status) FROM sessions")
    total=$(db=kill$round.db q "SELECT count(*) || '|' || count(DISTINCT config_hash) FROM runs")
    check "kill -9 after ${delay}s ($kept cells stored): integrity ok; the rerun takes over the stale lock ($sessions), completes with no duplicates ($total) and the same rows" \
        '[ "$v" = ok ] && grep -q "done:" kill$round.err && printf "%s" "$sessions" | grep -Eq "^(crashed,)?done$" &&
         [ "$total" = "30|30" ] && dump_rows kill$round.db | cmp -s - ref.rows'
done

# ---- a cell that fails is stored as failed; the sweep goes on ----
GRADSWEEP_DATA_DIR=/nonexistent "$gs" run "$small" --db failed.db 2>failed.err; st=$?
v=$(db=failed.db q "SELECT group_concat(experiment || ':' || status || ':' || (error LIKE '%cannot open the digits data%')) FROM runs WHERE status != 'done'"; db=failed.db q "SELECT count(*) FROM runs WHERE status = 'done'")
check "failed cells: stored with status failed and their error, the rest done; exit 3 (exit $st)" '[ $st -eq 3 ] && [ "$v" = "digits:failed:1
29" ] && grep -q "1 cell of the config is stored as failed or crashed" failed.err &&
  grep -q -- "--retry" failed.err'
st_out=$("$gs" status failed.db); st=$?
check "status counts the failed cell, lists it with its error text, exit 3 ($st)" \
    '[ $st -eq 3 ] && printf "%s\n" "$st_out" | grep -Eq "^digits +0 +0 +1 +0" &&
     printf "%s\n" "$st_out" | grep -Eq "^  [0-9a-f]{16} \[digits\] failed: .*cannot open the digits data"'
"$gs" run "$small" --db failed.db 2>failed2.err; st=$?
check "a rerun without --retry runs nothing and still exits 3 ($st)" \
    '[ $st -eq 3 ] && grep -q "30 stored already, 0 to run" failed2.err'
"$gs" run "$small" --db failed.db --retry --threads 1 2>retry.err; st=$?
v=$(db=failed.db q "SELECT count(*) FROM runs WHERE status IN ('failed', 'crashed'); PRAGMA foreign_key_check")
check "--retry reruns the failed cell: exit 0, no failed rows, rows identical to the reference ($st, $v)" \
    '[ $st -eq 0 ] && [ "$v" = 0 ] && grep -q "1 failed or crashed cell to run again" retry.err &&
     grep -q "29 stored already, 1 to run" retry.err && dump_rows failed.db | cmp -s - ref.rows'

# ---- --experiment: a subset of the experiments, for plan and run ----
pl=$("$gs" plan "$small" --db sub.db --experiment train --experiment digits)
check "plan --experiment: only those experiments and their total" \
    '! printf "%s" "$pl" | grep -q "^\[depth\]" && printf "%s" "$pl" | grep -q "^total: 9 cells" &&
     printf "%s" "$pl" | grep -q "sub.db does not exist yet: all 9 cells to run"'
msg=$("$gs" run "$small" --db sub.db --experiment nope 2>&1); st=$?
check "run --experiment with an unknown name: exit 2, the experiments there are, no database ($msg)" \
    '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "there are: depth, train, digits, recurrent" && [ ! -e sub.db ]'
"$gs" run "$small" --db sub.db --experiment recurrent --threads 1 2>sub.err; st=$?
v=$(db=sub.db q "SELECT group_concat(DISTINCT experiment) || ' ' || count(*) FROM runs")
"$gs" run "$small" --db sub.db --threads 1 2>sub2.err
check "run --experiment recurrent stores its 3 cells only ($st: $v); the whole run then completes the rest, the rows identical" \
    '[ $st -eq 0 ] && [ "$v" = "recurrent 3" ] && grep -q "3 cells of the experiments chosen" sub.err &&
     grep -q "3 stored already, 27 to run" sub2.err && dump_rows sub.db | cmp -s - ref.rows'

# ---- orphans: cells the config no longer has are named, then pruned ----
cp results/small.db orph.db
sed 's/^depth = 2, 6, 12$/depth = 2, 6/' "$small" > fewer.ini
"$gs" run fewer.ini --db orph.db 2>orph.err; st=$?
check "run names the 6 stored cells the config no longer has (exit $st)" \
    '[ $st -eq 0 ] && grep -q "6 stored cells are not in the config" orph.err && grep -q "gradsweep prune" orph.err'
sqlite3 orph.db "UPDATE sweeps SET config_text = readfile('fewer.ini')" 2>/dev/null ||
    sqlite3 orph.db "UPDATE sweeps SET config_text = '$(sed "s/'/''/g" fewer.ini)'"
st_out=$("$gs" status orph.db); st=$?
check "status names them too ($st)" '[ $st -eq 0 ] && printf "%s" "$st_out" | grep -q "6 stored cells are not in the config any more"'
pr=$("$gs" prune fewer.ini --db orph.db); st=$?
v=$(sqlite3 orph.db "SELECT count(*) FROM runs; SELECT count(*) FROM layer_stats WHERE run_id NOT IN (SELECT id FROM runs);
  PRAGMA foreign_key_check; PRAGMA integrity_check")
check "prune deletes them with their rows, says how many and that only a backup undoes it ($st: $pr; $(echo $v))" \
    '[ $st -eq 0 ] && printf "%s" "$pr" | grep -q "pruned 6 stored cells" && printf "%s" "$pr" | grep -q "backup" &&
     [ "$v" = "24
0
ok" ]'
msg=$("$gs" prune other.ini --db orph.db 2>&1); st=$?
v=$(sqlite3 orph.db "SELECT count(*) FROM runs")
check "prune with another sweep's config deletes nothing, exit 2 ($msg)" '[ $st -eq 2 ] && [ "$v" -eq 24 ]'
# ---- the seed sweep's clipping experiment shows what the deck claims ----
# its [sweep] and [clipping] sections, run as they are but for one repeat
# (the report's findings test the seeds): an unclipped run diverges (or
# ends worse than a clipped one); where it diverged agrees with its
# train_log (the log's last step, non-finite there)
awk '/^\[/ { keep = ($0 == "[sweep]" || $0 == "[clipping]") } keep && !/^repeats *=/' \
    "$cfg_dir/../../configs/seed.ini" > clip.ini
"$gs" run clip.ini --db clip.db --threads 1 2>clip.err; st=$?
v=$(sqlite3 clip.db "SELECT count(*) FROM runs u WHERE u.clip IS NULL AND (u.status = 'diverged' OR
       u.train_loss > (SELECT min(c.train_loss) FROM runs c WHERE c.clip IS NOT NULL))")
nc=$(sqlite3 clip.db "SELECT count(*) FROM runs WHERE clip IS NOT NULL AND status = 'done'")
check "seed [clipping]: the unclipped run diverges or ends worse than a clipped one, $nc clipped runs train (exit $st)" \
    '[ $st -eq 0 ] && [ "$v" -ge 1 ] && [ "$nc" -ge 1 ]'
v=$(sqlite3 clip.db "SELECT count(*) FROM runs r WHERE r.status = 'diverged' AND
       (r.diverged_step != (SELECT max(step) FROM train_log g WHERE g.run_id = r.id) OR
        r.diverged_layer NOT BETWEEN 1 AND r.depth + 1 OR r.diverged_tensor IS NULL OR
        (SELECT loss IS NOT NULL AND grad_norm IS NOT NULL FROM train_log g
          WHERE g.run_id = r.id AND g.step = r.diverged_step))")
d=$(sqlite3 clip.db "SELECT group_concat(diverged_step || ':' || diverged_layer || ':' || diverged_tensor)
       FROM runs WHERE status = 'diverged'")
check "seed [clipping]: each diverged run names a layer and the step train_log ends at, non-finite there ($d)" \
    '[ -n "$d" ] && [ "$v" -eq 0 ]'
# ---- show: one run, by id or config-hash prefix ----
dv=$(sqlite3 clip.db "SELECT config_hash || ' ' || diverged_step || ' ' || diverged_layer || ' ' || diverged_tensor || ' ' || depth
       FROM runs WHERE status = 'diverged' LIMIT 1")
read -r d_hash d_step d_layer d_tensor d_depth <<EOF
$dv
EOF
out=$("$gs" show clip.db "$(printf %.8s "$d_hash")"); st=$?
spark=$(printf '%s\n' "$out" | awk '/^\|\|dL\/dW_l\|\| over training/ { on = 1; getline; next } on && NF == 4' | wc -l)
check "show: a diverged run by an 8-digit hash prefix: its status, where it diverged, the loss curve and one sparkline per layer ($st; $spark lines)" \
    '[ $st -eq 0 ] && printf "%s\n" "$out" | grep -q "^status  *diverged" && printf "%s\n" "$out" | grep -q "^diverged_step  *$d_step$" &&
     printf "%s\n" "$out" | grep -q "^diverged_layer  *$d_layer$" && printf "%s\n" "$out" | grep -q "^diverged_tensor  *$d_tensor$" &&
     printf "%s\n" "$out" | grep -q "^training (train_log)" && [ "$spark" -eq $((d_depth + 1)) ]'
id=$(sqlite3 clip.db "SELECT id FROM runs WHERE config_hash = '$d_hash'")
out=$("$gs" show clip.db "$id" --csv); st=$?
want=$(sqlite3 clip.db "SELECT count(*) FROM train_log WHERE run_id = $id")
got=$(printf '%s\n' "$out" | awk '/^step,loss,/ { on = 1; next } on && NF' | wc -l)
check "show --csv by runs.id: the runs row and the loss curve, every row ($st; $got of $want)" \
    '[ $st -eq 0 ] && printf "%s\n" "$out" | grep -q "^config_hash,experiment," && [ "$got" -eq "$want" ]'
msg=$("$gs" show clip.db ffffffffffffffff0 2>&1); st=$?
check "show: no such run exits 2 ($msg)" '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "no run"'
finish
