#!/bin/sh
# Every finding and every claim of a report agrees with the stored rows it
# summarizes. The report writes findings.csv beside index.html: one row per
# fact of a sentence (which runs, the verdict, the key number). This test
# recomputes each fact from the database with its own SQL - the diagnosis
# from the layer statistics the gradient-flow chart draws, not from the
# stored verdict; medians, separations and sign tests in SQL and awk - and
# compares. Also: a diverged run is named in no ranking, a dead network is
# called dead, "at every depth" is only said of a whole line, every finding
# is on the page, every link of the page lands on an anchor, no table cell
# reads "nan".
#
# tests/configs/claims.ini gives most claims a case in a few seconds; run
# the same on the seed database by hand: tests/findings.sh DB REPORT_DIR.
. "${top_srcdir:-.}/tests/sweep_lib.sh"
. "${top_srcdir:-.}/tests/tfreport_lib.sh"
cd "$work" || exit 1

if ! db_rep_args "$@"; then
    "$gs" run "$cfg_dir/claims.ini" --db c.db --threads 1 2>run.err; st=$?
    check "the claims test sweep runs (exit $st)" '[ $st -eq 0 ]'
    "$gs" report c.db -o rep >/dev/null 2>rep.err; st=$?
    check "its report is written, with findings.csv (exit $st)" '[ $st -eq 0 ] && [ -s rep/findings.csv ]'
    db=c.db
    rep=rep
fi

# A copy of the database (WAL folded in) with findings.csv as table f, its runs fr.
facts_db "$db" "$rep" || exit 1
tf_views x.db || exit 1
# Every query's error lands in sql.err, which the last check reads.
q() { sqlite3 -batch -noheader x.db "$1" 2>>sql.err; }

# Views: usable runs with the diagnosis recomputed from the stored layer
# statistics (mlp: ||dL/dh_1|| / ||dL/dh_depth|| at step 0, dead when a
# hidden layer's gradient is 0 or its units all dead; recurrent: the top
# layer's ||dL/dh_t|| at t = 1 over t = T); each fact's runs and keys.
sqlite3 x.db <<'SQL' || exit 1
CREATE TABLE h AS
SELECT r.*, CASE
    WHEN r.model = 'transformer' AND EXISTS (SELECT 1 FROM block_stats b WHERE b.run_id = r.id AND b.step = 0
         AND b.sublayer = 'block' AND b.grad_x_norm = 0) THEN 1
    WHEN r.model = 'mlp' AND EXISTS (SELECT 1 FROM layer_stats l WHERE l.run_id = r.id AND l.step = 0
         AND l.layer BETWEEN 1 AND r.depth AND (l.grad_pre_norm = 0 OR l.dead_frac = 1)) THEN 1
    WHEN r.model != 'mlp' AND EXISTS (SELECT 1 FROM time_stats t WHERE t.run_id = r.id AND t.step = 0
         AND t.t IN (1, r.seq_len) AND t.grad_hidden_norm = 0) THEN 1
    ELSE 0 END AS dead,
  CASE WHEN r.model = 'transformer' THEN
         (SELECT grad_x_norm FROM block_stats WHERE run_id = r.id AND step = 0 AND sublayer = 'block' AND layer = 1) /
         (SELECT grad_x_norm FROM block_stats WHERE run_id = r.id AND step = 0 AND sublayer = 'block' AND layer = r.depth)
       WHEN r.model = 'mlp' AND r.depth = 1 THEN 1.0
       WHEN r.model = 'mlp' THEN
         (SELECT grad_pre_norm FROM layer_stats WHERE run_id = r.id AND step = 0 AND layer = 1) /
         (SELECT grad_pre_norm FROM layer_stats WHERE run_id = r.id AND step = 0 AND layer = r.depth)
       ELSE (SELECT grad_hidden_norm FROM time_stats WHERE run_id = r.id AND step = 0 AND t = 1) /
            (SELECT grad_hidden_norm FROM time_stats WHERE run_id = r.id AND step = 0 AND t = r.seq_len)
  END AS ratio0,
  r.model = 'transformer' AND (SELECT rank_residual FROM block_stats WHERE run_id = r.id AND step = 0
    AND sublayer = 'block' AND layer = r.depth) < 1e-3 AS collapsed
FROM runs r WHERE r.status IN ('done', 'diverged');
CREATE TABLE u AS
SELECT h.*, CASE WHEN dead THEN NULL ELSE ratio0 END AS ratio,
  CASE WHEN dead THEN 'dead' WHEN collapsed THEN 'collapsed' WHEN ratio0 IS NULL THEN 'diverged'
       WHEN ratio0 < (SELECT vanishing_below FROM sweeps) THEN 'vanishing'
       WHEN ratio0 > (SELECT exploding_above FROM sweeps) THEN 'exploding'
       ELSE 'healthy' END AS diag
FROM h;
CREATE TABLE fk AS
WITH RECURSIVE s(id, side, rest, pair) AS (
  SELECT id, 'where', where_keys || ';', NULL FROM f WHERE where_keys != ''
  UNION ALL SELECT id, 'versus', versus || ';', NULL FROM f WHERE versus != ''
  UNION ALL SELECT id, side, substr(rest, instr(rest, ';') + 1), substr(rest, 1, instr(rest, ';') - 1)
  FROM s WHERE rest != '')
SELECT id, side, pair FROM s WHERE pair IS NOT NULL;
SQL
# A key at its default is left out of canonical_key (keys_if_set): such a
# pair is read from the runs column of that name instead.
kv=$(q "SELECT DISTINCT substr(pair, 1, instr(pair, '=') - 1) FROM fk" | while read -r k; do
        printf "UNION ALL SELECT id, '%s', CAST(\"%s\" AS TEXT) FROM runs " "$k" "$k"; done)
