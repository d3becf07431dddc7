#!/bin/sh
# Reduced precision stored (issue 20): the keys, runs.loss_scale_final and
# skipped_steps, train_layer_log.lost_update_frac and layer_stats'
# twin_rel_err and twin_cos, set for the reduced-precision cells and NULL
# for the float64 one; the same rows from 1, 2 and 3 MPI ranks (the
# stochastic rounding's draws are the cell's own); bad input refused with
# exit 2; the report's lost-update and twin-error charts and findings
# recomputed from the rows, and neither from a database without the columns.
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

# ---- the report: lost updates and the float64 twin's error (charts_lowprec_train.c,
# findings_lowprec_train.c), every number recomputed here from the rows ----
"$gs" report pr.db -o rep >/dev/null 2>rep.err; st=$?
check "report: exit 0, the lost-update chart for the training, twin-error charts for probe and train, none for float64 ($st)" \
    '[ $st -eq 0 ] && [ -s rep/charts/train-lost-updates.png ] && [ -s rep/charts/train-twin-error.png ] &&
     [ -s rep/charts/probe-twin-error.png ] && [ ! -e rep/charts/probe-lost-updates.png ] &&
     [ ! -e rep/charts/float64-lost-updates.png ] && [ ! -e rep/charts/float64-twin-error.png ]'
sqlite3 pr.db ".backup rx.db"
rq() { sqlite3 -batch rx.db "$1" 2>>rsql.err; }
# the runs' words, written here from the keys: format, where the weights
# are kept, the rounding (training), the loss scale
rq "CREATE TABLE f(finding INTEGER, id TEXT, kind TEXT, experiment TEXT, where_keys TEXT, versus TEXT,
      verdict TEXT, value REAL, value2 REAL, yes INTEGER, no INTEGER, stat TEXT, runs TEXT, chart TEXT, text TEXT);
    CREATE TABLE words AS SELECT id AS run, experiment, depth, precision || CASE WHEN task = 'train' THEN
        ', weights in ' || CASE master_weights WHEN 'same' THEN precision ELSE master_weights END ||
        CASE rounding WHEN 'stochastic' THEN ', stochastic rounding' ELSE ', round to nearest' END ELSE '' END ||
        CASE loss_scale WHEN 'none' THEN ', no loss scale' WHEN 'dynamic' THEN ', dynamic loss scale' ELSE ', loss scale ' || loss_scale END AS w
      FROM runs WHERE precision != 'float64';
    CREATE TABLE lost AS SELECT l.run_id AS run, l.step, avg(l.lost_update_frac) AS v FROM train_layer_log l
      JOIN runs r ON r.id = l.run_id WHERE l.layer <= r.depth GROUP BY l.run_id, l.step HAVING count(l.lost_update_frac) > 0;
    CREATE TABLE lostrun AS SELECT run, avg(v) AS mean, (SELECT v FROM lost b WHERE b.run = a.run ORDER BY step DESC LIMIT 1) AS last
      FROM lost a GROUP BY run;
    CREATE TABLE twin AS SELECT s.run_id AS run, r.depth, s.layer, s.twin_rel_err AS v FROM layer_stats s
      JOIN runs r ON r.id = s.run_id WHERE s.step = 0 AND s.layer <= r.depth AND s.twin_rel_err IS NOT NULL;
    CREATE TABLE fit AS SELECT run, count(*) AS n, sum(k) AS sx, sum(y) AS sy, sum(k * k) AS sxx, sum(k * y) AS sxy FROM
      (SELECT run, depth - layer + 1.0 AS k, ln(v) AS y FROM twin WHERE v > 0 AND v < 1) GROUP BY run;
    CREATE TABLE want_twin AS SELECT w.run, w.experiment, w.depth,
      coalesce((SELECT w.depth + 1 - max(layer) FROM twin t WHERE t.run = w.run AND t.v > 0.01), 0) AS o1,
      coalesce((SELECT w.depth + 1 - max(layer) FROM twin t WHERE t.run = w.run AND t.v > 0.1), 0) AS o10,
      CASE WHEN fit.n >= 2 THEN exp((fit.n * fit.sxy - fit.sx * fit.sy) / (fit.n * fit.sxx - fit.sx * fit.sx)) END AS g,
      coalesce(fit.n, 0) AS n
      FROM words w LEFT JOIN fit ON fit.run = w.run WHERE w.run IN (SELECT run FROM twin)"
sqlite3 rx.db ".import --csv --skip 1 rep/findings.csv f" 2>>rsql.err
for csv in train-lost-updates probe-twin-error train-twin-error; do
    rq "CREATE TABLE \"$csv\"(series TEXT, x REAL, y REAL)"
    sqlite3 rx.db ".import --csv --skip 1 rep/charts/$csv.csv \"$csv\"" 2>>rsql.err
