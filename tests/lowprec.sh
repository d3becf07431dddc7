#!/bin/sh
# format_stats=yes stored (issue 20): the rows of format_stats and
# format_exponents for every measured step, layer, tensor and format; the
# shares against the exponent histogram stored beside them (independent
# arithmetic: SQL over the bins); the loss-scale window view against its
# rows; the report's findings (first layer from the output losing half
# of dL/dh per format against chi1's layer, the windows, e4m3 against
# e5m2) recomputed from the rows; no rows for a cell without the key; a version-7 database upgraded
# in place; recurrent models' tensors counted over all time steps.
. "${top_srcdir:-.}/tests/sweep_lib.sh"
cd "$work" || exit 1
ini="$cfg_dir/lowprec.ini"

"$gs" run "$ini" --db lp.db --threads 1 2>run.err; st=$?
check "run: the sweep with format_stats completes (exit $st)" '[ $st -eq 0 ]'
q() { sqlite3 lp.db "$1"; }

# probes: (depth + 1) layers x 4 tensors x 5 formats; training: logged
# steps 1, 3, 6 x 3 layers x 5 tensors x 5 formats; [off] none
v=$(q "SELECT r.experiment || ':' || r.depth || ':' || count(f.run_id) FROM runs r
       LEFT JOIN format_stats f ON f.run_id = r.id GROUP BY r.id ORDER BY r.experiment, r.depth")
check "format_stats rows: (depth+1) x 4 x 5 per probe (recurrent too), 3 x 3 x 5 x 5 for training, none when off ($(echo $v))" \
    '[ "$v" = "off:2:0
probe:3:80
probe:12:260
recurrent:2:60
recurrent:2:60
recurrent:2:60
train:2:225" ]'
v=$(q "SELECT count(*) FROM format_stats f JOIN runs r ON r.id = f.run_id
       WHERE (f.tensor = 'update' AND r.task != 'train') OR (r.task = 'probe') != (f.step = 0)")
check "update only for training's logged steps; probes at step 0 ($v wrong)" '[ "$v" = 0 ]'
v=$(q "SELECT count(*) FROM (SELECT DISTINCT run_id, step, layer, tensor FROM format_stats
       WHERE nonzero > 0) s LEFT JOIN format_exponents e USING (run_id, step, layer, tensor)
       WHERE e.run_id IS NULL OR (SELECT sum(count) FROM format_exponent_bins b WHERE
       b.run_id = s.run_id AND b.step = s.step AND b.layer = s.layer AND b.tensor = s.tensor)
       != (SELECT nonzero FROM format_stats f WHERE f.run_id = s.run_id AND f.step = s.step
           AND f.layer = s.layer AND f.tensor = s.tensor AND f.format = 'float16')")
check "every tensor with nonzero values has its exponent histogram, summing to nonzero ($v differ)" '[ "$v" = 0 ]'
# float16 flushes |x| <= 2^-25: every value of binade <= -26 and none of
# binade >= -24; binade -25 may go either way
v=$(q "SELECT count(*) FROM format_stats f WHERE f.format = 'float16' AND f.nonzero > 0 AND NOT (
         round(f.zero_frac * f.nonzero) >= (SELECT coalesce(sum(count), 0) FROM format_exponent_bins b
            WHERE b.run_id = f.run_id AND b.step = f.step AND b.layer = f.layer
              AND b.tensor = f.tensor AND b.exponent <= -26)
     AND round(f.zero_frac * f.nonzero) <= (SELECT coalesce(sum(count), 0) FROM format_exponent_bins b
            WHERE b.run_id = f.run_id AND b.step = f.step AND b.layer = f.layer
              AND b.tensor = f.tensor AND b.exponent <= -25))")
n16=$(q "SELECT count(*) FROM format_stats WHERE format = 'float16' AND zero_frac > 0.5")
check "float16 zero_frac lies between the histogram's shares below 2^-25 and below 2^-24 ($v differ; $n16 tensors lose half)" \
    '[ "$v" = 0 ] && [ "$n16" -gt 0 ]'
v=$(q "SELECT count(*) FROM format_stats f WHERE f.nonzero > 0 AND (
         f.max_abs < (SELECT max(exp2) FROM (SELECT power(2, exponent) AS exp2 FROM format_exponent_bins b
            WHERE b.run_id = f.run_id AND b.step = f.step AND b.layer = f.layer AND b.tensor = f.tensor))
      OR f.max_abs >= 2 * (SELECT max(power(2, exponent)) FROM format_exponent_bins b
            WHERE b.run_id = f.run_id AND b.step = f.step AND b.layer = f.layer AND b.tensor = f.tensor))" 2>&1)
check "max_abs lies in the top binade of the histogram ($v differ)" '[ "$v" = 0 ]'
v=$(q "SELECT count(*) FROM loss_scale_window w WHERE lo_log2 != (SELECT max(scale_lo_log2)
       FROM format_stats f WHERE f.run_id = w.run_id AND f.step = w.step AND f.tensor = w.tensor
       AND f.format = w.format) OR hi_log2 != (SELECT min(scale_hi_log2) FROM format_stats f
       WHERE f.run_id = w.run_id AND f.step = w.step AND f.tensor = w.tensor AND f.format = w.format)
       OR empty != (lo_log2 > hi_log2) OR default_ok != (lo_log2 <= 16 AND 16 <= hi_log2)")
nw=$(q "SELECT count(*) FROM loss_scale_window")
check "loss_scale_window: the tightest layer's ends, empty when lo > hi ($v wrong of $nw)" '[ "$v" = 0 ] && [ "$nw" -gt 0 ]'
v=$(q "SELECT count(*) FROM format_stats WHERE (scale_lo_log2 IS NULL) != (tensor NOT IN
       ('grad_activation', 'grad_weight') OR nonzero = 0)")
check "a window for gradients only ($v wrong)" '[ "$v" = 0 ]'
# float32 keeps every value of these nets: nothing flushed, nothing overflows
v=$(q "SELECT count(*) FROM format_stats WHERE format = 'float32' AND (zero_frac > 0 OR overflow_frac > 0)")
check "float32 flushes and overflows nothing here ($v)" '[ "$v" = 0 ]'

# ---- recurrent models: each layer's tensors over all time steps ----
# dL/dz of a stacked layer: seq_len x batch x gates x width values, its
# hidden states seq_len x batch x width; weights Wx and Wh together
v=$(q "SELECT count(*) FROM format_stats f JOIN runs r ON r.id = f.run_id WHERE r.experiment = 'recurrent'
       AND f.layer <= r.depth AND f.format = 'float16' AND f.n_values != CASE f.tensor
         WHEN 'grad_activation' THEN r.seq_len * r.batch * r.width * CASE r.model WHEN 'lstm' THEN 4 WHEN 'gru' THEN 3 ELSE 1 END
         WHEN 'activation' THEN r.seq_len * r.batch * r.width
         ELSE (SELECT g.n_values FROM format_stats g WHERE g.run_id = f.run_id AND g.step = f.step AND g.layer = f.layer
               AND g.format = f.format AND g.tensor = 'grad_weight') END")
nr=$(q "SELECT count(DISTINCT model) FROM runs WHERE experiment = 'recurrent' AND status = 'done'")
check "recurrent (rnn, lstm, gru: $nr): dL/dz counted over seq_len x batch x gates x width values, h over seq_len x batch x width ($v wrong)" \
    '[ "$v" = 0 ] && [ "$nr" = 3 ]'
# the exponent histogram of dL/dh brackets grad_pre_norm^2 (every probe, mlp
# and recurrent): sum count 4^e <= ||g||^2 < sum count 4^(e+1)
v=$(q "SELECT count(*) || ' ' || sum(NOT (lo <= n2 * (1 + 1e-12) AND n2 < 4 * lo)) FROM (
         SELECT l.grad_pre_norm * l.grad_pre_norm AS n2, (SELECT sum(b.count * power(4, b.exponent))
           FROM format_exponent_bins b WHERE b.run_id = r.id AND b.step = 0 AND b.layer = l.layer
           AND b.tensor = 'grad_activation') AS lo
         FROM runs r JOIN layer_stats l ON l.run_id = r.id AND l.step = 0 AND l.layer <= r.depth
         WHERE r.task = 'probe' AND r.format_stats = 'yes' AND l.grad_pre_norm > 0)")
check "grad_activation is the tensor of grad_pre_norm: its exponent histogram brackets the norm squared, mlp and recurrent (${v#* } of ${v% *} off)" \
    '[ "${v#* }" = 0 ] && [ "${v% *}" -gt 20 ]'

# ---- gradsweep probe prints the same shares and window as the rows ----
out=$("$gs" probe depth=12 width=24 batch=16 activation=sigmoid seed=5 format_stats=yes 2>/dev/null)
got=$(printf '%s\n' "$out" | awk '/^share of dL\/dh/ { on = 1; next } on && /^ *[0-9]+ / { print $1, $4 }
      /^loss-scale window/ { on = 0 } /^  float16 / { print "window", $0 }' | tr -s ' ')
want=$(q "SELECT f.layer || ' ' || printf('%.4f', f.zero_frac) FROM format_stats f JOIN runs r ON r.id = f.run_id
          WHERE r.experiment = 'probe' AND r.depth = 12 AND f.tensor = 'grad_activation' AND f.format = 'float16'
          ORDER BY f.layer;
          SELECT 'window float16 ' || CASE WHEN w.empty THEN 'empty ' ELSE '' END || '[' || CAST(w.lo_log2 AS INTEGER)
                 || ', ' || CAST(w.hi_log2 AS INTEGER) || ']'
            FROM loss_scale_window w JOIN runs r ON r.id = w.run_id WHERE r.experiment = 'probe'
             AND r.depth = 12 AND w.tensor = 'grad_activation' AND w.format = 'float16'")
check "gradsweep probe format_stats=yes: float16's column and window are the stored rows' ($(printf '%s' "$got" | tail -n 1))" \
    '[ -n "$got" ] && [ "$got" = "$want" ]'

# ---- the report's chart: its caption against the rows ----
"$gs" report lp.db -o rep >/dev/null 2>rep.err; st=$?
cap=$(grep -o "The share of each hidden layer[^<]*" rep/index.html | head -n 1)
want=$(q "SELECT f.format || ': ' || group_concat('depth ' || depth || ': layers 1-' || k || ' of ' || depth, ';')
  FROM (SELECT f.format, r.depth, max(f.layer) AS k FROM format_stats f JOIN runs r ON r.id = f.run_id
        WHERE r.experiment = 'probe' AND f.tensor = 'grad_activation' AND f.zero_frac > 0.5
          AND f.layer <= r.depth AND f.step = 0 GROUP BY f.format, r.depth ORDER BY r.depth) f
  GROUP BY f.format")
missing=0
printf '%s\n' "$want" | {
    while IFS= read -r row; do
        fmt=${row%%:*}
        for part in $(printf '%s' "${row#*: }" | tr ' ;' '_\n'); do
            part=$(printf '%s' "$part" | tr '_' ' ')
            printf '%s\n' "$cap" | grep -q " $fmt: more than half[^.]*$part" || { echo "# caption lacks $fmt: $part"; exit 1; }
        done
    done
} || missing=1
check "report: the lowprec chart drawn, its caption names the layers each format loses more than half of, as the rows say ($st; $(printf '%s' "$want" | tr '\n' ' '))" \
    '[ $st -eq 0 ] && [ -s rep/charts/probe-lowprec.png ] && [ -n "$want" ] && [ $missing -eq 0 ] &&
     printf "%s" "$cap" | grep -q "bfloat16: no layer loses more than half"'

# float16's examples carry mean-field theory's layer: 1 + 2 ln(median
# |g_top| 2^25) / (-ln chi1), median = 0.6745 grad_pre_norm / sqrt(batch width)
pred=$(q "SELECT printf('%.1f', 1 + 2 * ln(0.6745 * l.grad_pre_norm / sqrt(r.batch * r.width) * power(2, 25))
            / -ln(t.chi1)) FROM runs r JOIN theory t ON t.run_id = r.id JOIN layer_stats l ON l.run_id = r.id
          WHERE r.experiment = 'probe' AND r.depth = 12 AND l.step = 0 AND l.layer = r.depth")
check "report: float16's caption gives chi1's layer as the rows compute it ($pred)" \
    'printf "%s" "$cap" | grep -q "float16: more than half[^.]*depth 12: layers 1-[0-9]* of 12, the [0-9]*[a-z]* from the output, chi1 predicts $pred"'

# the loss-scale chart: per format, the depths whose window is empty
wcap=$(grep -o "The powers of two[^<]*" rep/index.html | head -n 1)
bad=0
for fmt in float16 e5m2 e4m3; do
    depths=$(q "SELECT group_concat(depth, ', ') FROM (SELECT r.depth FROM loss_scale_window w
        JOIN runs r ON r.id = w.run_id WHERE r.experiment = 'probe' AND w.tensor = 'grad_activation'
        AND w.format = '$fmt' AND w.empty AND w.step = 0 ORDER BY r.depth)")
    if [ -n "$depths" ]; then want=" $fmt: empty for depth $depths."; else want=" $fmt: never empty here."; fi
    printf '%s' "$wcap" | grep -qF "$want" || { bad=1; echo "# window caption lacks '$want'"; }
done
check "report: the loss-scale chart drawn, its caption's empty windows are the view's" \
    '[ -s rep/charts/probe-loss-scale.png ] && [ $bad -eq 0 ]'

# ---- the findings (findings_lowprec.c) against the rows ----
# findings.csv as table f of a copy; every number recomputed here
sqlite3 lp.db ".backup fx.db" && sqlite3 fx.db "CREATE TABLE f(finding INTEGER, id TEXT, kind TEXT,
    experiment TEXT, where_keys TEXT, versus TEXT, verdict TEXT, value REAL, value2 REAL, yes INTEGER,
    no INTEGER, stat TEXT, runs TEXT, chart TEXT, text TEXT)" ".import --csv --skip 1 rep/findings.csv f" || exit 1
fq() { sqlite3 -batch fx.db "$1" 2>>fsql.err; }
# the flush thresholds, half of each format's smallest subnormal, written here
# from the formats' definitions (not read from src/nn/format.c)
fq "CREATE TABLE thr(format TEXT, t REAL);
    INSERT INTO thr VALUES ('float16', power(2, -25)), ('bfloat16', power(2, -134)),
                           ('e5m2', power(2, -17)), ('e4m3', power(2, -10));
    CREATE TABLE fr AS SELECT id, CAST(runs AS INTEGER) AS run FROM f WHERE kind = 'lowprec' AND stat IN ('half_lost', 'window');
    CREATE TABLE want AS
    SELECT r.id AS run, r.experiment, thr.format, r.depth,
      coalesce(r.depth + 1 - (SELECT max(s.layer) FROM format_stats s WHERE s.run_id = r.id
        AND s.tensor = 'grad_activation' AND s.format = thr.format AND s.layer <= r.depth AND s.zero_frac > 0.5
        AND s.step = (SELECT min(step) FROM format_stats WHERE run_id = r.id)), 0) AS from_output,
      CASE WHEN r.model = 'mlp' AND t.chi1 > 0 AND t.chi1 < 1 THEN
        1 + 2 * ln(0.6745 * l.grad_pre_norm / sqrt(r.batch * r.width) / thr.t) / -ln(t.chi1) END AS pred
    FROM runs r JOIN thr LEFT JOIN theory t ON t.run_id = r.id
    JOIN layer_stats l ON l.run_id = r.id AND l.step = 0 AND l.layer = r.depth
    WHERE r.format_stats = 'yes' AND r.status = 'done'"
nf=$(fq "SELECT count(*) FROM f WHERE kind = 'lowprec' AND stat = 'half_lost'")
nw=$(fq "SELECT count(*) FROM want")
bad=$(fq "SELECT f.id FROM f JOIN fr USING (id) LEFT JOIN want w ON w.run = fr.run AND w.format = f.verdict
          WHERE f.stat = 'half_lost' AND (w.run IS NULL OR f.value != w.from_output
             OR (w.pred IS NULL AND f.value2 != '') OR abs(f.value2 - w.pred) > 1e-9 * abs(w.pred)) LIMIT 3")
check "findings: per run and format, the first layer from the output losing half of dL/dh and chi1's layer, as the rows compute them ($nf facts of $nw; ${bad:-all})" \
    '[ -z "$bad" ] && [ "$nf" -eq "$nw" ] && [ "$nf" -gt 0 ]'
# the sentence says each told run's numbers: "depth 12: float16 9th (8.8)"
bad=$(fq "SELECT f.id FROM f JOIN want w ON w.run = CAST(f.runs AS INTEGER) AND w.format = f.verdict
          WHERE f.stat = 'half_lost' AND instr(f.text, ' ' || w.format || ' ' ||
            CASE WHEN w.from_output = 0 THEN 'none' ELSE w.from_output ||
              CASE WHEN w.from_output % 100 BETWEEN 11 AND 13 THEN 'th' WHEN w.from_output % 10 = 1 THEN 'st'
                   WHEN w.from_output % 10 = 2 THEN 'nd' WHEN w.from_output % 10 = 3 THEN 'rd' ELSE 'th' END END
            || ' (' || CASE WHEN w.pred IS NULL THEN 'no chi1' WHEN w.pred < 1 THEN '<1' WHEN w.pred >= 1000 THEN '>1000' ELSE printf('%.1f', w.pred) END
            || ')') = 0 LIMIT 3")
d12=$(fq "SELECT from_output || ' vs ' || printf('%.1f', pred) FROM want WHERE experiment = 'probe' AND depth = 12 AND format = 'float16'")
check "findings: the sentence gives those numbers (float16 at depth 12: the layer from the output vs chi1's: $d12; ${bad:-all})" \
    '[ -z "$bad" ] && [ -n "$d12" ]'
# the median |g_top| the prediction uses (0.6745 sigma, Gaussian) lies in or
# next to the binade holding the top layer's median in its exponent histogram
bad=$(fq "WITH top AS (SELECT r.id, r.depth, 0.6745 * l.grad_pre_norm / sqrt(r.batch * r.width) AS g,
            (SELECT nonzero FROM format_stats s WHERE s.run_id = r.id AND s.step = 0 AND s.layer = r.depth
               AND s.tensor = 'grad_activation' AND s.format = 'float16') AS nz
          FROM runs r JOIN layer_stats l ON l.run_id = r.id AND l.step = 0 AND l.layer = r.depth
          WHERE r.format_stats = 'yes' AND r.task = 'probe' AND r.model = 'mlp'),
          cum AS (SELECT b.run_id, b.exponent, sum(b.count) OVER (PARTITION BY b.run_id ORDER BY b.exponent) AS c
          FROM format_exponent_bins b JOIN top ON top.id = b.run_id AND b.step = 0 AND b.layer = top.depth
          AND b.tensor = 'grad_activation')
          SELECT top.id FROM top WHERE abs(floor(log2(top.g)) - (SELECT min(exponent) FROM cum
             WHERE cum.run_id = top.id AND 2 * cum.c >= top.nz)) > 1")
check "the Gaussian median 0.6745 sigma of the top layer agrees with its exponent histogram's median to a binade (${bad:-all})" \
    '[ -z "$bad" ] && [ "$(fq "SELECT count(*) FROM format_exponent_bins")" -gt 0 ]'
bad=$(fq "SELECT f.id FROM f JOIN fr USING (id) LEFT JOIN loss_scale_window w ON w.run_id = fr.run
          AND w.tensor = 'grad_activation' AND f.id LIKE '%.' || w.format
          AND w.step = (SELECT min(step) FROM format_stats WHERE run_id = fr.run)
          WHERE f.stat = 'window' AND (w.run_id IS NULL OR f.value != w.lo_log2 OR f.value2 != w.hi_log2
             OR f.verdict != CASE WHEN w.empty THEN 'empty' WHEN w.default_ok THEN '2^16 inside' ELSE '2^16 outside' END
             OR (w.empty AND instr(f.text, 'no single loss scale can save this network') = 0)) LIMIT 3")
nwin=$(fq "SELECT count(*) FROM f WHERE stat = 'window'")
nview=$(fq "SELECT count(*) FROM loss_scale_window w JOIN runs r ON r.id = w.run_id WHERE w.tensor = 'grad_activation'
            AND w.format IN ('float16', 'e5m2', 'e4m3') AND w.step = (SELECT min(step) FROM format_stats WHERE run_id = r.id)")
check "findings: each run's loss-scale window per format is the view's, 2^16 inside or not, empty said ($nwin of $nview; ${bad:-all})" \
    '[ -z "$bad" ] && [ "$nwin" -eq "$nview" ] && [ "$nwin" -gt 0 ]'
# e4m3 against e5m2: the counts over the experiment's runs
bad=$(fq "WITH per AS (SELECT w.experiment, w.run,
            max(CASE WHEN w.format = 'e4m3' THEN w.from_output > 0 END) AS h4,
            max(CASE WHEN w.format = 'e5m2' THEN w.from_output > 0 END) AS h5,
            (SELECT empty FROM loss_scale_window v WHERE v.run_id = w.run AND v.tensor = 'grad_activation' AND v.format = 'e4m3'
               AND v.step = (SELECT min(step) FROM format_stats WHERE run_id = w.run)) AS e4,
            (SELECT empty FROM loss_scale_window v WHERE v.run_id = w.run AND v.tensor = 'grad_activation' AND v.format = 'e5m2'
               AND v.step = (SELECT min(step) FROM format_stats WHERE run_id = w.run)) AS e5
          FROM want w GROUP BY w.run),
          agg AS (SELECT experiment, count(*) AS n, sum(h4) AS h4, sum(h5) AS h5, sum(e4) AS e4, sum(e5) AS e5 FROM per GROUP BY experiment)
          SELECT f.id FROM f JOIN agg USING (experiment) WHERE f.stat LIKE 'fp8_%' AND f.yes != agg.n OR
            (f.stat = 'fp8_half_lost' AND (f.value != agg.h4 OR f.value2 != agg.h5)) OR
            (f.stat = 'fp8_window_empty' AND (f.value != agg.e4 OR f.value2 != agg.e5))")
fp8=$(fq "SELECT experiment || ': e4m3 ' || CAST(value AS INTEGER) || ', e5m2 ' || CAST(value2 AS INTEGER) FROM f WHERE stat = 'fp8_half_lost'" | tr '\n' ' ')
check "findings: e4m3 against e5m2, runs losing half of a layer and empty windows counted ($fp8; ${bad:-all})" \
    '[ -z "$bad" ] && [ "$(fq "SELECT count(*) FROM f WHERE stat LIKE '\''fp8_%'\''")" -eq "$(fq "SELECT 3 * count(DISTINCT experiment) FROM want")" ]'
# ---- the layer x format heatmaps: every cell is its format_stats row ----
# (columns: the layer counted from the output, rows: the format; the
# chart's short names spelled out here)
bad=""; ncell=0
for map in flush-map:grad_activation flush-map-w:grad_weight; do
    csv=rep/charts/probe-${map%%:*}.csv
    [ -s "$csv" ] || { bad="$bad no $csv"; continue; }
    fq "DROP TABLE IF EXISTS hm; CREATE TABLE hm(panel TEXT, series TEXT, col TEXT, fmt TEXT, v TEXT)" &&
    sqlite3 fx.db ".import --csv --skip 1 $csv hm" 2>>fsql.err
    b=$(fq "WITH c AS (SELECT CAST(substr(series, 7) AS INTEGER) AS depth, CAST(col AS INTEGER) AS k,
                CASE fmt WHEN 'f16' THEN 'float16' WHEN 'bf16' THEN 'bfloat16' ELSE fmt END AS format, v
              FROM hm WHERE fmt IN ('f16', 'bf16', 'e5m2', 'e4m3'))
            SELECT count(*) || ' ' || sum(s.zero_frac IS NULL OR abs(CAST(c.v AS REAL) - s.zero_frac) > 1e-12)
              FROM c JOIN runs r ON r.experiment = 'probe' AND r.depth = c.depth
              LEFT JOIN format_stats s ON s.run_id = r.id AND s.step = 0 AND s.layer = r.depth + 1 - c.k
               AND s.format = c.format AND s.tensor = '${map#*:}'")
    want=$(fq "SELECT 4 * sum(depth) FROM runs WHERE experiment = 'probe'")
    [ "$b" = "$want 0" ] || bad="$bad ${map%%:*}: $b of $want"
    ncell=$((ncell + ${b%% *}))
done
check "report: the dL/dh and dL/dW flush maps, every cell the format_stats row of its layer from the output and format ($ncell cells;${bad:- all})" \
    '[ -z "$bad" ] && [ -s rep/charts/probe-flush-map.png ] && [ -s rep/charts/probe-flush-map-w.png ]'
# the crosses of the dL/dh map (x + 0.3 an integer: the finding's layer,
# 0-based from the output, drawn 0.3 cell left of centre; y the format's
# row) are the half_lost facts'
crosses=$(awk -F, '$4 ~ /^[0-3]$/ { x = $3 + 0.3; k = int(x + 0.5); if (x - k < 1e-9 && k - x < 1e-9) print $2 ":" k ":" $4 }' \
          rep/charts/probe-flush-map.csv | sort | tr '\n' ' ')
facts=$(fq "SELECT 'depth ' || w.depth || ':' || (w.from_output - 1) || ':' ||
              CASE w.format WHEN 'float16' THEN 0 WHEN 'bfloat16' THEN 1 WHEN 'e5m2' THEN 2 ELSE 3 END
            FROM want w WHERE w.experiment = 'probe' AND w.from_output > 0" | sort | tr '\n' ' ')
check "report: the dL/dh map's crosses mark the findings' layers ($crosses)" '[ -n "$crosses" ] && [ "$crosses" = "$facts" ]'

check "findings: no query failed" '[ ! -s fsql.err ]'

# ---- a version-7 database: format_stats added in place ----
cp lp.db v7.db
sqlite3 v7.db "DROP VIEW loss_scale_window; DROP VIEW format_exponent_bins; DROP TABLE format_stats;
  DROP TABLE format_exponents; PRAGMA foreign_keys = ON; DELETE FROM runs WHERE format_stats = 'yes';
  ALTER TABLE runs DROP COLUMN format_stats; PRAGMA user_version = 7"
"$gs" run "$ini" --db v7.db --threads 1 >/dev/null 2>v7.err; st=$?
v=$(sqlite3 v7.db "PRAGMA user_version; SELECT count(*) FROM runs WHERE format_stats IS NULL;
  SELECT count(*) FROM runs WHERE format_stats = 'yes'; PRAGMA foreign_key_check; PRAGMA integrity_check")
check "a version-7 database: upgraded to $ver, the old cell kept (format_stats NULL), the others run ($st: $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "$ver
1
6
ok" ] && grep -q "1 stored already, 6 to run" v7.err'
check "the upgraded database holds the same rows as a fresh one (format tables included)" \
    '[ "$(dump_rows v7.db format_stats)" = "$(dump_rows lp.db format_stats)" ]'

# the tables' CHECKs (written as OR chains: SQLite's IN lists cost a
# temporary index per row) still refuse a tensor or format not in the
# names, and take each name
cp lp.db ck.db
id=$(sqlite3 ck.db "SELECT run_id FROM format_stats LIMIT 1")
bad_t=$(sqlite3 ck.db "INSERT INTO format_stats (run_id, step, layer, tensor, format)
  VALUES ($id, 999, 1, 'gradient', 'float16')" 2>&1)
bad_f=$(sqlite3 ck.db "INSERT INTO format_exponents (run_id, step, layer, tensor, exp_lo, counts)
  VALUES ($id, 999, 1, 'Weight', 0, '[1]')" 2>&1)
bad_g=$(sqlite3 ck.db "INSERT INTO format_stats (run_id, step, layer, tensor, format)
  VALUES ($id, 999, 1, 'weight', 'fp8')" 2>&1)
good=$(sqlite3 ck.db "INSERT INTO format_stats (run_id, step, layer, tensor, format)
  SELECT $id, 999, 1, t.value, f.value FROM json_each('[\"activation\", \"grad_activation\",
  \"grad_weight\", \"weight\", \"update\"]') t, json_each('[\"float32\", \"bfloat16\",
  \"float16\", \"e5m2\", \"e4m3\"]') f; SELECT count(*) FROM format_stats WHERE step = 999" 2>&1)
check "format tables' CHECKs: a tensor or format not named is refused, every named pair taken ($good)" \
    'printf "%s" "$bad_t" | grep -q "CHECK constraint failed" &&
     printf "%s" "$bad_f" | grep -q "CHECK constraint failed" &&
     printf "%s" "$bad_g" | grep -q "CHECK constraint failed" && [ "$good" = 25 ]'

# ---- bad input ----
msg=$("$gs" probe format_stats=maybe 2>&1); st=$?
check "format_stats=maybe: exit 2 naming the values ($msg)" '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "no, yes"'
finish