sqlite3 x.db <<SQL || exit 1
CREATE TABLE kv AS SELECT * FROM (SELECT NULL AS id, NULL AS k, NULL AS v WHERE 0 $kv);
CREATE INDEX kv_id ON kv(id, k);
-- the runs of a fact's group (side where or versus): its experiment, every key=value
CREATE TABLE g AS
SELECT f.id AS fid, sd.side, u.* FROM f JOIN (SELECT 'where' AS side UNION ALL SELECT 'versus') sd JOIN u
  ON u.experiment = f.experiment
 WHERE (sd.side = 'where' OR f.versus != '')
   AND NOT EXISTS (SELECT 1 FROM fk WHERE fk.id = f.id AND fk.side = sd.side
                     AND instr(';' || u.canonical_key || ';', ';' || fk.pair || ';') = 0
                     AND (instr(';' || u.canonical_key, ';' || substr(fk.pair, 1, instr(fk.pair, '=')))
                          OR NOT EXISTS (SELECT 1 FROM kv WHERE kv.id = u.id
                                           AND kv.k || '=' || kv.v = fk.pair)));
CREATE INDEX g_fid ON g(fid, side);
CREATE INDEX fr_id ON fr(id);
SQL

n_facts=$(q "SELECT count(*) FROM f")
check "findings.csv lists facts ($n_facts) of every kind the sweep has" '[ "$n_facts" -gt 20 ]'
check "every fact names its runs by stored ids" \
    '[ "$(q "SELECT count(*) FROM fr WHERE run NOT IN (SELECT id FROM runs)")" -eq 0 ]'
close() { printf 'abs((%s) - (%s)) <= 1e-9 * max(abs(%s), 1e-300)' "$1" "$2" "$2"; }