done
# every point of the lost-update chart is its run's mean over the hidden
# layers at that step, and every such mean is drawn
v=$(rq "SELECT count(*) || ' ' || sum(l.v IS NULL OR abs(c.y - l.v) > 1e-12) FROM \"train-lost-updates\" c
        LEFT JOIN words w ON w.w = c.series AND w.experiment = 'train' LEFT JOIN lost l ON l.run = w.run AND l.step = c.x")
nl=$(rq "SELECT count(*) FROM lost")
check "report: the lost-update chart's points are avg(lost_update_frac) over layers 1..depth per step, its lines named in words ($v of $nl)" \
    '[ "$v" = "$nl 0" ] && [ "$nl" -gt 0 ]'
bad=$(rq "SELECT f.id FROM f JOIN words w ON w.run = CAST(f.runs AS INTEGER) LEFT JOIN lostrun l ON l.run = w.run
          WHERE f.stat = 'lost_updates' AND (l.run IS NULL OR abs(f.value - l.mean) > 1e-12 OR abs(f.value2 - l.last) > 1e-12
            OR instr(f.text, w.w || ' loses ' || printf('%.2f%% (%.2f%%)', 100 * l.mean, 100 * l.last)) = 0)")
nf=$(rq "SELECT count(*) FROM f WHERE stat = 'lost_updates'")
ex=$(rq "SELECT group_concat(w.precision || ' ' || printf('%.2f%%', 100 * l.mean), ', ') FROM lostrun l JOIN runs w ON w.id = l.run")
check "findings: per configuration the mean share of updates lost and the last step's, in the sentence ($ex; $nf facts; ${bad:-all})" \
    '[ -z "$bad" ] && [ "$nf" -eq "$(rq "SELECT count(*) FROM lostrun")" ] && [ "$nf" -eq 2 ]'
cap=$(grep -o "Per logged training step, the share[^<]*" rep/index.html | head -n 1)
bad=$(rq "SELECT w.w FROM lostrun l JOIN words w ON w.run = l.run" | while IFS= read -r w; do
          m=$(rq "SELECT printf('%.2f%%', 100 * l.mean) FROM lostrun l JOIN words w ON w.run = l.run WHERE w.w = '$w'")
          printf '%s' "$cap" | grep -qF " $w $m" || echo "$w"; done)
check "report: the lost-update caption gives each configuration's mean (${bad:-all})" '[ -n "$cap" ] && [ -z "$bad" ]'
# the twin charts: every point a twin_rel_err row; the findings' layers and growth
v=$(rq "SELECT count(*) || ' ' || sum(t.v IS NULL OR abs(c.y - t.v) > 1e-12) FROM
          (SELECT 'probe' AS e, * FROM \"probe-twin-error\" WHERE series != '1% and 10%' UNION ALL
           SELECT 'train', * FROM \"train-twin-error\" WHERE series != '1% and 10%') c
        LEFT JOIN words w ON w.w = c.series AND w.experiment = c.e LEFT JOIN twin t ON t.run = w.run AND t.layer = c.x")
nt=$(rq "SELECT count(*) FROM twin t JOIN runs r ON r.id = t.run WHERE r.experiment IN ('probe', 'train')")
thr=$(rq "SELECT group_concat(y, ' ') FROM (SELECT y FROM \"probe-twin-error\" WHERE series = '1% and 10%' UNION ALL
          SELECT y FROM \"train-twin-error\" WHERE series = '1% and 10%')")
check "report: the twin-error charts' points are layer_stats.twin_rel_err at step 0, beside the 1% and 10% lines ($v of $nt; $thr)" \
    '[ "$v" = "$nt 0" ] && [ "$nt" -gt 0 ] && [ "$thr" = "0.01 0.1 0.01 0.1" ]'
bad=$(rq "SELECT f.id FROM f JOIN want_twin t ON t.run = CAST(f.runs AS INTEGER) WHERE
          (f.stat = 'twin_over_1' AND (f.value != t.o1 OR (t.o1 > 0 AND f.value2 != t.depth + 1 - t.o1)))
       OR (f.stat = 'twin_over_10' AND (f.value != t.o10 OR (t.o10 > 0 AND f.value2 != t.depth + 1 - t.o10)))
       OR (f.stat = 'twin_growth' AND (f.value2 != t.n OR (t.g IS NULL AND f.value != '') OR abs(f.value - t.g) > 1e-9 * t.g))")
nf=$(rq "SELECT count(*) FROM f WHERE stat IN ('twin_over_1', 'twin_over_10', 'twin_growth')")
unscaled=$(rq "SELECT o1 || '/' || o10 || ' x' || printf('%.3g', g) FROM want_twin t JOIN runs r ON r.id = t.run
               WHERE r.experiment = 'probe' AND r.loss_scale = 'none'")
check "findings: per configuration the first layer from the output off by > 1% / 10% and the growth per layer, as the rows give them (float16 unscaled: $unscaled; $nf facts; ${bad:-all})" \
    '[ -z "$bad" ] && [ "$nf" -eq "$(rq "SELECT 3 * count(*) FROM want_twin")" ] && [ "$nf" -eq 12 ]'
bad=$(rq "SELECT f.id FROM f JOIN want_twin t ON t.run = CAST(f.runs AS INTEGER) JOIN words w ON w.run = t.run
          WHERE f.stat = 'twin_growth' AND instr(f.text, w.w || ':' ||
            CASE WHEN t.o1 = 0 THEN ' none' ELSE ' ' || t.o1 END) = 0")
check "findings: the twin sentence names each configuration in words with its layers (${bad:-all})" '[ -z "$bad" ]'
check "report: no query of these checks failed" '[ ! -s rsql.err ]'
# the edge: one hidden layer of width 2 - a line of one point, no growth to fit,
# the format's own weights losing every update and float32 masters none (a
# linear axis: a share of 0 has no log)
printf '[sweep]\nname = edge\nseed = 7\n\n[edge]\ntask = train\ndepth = 1\nwidth = 2\nbatch = 4\nsteps = 4\nlog_every = 2\noptimizer = sgd\nlr = 0.001\nprecision = bfloat16\nmaster_weights = same, float32\n' > edge.ini
"$gs" run edge.ini --db edge.db --threads 1 2>edge.err && "$gs" report edge.db -o erep >/dev/null 2>>edge.err; st=$?
want=$(sqlite3 edge.db "SELECT r.master_weights || ':' || (SELECT avg(v) FROM (SELECT avg(l.lost_update_frac) AS v
          FROM train_layer_log l WHERE l.run_id = r.id AND l.layer <= r.depth GROUP BY l.step)) FROM runs r ORDER BY r.master_weights" | tr '\n' ' ')
got=$(awk -F, 'NR > 1 && $2 ~ /lost_updates/ { print ($8 + 0) }' erep/findings.csv | tr '\n' ' ')
g=$(awk -F, 'NR > 1 && $2 ~ /twin_growth/ { print $8 "|" $9 }' erep/findings.csv | tr '\n' ' ')
pts=$(grep -c '^"bfloat16' erep/charts/edge-twin-error.csv)
check "report, depth 1 width 2: lost shares as the rows give them ($want; facts $got), one twin point a configuration ($pts), no growth fitted ($g), linear axis said ($st)" \
    '[ $st -eq 0 ] && [ "$want" = "float32:0.0 same:1.0 " ] && [ "$got" = "1 0 " ] && [ "$pts" = 2 ] && [ "$g" = "|1 |1 " ] &&
     grep -q "no growth measured (1 layer with" erep/index.html && grep -q "on a linear scale (some share is 0)" erep/index.html'

# a database without these columns: neither chart, no error
cp pr.db old.db
sqlite3 old.db "ALTER TABLE train_layer_log DROP COLUMN lost_update_frac; ALTER TABLE layer_stats DROP COLUMN twin_cos;
  ALTER TABLE layer_stats DROP COLUMN twin_rel_err"
"$gs" report old.db -o orep >/dev/null 2>orep.err; st=$?
check "report of a database without lost_update_frac and twin_rel_err: exit 0, no error, neither chart nor finding ($st)" \
    '[ $st -eq 0 ] && [ ! -s orep.err ] && [ -s orep/index.html ] && ! ls orep/charts | grep -qE "lost-updates|twin-error" &&
     ! grep -qE "lost_updates|twin_" orep/findings.csv'

# ---- bad input ----
msg=$("$gs" probe model=transformer width=8 heads=2 seq_len=4 precision=bfloat16 2>&1); st=$?
check "precision=bfloat16 with model=transformer: runs (exit $st)" '[ $st -eq 0 ]'
msg=$("$gs" probe model=gru width=8 seq_len=5 precision=bfloat16 2>&1); st=$?
check "precision=bfloat16 with model=gru: runs (exit $st)" '[ $st -eq 0 ]'
msg=$("$gs" train loss_scale=dynamic 2>&1); st=$?
check "loss_scale without a precision: exit 2 and what to set ($msg)" \
    '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "set precision"'
msg=$("$gs" probe precision=float8 2>&1); st=$?
check "precision=float8: exit 2 naming the values ($msg)" \
    '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "float64, float32, bfloat16, float16, e5m2, e4m3"'
finish