# ---- diag: the runs of a group with a diagnosis, exactly ----
bad=$(q "SELECT f.id FROM f JOIN fr USING (id) JOIN u ON u.id = fr.run
          WHERE f.kind = 'diag' AND u.diag != f.verdict LIMIT 3")
check "diag: every run a finding names has that diagnosis, recomputed from layer_stats (${bad:-all})" '[ -z "$bad" ]'
bad=$(q "SELECT DISTINCT f.id FROM f JOIN g ON g.fid = f.id AND g.side = 'where'
          WHERE f.kind = 'diag' AND g.diag = f.verdict
            AND NOT EXISTS (SELECT 1 FROM fr WHERE fr.id = f.id AND fr.run = g.id) LIMIT 3")
check "diag: no run of the group with that diagnosis is left out (${bad:-none})" '[ -z "$bad" ]'
bad=$(q "SELECT f.id FROM f JOIN (SELECT fr.id, min(u.ratio) lo, max(u.ratio) hi FROM fr JOIN u ON u.id = fr.run GROUP BY fr.id) m
          USING (id) WHERE f.kind = 'diag' AND f.verdict IN ('healthy', 'vanishing', 'exploding')
            AND NOT ($(close f.value m.lo) AND $(close f.value2 m.hi)) LIMIT 3")
check "diag: each key number is the min/max grad_h_ratio of its runs (${bad:-all})" '[ -z "$bad" ]'
bad=$(q "SELECT f.id FROM f WHERE f.kind = 'diag' AND f.text LIKE '%' || f.verdict || ' at every depth%'
            AND (SELECT count(*) FROM g WHERE g.fid = f.id AND g.side = 'where') !=
                (SELECT count(*) FROM fr WHERE fr.id = f.id) LIMIT 3")
check "\"<diagnosis> at every depth\" is said only when every stored run of that line has it (${bad:-all})" '[ -z "$bad" ]'
bad=$(q "SELECT u.id FROM u WHERE u.diag = 'dead' AND u.id NOT IN
          (SELECT fr.run FROM f JOIN fr USING (id) WHERE f.kind = 'diag' AND f.verdict = 'dead')
          UNION ALL SELECT r.id FROM runs r WHERE r.diagnosis_final = 'dead' AND r.status = 'done'
            AND r.diagnosis != 'dead' AND r.id NOT IN
          (SELECT fr.run FROM f JOIN fr USING (id) WHERE f.kind = 'change' AND f.verdict LIKE '%>dead'
              AND f.text LIKE '%dead by step%') LIMIT 3")
n_dead=$(q "SELECT count(*) FROM u WHERE diag = 'dead'")
check "a dead network is called dead, at init ($n_dead) and at the end of training (${bad:-all})" '[ -z "$bad" ]'
bad=$(q "SELECT u.id FROM u WHERE u.diag != u.diagnosis LIMIT 3")
check "the stored diagnosis is the one recomputed from layer_stats (${bad:-all})" '[ -z "$bad" ]'

# ---- every fact its own id (a ranking's rank.N and a transformer's
# relative residual once shared theirs, and the checks mixed them) ----
bad=$(q "SELECT id || ' x' || count(*) FROM f GROUP BY id HAVING count(*) > 1 LIMIT 3")
check "every fact's id is its own (${bad:-all unique})" '[ -z "$bad" ]'

# ---- divergence: named with its step, never ranked ----
bad=$(q "SELECT f.id FROM f JOIN fr USING (id) JOIN runs r ON r.id = fr.run WHERE f.kind = 'diverged'
          AND NOT (r.status = 'diverged' AND r.diverged_step = CAST(f.value AS INTEGER)
                   AND r.test_acc IS NULL AND r.test_loss IS NULL AND r.train_loss IS NULL) LIMIT 3")
n_div=$(q "SELECT count(*) FROM u WHERE status = 'diverged'")
check "diverged: the run diverged at that step and reports no loss or accuracy (${bad:-all})" '[ -z "$bad" ]'
bad=$(q "SELECT id FROM u WHERE status = 'diverged' AND id NOT IN
          (SELECT fr.run FROM f JOIN fr USING (id) WHERE f.kind = 'diverged') LIMIT 3")
check "every diverged run ($n_div) is named as diverged (${bad:-all})" '[ -z "$bad" ]'
bad=$(q "SELECT DISTINCT f.id FROM f JOIN fr USING (id) JOIN runs r ON r.id = fr.run
          WHERE f.kind = 'rank' AND r.status = 'diverged'
          UNION SELECT DISTINCT f.id FROM f JOIN g ON g.fid = f.id WHERE f.kind = 'rank' AND g.status = 'diverged'")
check "a diverged run is named in no ranking (${bad:-none})" '[ -z "$bad" ]'

# ---- rank: medians, and separation by every repeat or the sign test ----
# per rank fact: higher-better, n and extremes of each side, wins/losses by repeat
q "WITH s AS (SELECT g.fid AS id, g.side, g.repeat, CASE f.stat WHEN 'test_acc' THEN g.test_acc ELSE g.test_loss END v,
                     f.stat = 'test_acc' hb FROM f JOIN g ON g.fid = f.id WHERE f.kind = 'rank'),
      m AS (SELECT id, side, v, row_number() OVER (PARTITION BY id, side ORDER BY v) k,
                   count(*) OVER (PARTITION BY id, side) c FROM s WHERE v IS NOT NULL),
      med AS (SELECT id, side, avg(v) med FROM m WHERE k IN ((c + 1) / 2, (c + 2) / 2) GROUP BY id, side)
   SELECT f.id, f.verdict, a.hb,
          (SELECT count(v) FROM s WHERE s.id = f.id AND side = 'where'), (SELECT count(v) FROM s WHERE s.id = f.id AND side = 'versus'),
          (SELECT min(v) FROM s WHERE s.id = f.id AND side = 'where'), (SELECT max(v) FROM s WHERE s.id = f.id AND side = 'where'),
          (SELECT min(v) FROM s WHERE s.id = f.id AND side = 'versus'), (SELECT max(v) FROM s WHERE s.id = f.id AND side = 'versus'),
          (SELECT count(*) FROM s x JOIN s y ON x.id = y.id AND x.repeat = y.repeat WHERE x.id = f.id AND x.side = 'where' AND y.side = 'versus'
             AND ((x.hb AND x.v > y.v) OR (NOT x.hb AND x.v < y.v))),
          (SELECT count(*) FROM s x JOIN s y ON x.id = y.id AND x.repeat = y.repeat WHERE x.id = f.id AND x.side = 'where' AND y.side = 'versus'
             AND ((x.hb AND x.v < y.v) OR (NOT x.hb AND x.v > y.v))),
          $(close f.value "(SELECT med FROM med WHERE med.id = f.id AND side = 'where')") AND
          $(close f.value2 "(SELECT med FROM med WHERE med.id = f.id AND side = 'versus')")
     FROM f JOIN (SELECT DISTINCT id, hb FROM s) a USING (id) WHERE f.kind = 'rank'" > rank.txt
n_rank=$(grep -c . rank.txt)
n_rank_facts=$(q "SELECT count(*) FROM f WHERE kind = 'rank'")
# the expected verdict: fewer than 3 values a side: too few seeds; every repeat
# of one beyond every repeat of the other; else the two-sided sign test at 5%
bad=$(awk -F'|' '
function sign_p(w, l,   n, k, p, t, i) { n = w + l; k = w < l ? w : l; if (n == 0) return 1
    t = 0.5 ^ n; p = 0; for (i = 0; i <= k; i++) { p += t; t *= (n - i) / (i + 1) } return 2 * p > 1 ? 1 : 2 * p }
{ id = $1; got = $2; hb = $3; na = $4; nb = $5; amin = $6; amax = $7; bmin = $8; bmax = $9; w = $10; l = $11
  n = na < nb ? na : nb
  if (n < 3) want = "too few seeds"
  else if (hb ? amin > bmax : amax < bmin) want = "better"
  else if (hb ? bmin > amax : bmax < amin) want = "worse"
  else if (sign_p(w, l) <= 0.05) want = w > l ? "better" : "worse"
  else want = "not told apart"
  if (want != got || $12 != 1) print id " (" got ", want " want ")" }' rank.txt | head -3)
check "rank: each comparison's verdict and medians recomputed ($n_rank of $n_rank_facts comparisons; ${bad:-all agree})" \
    '[ -z "$bad" ] && [ "$n_rank" -eq "$n_rank_facts" ]'
bad=$(q "SELECT id FROM f WHERE kind = 'rank' AND verdict IN ('better', 'not told apart', 'too few seeds')
          AND ((stat = 'test_acc' AND CAST(value AS REAL) < CAST(value2 AS REAL)) OR (stat = 'test_loss' AND CAST(value AS REAL) > CAST(value2 AS REAL))) LIMIT 3")
check "rank: a ranking goes from the best median down (${bad:-all})" '[ -z "$bad" ]'
bad=$(q "SELECT f.id FROM f WHERE f.kind = 'rank' AND f.verdict = 'too few seeds' AND f.text NOT LIKE '%none is ranked%'
          UNION ALL SELECT f.id FROM f WHERE f.kind = 'rank' AND f.verdict != 'too few seeds' AND f.text LIKE '%none is ranked%' LIMIT 3")
check "rank: on fewer than 3 seeds the text ranks nothing and says so (${bad:-all})" '[ -z "$bad" ]'

# ---- means, baselines, theory, values, changes ----
bad=$(q "SELECT f.id FROM f JOIN (SELECT fr.id, avg(r.clip_fraction) m FROM fr JOIN runs r ON r.id = fr.run GROUP BY fr.id) a
          USING (id) WHERE f.kind = 'mean' AND NOT $(close f.value a.m)
          UNION ALL SELECT f.id FROM f WHERE f.kind = 'mean' AND
            (SELECT count(*) FROM g WHERE g.fid = f.id AND g.side = 'where' AND g.clip_fraction IS NOT NULL) !=
            (SELECT count(*) FROM fr WHERE fr.id = f.id) LIMIT 3")
check "mean: clipping's share of steps is the mean over every run of that threshold (${bad:-all})" '[ -z "$bad" ]'
bad=$(q "SELECT f.id FROM f WHERE f.kind = 'baseline' AND (
            CAST(f.value2 AS INTEGER) != (SELECT count(*) FROM g WHERE g.fid = f.id AND g.side = 'where' AND g.status = 'done'
                                            AND g.test_loss < 0.5 * g.baseline_loss)
         OR f.verdict != CASE (SELECT count(*) FROM g WHERE g.fid = f.id AND g.side = 'where' AND g.status = 'done' AND g.test_loss < 0.5 * g.baseline_loss)
                           WHEN 0 THEN 'did not learn'
                           WHEN (SELECT count(*) FROM g WHERE g.fid = f.id AND g.side = 'where' AND g.status = 'done' AND g.test_loss IS NOT NULL) THEN 'learned'
                           ELSE 'some' END) LIMIT 3")
check "baseline: which adding runs beat half the always-1 baseline (${bad:-all})" '[ -z "$bad" ]'
bad=$(q "SELECT f.id FROM f WHERE f.kind = 'theory' AND (
            CAST(f.value AS INTEGER) != (SELECT count(*) FROM fr JOIN theory t ON t.run_id = fr.run WHERE fr.id = f.id
                                          AND abs(t.measured_slope - t.predicted_slope) <= 0.03)
         OR CAST(f.value2 AS INTEGER) != (SELECT count(*) FROM u JOIN theory t ON t.run_id = u.id WHERE u.experiment = f.experiment
                                          AND t.measured_slope IS NOT NULL AND t.predicted_slope IS NOT NULL)) LIMIT 3")
check "theory: the runs following mean-field theory within 0.03 per layer, counted (${bad:-all})" '[ -z "$bad" ]'
bad=$(q "SELECT f.id FROM f JOIN fr USING (id) JOIN u ON u.id = fr.run LEFT JOIN theory t ON t.run_id = u.id
          WHERE f.kind = 'value' AND NOT CASE f.stat
            WHEN 'grad_h_ratio' THEN $(close f.value u.ratio)
            WHEN 'residual_growth_measured' THEN $(close f.value t.residual_growth_measured)
            WHEN 'condition' THEN (f.value = 'inf' AND (t.condition IS NULL OR t.condition > 1e308)) OR $(close f.value t.condition)
            WHEN 'attn_entropy' THEN f.value = (SELECT min(h.attn_entropy) FROM head_stats h WHERE h.run_id = u.id
                                                  AND h.step = (SELECT max(step) FROM head_stats WHERE run_id = u.id))
            ELSE f.stat IN ($tf_stats) END LIMIT 3")
check "value: each run's number as stored (grad_h_ratio recomputed) (${bad:-all})" '[ -z "$bad" ]'
# the spectrum table's share of singular values below the SVD floor
# sigma_max * max(width, inputs) * eps: histogram bins centred below it,
# and the zeros the histogram does not bin
bad=$(q "SELECT f.id FROM f JOIN fr USING (id) JOIN u ON u.id = fr.run JOIN theory t ON t.run_id = u.id
          WHERE f.kind = 'value' AND f.stat = 'condition' AND NOT $(close f.value2 "(
            (SELECT total(CASE WHEN (h.lo + h.hi) / 2 < log10(sqrt(t.sv2_max) * max(u.width, CASE WHEN u.input_dim > 0 THEN u.input_dim ELSE u.width END) * 2.220446049250313e-16)
                          THEN h.count ELSE 0 END) FROM histograms h WHERE h.run_id = u.id AND h.layer = 0 AND h.quantity = 'jacobian_log10_sv')
             + max(0, min(u.width, CASE WHEN u.input_dim > 0 THEN u.input_dim ELSE u.width END)
                      - (SELECT total(count) FROM histograms h WHERE h.run_id = u.id AND h.layer = 0 AND h.quantity = 'jacobian_log10_sv')))
            / min(u.width, CASE WHEN u.input_dim > 0 THEN u.input_dim ELSE u.width END)") LIMIT 3")
n_spec=$(q "SELECT count(*) FROM f WHERE kind = 'value' AND stat = 'condition'")
check "spectrum: each run's share of singular values below the SVD floor recomputed from its histogram ($n_spec runs; ${bad:-all})" '[ -z "$bad" ]'
bad=$(q "SELECT f.id FROM f JOIN fr USING (id) JOIN runs r ON r.id = fr.run WHERE f.kind = 'change'
          AND NOT (r.diagnosis || '>' || r.diagnosis_final = f.verdict AND r.status = 'done') LIMIT 3")
bad2=$(q "SELECT id FROM u WHERE status = 'done' AND diagnosis_final IS NOT NULL AND diagnosis_final != '' AND diagnosis_final != diagnosis
           AND id NOT IN (SELECT fr.run FROM f JOIN fr USING (id) WHERE f.kind = 'change') LIMIT 3")
check "change: each change of diagnosis during training, and all of them (${bad:-all}${bad2:+; missing $bad2})" '[ -z "$bad$bad2" ]'

# ---- the claims: every part recomputed ----
cols="model task dataset depth width seq_len input_dim activation init forget_bias gain bias_std norm residual spectrum optimizer lr batch steps log_every clip clip_mode"
# two runs a, b of one experiment and repeat, differing only in key $1
pair() {
    for c in $cols; do
        [ "$c" = "$1" ] && continue
        [ "$1" = clip ] && [ "$c" = clip_mode ] && continue
        printf 'a.%s IS b.%s AND ' "$c" "$c"
    done
    printf 'a.experiment = b.experiment AND a.repeat = b.repeat AND a.%s IS NOT b.%s' "$1" "$1"
}
relu_fam="(activation = 'relu' OR activation LIKE 'leaky_relu%' OR activation LIKE 'elu%')"
varies() { printf '(SELECT count(DISTINCT coalesce(%s, '"'"'none'"'"')) FROM runs v WHERE v.experiment = %s.experiment) > 1' "$1" "$2"; }
first_loss() { printf '(SELECT loss FROM train_log WHERE run_id = %s.id ORDER BY step LIMIT 1)' "$1"; }
last_loss() { printf '(SELECT loss FROM train_log WHERE run_id = %s.id ORDER BY step DESC LIMIT 1)' "$1"; }
n_logs() { printf '(SELECT count(*) FROM train_log WHERE run_id = %s.id)' "$1"; }
ur() { printf '(SELECT update_ratio FROM train_layer_log WHERE run_id = %s.id AND layer = %s ORDER BY step LIMIT 1)' "$1" "$2"; }
half() { printf '(SELECT min(step) FROM train_log t WHERE t.run_id = %s.id AND t.step > (SELECT min(step) FROM train_log WHERE run_id = %s.id) AND t.loss <= 0.5 * %s)' "$1" "$1" "$(first_loss "$1")"; }
# SELECT yes, no of each part (sum of a 1/0 case column over its cases)
part_sql() {
    case $1 in
    saturate) echo "SELECT count(*), 0 FROM u r WHERE model = 'mlp' AND activation IN ('sigmoid', 'tanh')
                  AND (SELECT max(saturated_frac) FROM layer_stats l WHERE l.run_id = r.id AND l.step = 0 AND l.layer <= r.depth) > 0.5" ;;
    quarter) echo "SELECT value <= 0.25 + 1e-12 AND abs(value - 0.25) < 1e-9, 0 FROM f WHERE id = 'claims.1.quarter'" ;;
    early) echo "SELECT total(c), total(1 - c) FROM (SELECT $(ur r 1) < $(ur r r.depth) c FROM u r WHERE model = 'mlp' AND task = 'train'
                  AND diag = 'vanishing' AND optimizer IN ('sgd', 'momentum') AND $(ur r 1) IS NOT NULL AND $(ur r r.depth) > 0)" ;;
    long-range|rnn-fails) echo "SELECT total(c), total(1 - c) FROM (SELECT NOT (status = 'done' AND test_loss < 0.5 * baseline_loss) c
                  FROM u WHERE model = 'rnn' AND dataset = 'adding' AND task = 'train')" ;;
    sigmoid|tanh) echo "SELECT total(diag = 'vanishing'), total(diag != 'vanishing') FROM u r WHERE model = 'mlp' AND task = 'probe'
                  AND norm = 'none' AND residual = 'no' AND activation = '$1' AND depth >= 20 AND $(varies depth r)" ;;
    grow) echo "SELECT total(c), total(1 - c) FROM (SELECT coalesce(t.fit_r2 >= 0.9 AND t.measured_slope > 0, 0) c FROM u r
                  LEFT JOIN theory t ON t.run_id = r.id WHERE model = 'mlp' AND task = 'probe' AND diag = 'exploding')" ;;
    diverge) echo "SELECT total(status = 'diverged'), total(status != 'diverged') FROM u WHERE task = 'train' AND diag = 'exploding'" ;;
    init|activation) echo "SELECT count(DISTINCT a.id), 0 FROM u a JOIN u b ON $(pair "$1") WHERE a.diag = 'exploding' AND b.diag = 'healthy'" ;;
    lr) if [ "$2" = 10 ]; then
            echo "SELECT total(b.status = 'done'), total(b.status != 'done') FROM u a JOIN u b ON $(pair norm)
                  WHERE a.task = 'train' AND a.norm = 'none' AND b.norm = 'batch' AND a.status = 'diverged' AND $(varies lr a)"
        else
            echo "SELECT count(DISTINCT a.id), 0 FROM u a JOIN u b ON $(pair lr) WHERE a.task = 'train' AND a.status = 'diverged'
                  AND a.diag = 'healthy' AND b.status = 'done' AND b.lr < a.lr"
        fi ;;
    rnn) echo "SELECT count(*), 0 FROM u WHERE model = 'rnn' AND (diag = 'exploding' OR diagnosis_final = 'exploding')" ;;
    stall) echo "SELECT total(c), total(1 - c) FROM (SELECT coalesce($(last_loss r) >= 0.9 * $(first_loss r), 0) c FROM u r
                  WHERE task = 'train' AND model = 'mlp' AND status = 'done' AND diag = 'vanishing' AND $(n_logs r) >= 2)" ;;
    blowup) echo "SELECT total(c), total(1 - c) FROM (SELECT status = 'diverged' OR coalesce($(last_loss r) > $(first_loss r), 0) c FROM u r
                  WHERE task = 'train' AND diag = 'exploding' AND (status = 'diverged' OR $(n_logs r) >= 2))" ;;
    he-relu|xavier-tanh|other)
        case $1 in
        he-relu) sel="init IN ('he', 'he_uniform') AND activation = 'relu'" ;;
        xavier-tanh) sel="init IN ('xavier', 'xavier_uniform') AND activation = 'tanh'" ;;
        other) sel="((init IN ('xavier', 'xavier_uniform') AND activation != 'tanh') OR (init IN ('he', 'he_uniform') AND NOT $relu_fam))" ;;
        esac
        echo "SELECT total(diag = 'healthy'), total(diag != 'healthy') FROM u WHERE model = 'mlp' AND task = 'probe'
                  AND norm = 'none' AND residual = 'no' AND gain = 1 AND $sel" ;;
    eases) echo "SELECT total(coalesce(a.ratio > b.ratio, 0)), total(1 - coalesce(a.ratio > b.ratio, 0)) FROM u a JOIN u b ON $(pair activation)
                  WHERE $(echo "$relu_fam" | sed 's/activation/a.activation/g') AND b.activation = 'sigmoid' AND b.diag = 'vanishing'" ;;
    clip|clip-rnn) [ "$1" = clip-rnn ] || [ "$2" = 13 ] && rec="AND a.model != 'mlp'" || rec=""
        echo "SELECT total(b.status = 'done'), total(b.status != 'done') FROM u a JOIN u b ON $(pair clip)
                  WHERE a.task = 'train' AND a.clip IS NULL AND a.status = 'diverged' AND b.clip IS NOT NULL $rec" ;;
    vanish|explode|skip)
        if [ "$2" = 10 ]; then bad_d=$( [ "$1" = vanish ] && echo vanishing || echo exploding )
            echo "SELECT total(b.diag != '$bad_d'), total(b.diag = '$bad_d') FROM u a JOIN u b ON $(pair norm)
                  WHERE a.model = 'mlp' AND a.norm = 'none' AND a.diag = '$bad_d' AND b.norm = 'batch'"
        else
            echo "SELECT total(b.diag != 'vanishing'), total(b.diag = 'vanishing') FROM u a JOIN u b ON $(pair residual)
                  WHERE a.residual = 'no' AND a.diag = 'vanishing' AND b.residual = 'yes'"
        fi ;;
    faster) echo "SELECT total(c), total(1 - c) FROM (SELECT $(half a) IS NOT NULL AND ($(half b) IS NULL OR $(half a) < $(half b)) c
                  FROM u a JOIN u b ON $(pair norm) WHERE a.task = 'train' AND a.norm = 'batch' AND b.norm = 'none'
                  AND a.status = 'done' AND b.status = 'done' AND $(n_logs a) > 0 AND $(n_logs b) > 0)" ;;
    gated-init) echo "SELECT total(a.ratio >= b.ratio), total(a.ratio < b.ratio) FROM u a JOIN u b ON $(pair model)
                  WHERE a.model IN ('lstm', 'gru') AND b.model = 'rnn' AND a.ratio IS NOT NULL AND b.ratio IS NOT NULL" ;;
    layer-norm) echo "SELECT total(b.diag = 'healthy'), total(b.diag != 'healthy') FROM u a JOIN u b ON $(pair norm)
                  WHERE a.norm = 'batch' AND a.diag != 'healthy' AND b.norm = 'layer'" ;;
    pascanu) echo "SELECT total(t.measured_slope <= t.step_bound + 0.03), total(t.measured_slope > t.step_bound + 0.03)
                  FROM u JOIN theory t ON t.run_id = u.id WHERE t.step_bound IS NOT NULL AND t.measured_slope IS NOT NULL" ;;
    *) echo "" ;;
    esac
}

# Configuration comparisons over seeds (parts train, deck, gated-learn,
# adam; deeper): per pair of configurations, the expected outcome in awk.
# A configuration: the runs of one experiment and canonical key.
config_pairs() {   # key, arm condition on a, other condition on b, extra condition on a
    q "WITH c AS (SELECT a.experiment, a.canonical_key ka, b.canonical_key kb,
                         CASE WHEN a.dataset = 'adding' THEN 0 ELSE 1 END hb
                    FROM u a JOIN u b ON $(pair "$1") WHERE a.repeat = 0 AND a.task = 'train' AND $2 AND $3 AND $4)
        SELECT c.hb, (SELECT group_concat(repeat || ':' || coalesce(CASE WHEN status = 'diverged' THEN 'D' END,
                         CASE c.hb WHEN 1 THEN test_acc ELSE test_loss END, 'N'), ',') FROM u WHERE experiment = c.experiment AND canonical_key = c.ka),
                     (SELECT group_concat(repeat || ':' || coalesce(CASE WHEN status = 'diverged' THEN 'D' END,
                         CASE c.hb WHEN 1 THEN test_acc ELSE test_loss END, 'N'), ',') FROM u WHERE experiment = c.experiment AND canonical_key = c.kb)
        FROM c"
}
# stdin: hb|A values|B values (repeat:value, D diverged, N none); out: yes no
separate_awk='
function sign_p(w, l,   n, k, p, t, i) { n = w + l; k = w < l ? w : l; if (n == 0) return 1
    t = 0.5 ^ n; p = 0; for (i = 0; i <= k; i++) { p += t; t *= (n - i) / (i + 1) } return 2 * p > 1 ? 1 : 2 * p }
function load(s, v,   n, i, kv, parts) { delete v; n = split(s, parts, ","); for (i = 1; i <= n; i++) { split(parts[i], kv, ":"); v[kv[1]] = kv[2] } }
{ hb = $1; load($2, A); load($3, B); div = 0; na = nb = 0; amin = bmin = 1e308; amax = bmax = -1e308
  for (k in A) { if (A[k] == "D") div = 1; else if (A[k] != "N") { na++; x = A[k] + 0; if (x < amin) amin = x; if (x > amax) amax = x } }
  for (k in B) { if (B[k] == "D") div = 1; else if (B[k] != "N") { nb++; x = B[k] + 0; if (x < bmin) bmin = x; if (x > bmax) bmax = x } }
  if (div || na < 3 || nb < 3) next
  if (hb ? amin > bmax : amax < bmin) { yes++; next }
  w = l = 0
  for (k in A) if ((k in B) && A[k] != "D" && A[k] != "N" && B[k] != "D" && B[k] != "N") {
      if (hb ? A[k] + 0 > B[k] + 0 : A[k] + 0 < B[k] + 0) w++; else if (A[k] != B[k]) l++ }
  if (!(hb ? bmin > amax : bmax < amin) && sign_p(w, l) <= 0.05 && w > l) yes++; else no++ }
END { printf "%d|%d\n", yes, no }'
compare_part() {
    case $1 in
    train) config_pairs residual "a.residual = 'yes'" "b.residual = 'no'" 1 ;;
    deck) config_pairs activation "a.activation = 'relu'" "b.activation = 'sigmoid'" "a.dataset = 'digits' AND a.model = 'mlp' AND a.depth <= 2" ;;
    gated-learn) config_pairs model "a.model IN ('lstm', 'gru')" "b.model = 'rnn'" "a.dataset = 'adding'" ;;
    adam) config_pairs optimizer "a.optimizer IN ('adam', 'rmsprop')" "b.optimizer = 'sgd'" 1 ;;
    esac | awk -F'|' "$separate_awk"
}

q "SELECT id, yes, no, verdict FROM f WHERE kind = 'part'" > parts.txt
bad=""
n_parts=0
while IFS='|' read -r id yes no verdict; do
    n_parts=$((n_parts + 1))
    claim=$(echo "$id" | cut -d. -f2)
    part=$(echo "$id" | cut -d. -f3-)
    case $part in
    train|deck|gated-learn|adam) got=$(compare_part "$part") ;;
    deeper) got="";;   # checked below
    xiong-*|dong-*|noci-*|deepnet-*)   # the transformer claims (tests/tfreport_lib.sh)
       got=$(q "$(tf_part_sql x.db "$part")" | awk -F'|' '{ printf "%d|%d", $1, $2 }') ;;
    *) sql=$(part_sql "$part" "$claim")
       [ -n "$sql" ] || { bad="$bad $id(no rule)"; continue; }
       got=$(q "$sql" 2>&1 | awk -F'|' '{ printf "%d|%d", $1, $2 }') ;;
    esac
    [ -z "$got" ] && continue
    want_v=$(echo "$got" | awk -F'|' '{ y = $1 + 0; n = $2 + 0; print (y + n == 0 ? "none" : n == 0 ? "yes" : y == 0 ? "no" : "some") }')
    [ "$got" = "$yes|$no" ] && [ "$want_v" = "$verdict" ] || bad="$bad $id(csv $yes|$no $verdict, sql $got)"
done < parts.txt
check "claims: every part's cases recomputed by its own SQL ($n_parts parts;${bad:- all agree})" '[ -z "$bad" ]'

# the deeper digits nets: configurations every repeat of which is vanishing or dead
# against the best (median accuracy) healthy one of the experiment
deeper=$(q "WITH cfg AS (SELECT experiment, canonical_key k, min(repeat) r0,
                  (SELECT count(*) FROM runs x WHERE x.experiment = u.experiment AND x.canonical_key = u.canonical_key) n,
                  total(diag IN ('vanishing', 'dead')) held, total(status = 'diverged') div,
                  max(CASE WHEN repeat = 0 THEN diag END) d0
             FROM u WHERE task = 'train' AND dataset = 'digits' AND model = 'mlp' AND depth > 2 GROUP BY 1, 2),
           v AS (SELECT u.experiment, u.canonical_key k, test_acc, row_number() OVER (PARTITION BY u.experiment, u.canonical_key ORDER BY test_acc) i,
                        count(*) OVER (PARTITION BY u.experiment, u.canonical_key) c FROM u WHERE status = 'done' AND test_acc IS NOT NULL),
           med AS (SELECT experiment, k, avg(test_acc) m FROM v WHERE i IN ((c + 1) / 2, (c + 2) / 2) GROUP BY 1, 2),
           best AS (SELECT cfg.experiment, cfg.k FROM cfg JOIN med USING (experiment, k) WHERE cfg.held < cfg.n AND cfg.div = 0 AND cfg.d0 = 'healthy'
                    AND med.m = (SELECT max(m2.m) FROM cfg c2 JOIN med m2 USING (experiment, k) WHERE c2.experiment = cfg.experiment
                                 AND c2.held < c2.n AND c2.div = 0 AND c2.d0 = 'healthy'))
      SELECT 1, (SELECT group_concat(repeat || ':' || coalesce(test_acc, 'N'), ',') FROM u WHERE experiment = best.experiment AND canonical_key = best.k),
                (SELECT group_concat(repeat || ':' || coalesce(test_acc, 'N'), ',') FROM u WHERE experiment = cfg.experiment AND canonical_key = cfg.k)
        FROM cfg JOIN best USING (experiment) WHERE cfg.held = cfg.n AND cfg.div = 0" | awk -F'|' "$separate_awk")
csv_deeper=$(q "SELECT yes || '|' || no FROM f WHERE id = 'claims.12.deeper'")
check "claims: 12.deeper (the best healthy digits net against those held back) recomputed ($deeper)" '[ "$deeper" = "$csv_deeper" ]'

# every claim's verdict from its parts' outcomes
bad=$(q "SELECT c.id FROM f c WHERE c.kind = 'claim' AND c.verdict != (
          SELECT CASE WHEN total(p.verdict = 'none') = count(*) THEN 'not tested'
                      WHEN total(p.verdict = 'yes') = count(*) THEN 'confirmed'
                      WHEN total(p.verdict = 'yes') = 0 AND total(p.verdict IN ('no', 'none')) = count(*) THEN 'contradicted'
                      ELSE 'partly' END
            FROM f p WHERE p.kind = 'part' AND p.id LIKE c.id || '.%' AND p.id NOT LIKE c.id || '.note.%')")
n_claims=$(q "SELECT count(*) FROM f WHERE kind = 'claim'")
check "claims: $n_claims claims, each verdict from its parts (${bad:-all})" '[ "$n_claims" -eq 19 ] && [ -z "$bad" ]'

# the departures from the deck, and the runs that show each
bad=$(q "SELECT f.id FROM f WHERE f.kind = 'note' AND f.stat = 'weights-flat' AND (
            (SELECT count(*) FROM fr WHERE fr.id = f.id) != (SELECT count(*) FROM u WHERE model = 'mlp' AND diag = 'vanishing' AND grad_ratio BETWEEN 0.1 AND 10)
         OR NOT $(close f.value "(SELECT min(ratio) FROM u WHERE model = 'mlp' AND diag = 'vanishing' AND grad_ratio BETWEEN 0.1 AND 10)"))
         UNION ALL SELECT f.id FROM f WHERE f.kind = 'note' AND f.stat = 'edge-of-chaos' AND
            (SELECT count(*) FROM fr WHERE fr.id = f.id) != (SELECT count(*) FROM u WHERE model = 'mlp' AND task = 'probe' AND activation = 'tanh'
               AND norm = 'none' AND residual = 'no' AND depth >= 20 AND abs(sigma_w2 - 1) <= 1e-9 AND sigma_b2 = 0 AND diag != 'vanishing')
         UNION ALL SELECT f.id FROM f WHERE f.kind = 'note' AND f.stat = 'batch-norm-relu' AND (
            (SELECT count(*) FROM fr WHERE fr.id = f.id) != (SELECT count(*) FROM u LEFT JOIN theory t ON t.run_id = u.id
               WHERE model = 'mlp' AND norm = 'batch' AND residual = 'no' AND activation = 'relu'
                 AND (diag = 'exploding' OR abs(t.measured_slope - 0.5 * ln(pi() / (pi() - 1))) <= 0.03))
            OR NOT $(close f.value2 "0.5 * ln(pi() / (pi() - 1))"))")
notes=$(q "SELECT group_concat(stat, ', ') FROM f WHERE kind = 'note'")
check "claims: each departure's runs recomputed (${notes:-none}; ${bad:-all agree})" '[ -z "$bad" ]'

# ---- the page ----
page=$rep/index.html
missing=$(q "SELECT DISTINCT text FROM f WHERE kind NOT IN ('part', 'claim', 'note')" | while IFS= read -r t; do
    e=$(printf '%s' "$t" | sed "s/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/\"/\&quot;/g; s/'/\&#39;/g")
    grep -qF -- "$e" "$page" || printf '%s\n' "$t"
done | head -2)
check "every finding of findings.csv is on the page (${missing:-all})" '[ -z "$missing" ]'
n_rows=$(grep -c '<tr id="claim-' "$page")
check "the page opens with the claims table, 19 rows ($n_rows)" \
    '[ "$n_rows" -eq 19 ] && [ "$(grep -n "id=\"claims\"" "$page" | cut -d: -f1)" -lt "$(grep -n "class=\"experiment\"" "$page" | head -1 | cut -d: -f1)" ]'
ids=$(grep -o ' id="[^"]*"' "$page" | sed 's/ id="//; s/"$//' | sort -u)
dangling=$(grep -o 'href="#[^"]*"' "$page" | sed 's/href="#//; s/"$//' | sort -u | while read -r a; do
    printf '%s\n' "$ids" | grep -qxF -- "$a" || printf '%s ' "$a"; done)
check "every link of the page lands on an anchor (${dangling:-all})" '[ -z "$dangling" ]'
charts=$(ls "$rep"/charts/*.png | wc -l)
anchored=$(for p in "$rep"/charts/*.png; do s=$(basename "$p" .png); grep -q "<figure id=\"$s\"" "$page" && echo "$s"; done | wc -l)
check "every chart's anchor is the stem of its file ($anchored of $charts)" '[ "$anchored" -eq "$charts" ]'
check "no table cell reads nan" '! grep -Eqi "<td[^>]*>-?nan</td>" "$page"'
href=$(grep -o '<dt>database</dt><dd><a href="[^"]*"' "$page" | sed 's/.*href="//; s/"$//')
check "the database is linked, relative to the report ($href)" \
    '[ -n "$href" ] && [ "$(cd "$rep" && realpath "$href")" = "$(realpath "$db")" ]'
check "every query of this test ran ($(head -c 200 sql.err 2>/dev/null))" '[ ! -s sql.err ]'
finish
