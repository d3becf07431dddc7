#!/bin/sh
# gradsweep report on a small generated database: every chart kind is
# written, every PNG decodes with libpng at 1200x700, is not blank and
# carries its provenance; every <img> points to an existing file; what
# comes from the config is escaped; a running sweep gives a partial
# report; charts without data are left out.
. "${top_srcdir:-.}/tests/sweep_lib.sh"
png_check="$(cd "${top_builddir:-.}" && pwd)/tests/png_check"
cd "$work" || exit 1
cfg="$cfg_dir/report.ini"

"$gs" run "$cfg" --db r.db --threads 1 2>run.err; st=$?
check "the report test sweep runs (exit $st)" '[ $st -eq 0 ]'
out=$("$gs" report r.db -o rep 2>rep.err); st=$?
check "report: exit 0, prints the path of index.html ($out)" '[ $st -eq 0 ] && [ "$out" = "rep/index.html" ] && [ -s rep/index.html ]'

# every kind of chart is there (slug of the experiment names = the names)
missing=""
for f in activations flow-gradient-flow flow-map flow-weights norm-activations residual-gradient-flow \
         clip-clipping clip-loss digits-loss digits-accuracy digits-gradient-flow rnn-time adding-loss \
         clip-layers-train clip-grad-heatmap clip-update-ratio digits-layers-train adding-time-train \
         flow-theory-slopes phase-phase phase-theory-slopes iso-spectrum; do
    [ -s "rep/charts/$f.png" ] || missing="$missing $f"
done
check "all chart kinds written (missing:${missing:- none})" '[ -z "$missing" ]'
# none without meaning: a training experiment varying only clip has no map or flow
check "theory beside measurement: the run tables' slope columns and a finding on how closely runs follow it" \
    'grep -q "<th>predicted slope</th><th>measured slope</th>" rep/index.html &&
     grep -q "follows mean-field theory within 0.03 in [0-9]* of [0-9]* runs" rep/index.html'
check "no chart of a comparison the data cannot make (clip-map, clip-gradient-flow)" \
    '[ ! -e rep/charts/clip-map.png ] && [ ! -e rep/charts/clip-gradient-flow.png ]'

# every PNG: decodes, 1200x700, not blank, tEXt provenance
"$png_check" 1200 700 rep/charts/*.png > png.tap; st=$?
sed 's/^/#   /' png.tap | grep 'not ok' || true
check "every PNG decodes with libpng, is 1200x700, not blank, with Title/Software/Source/Config hash ($(grep -c '^ok' png.tap) checks)" \
    '[ $st -eq 0 ] && [ "$(grep -c "^ok" png.tap)" -ge 78 ]'
check "the provenance names the sweep and the database" \
    'grep -a -q "sweep <script>alert(1)</script>, database r.db" rep/charts/flow-map.png'

# every <img> points to an existing file, and every chart is shown
imgs=$(grep -o '<img src="[^"]*"' rep/index.html | sed 's/<img src="//; s/"$//')
broken=""
for i in $imgs; do [ -f "rep/$i" ] || broken="$broken $i"; done
n_img=$(printf '%s\n' "$imgs" | grep -c .)
n_png=$(ls rep/charts/*.png | wc -l)
check "every <img> points to an existing file ($n_img images, broken:${broken:- none})" '[ -z "$broken" ] && [ "$n_img" -eq "$n_png" ]'

# escaping: the sweep is named <script>alert(1)</script>
check "a sweep named <script>alert(1)</script> renders as text" \
    'grep -q "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>" rep/index.html && ! grep -q "<script>alert" rep/index.html'
check "the description is escaped too" 'grep -q "Report test &amp; &quot;escaping&quot; &lt;b&gt;not bold&lt;/b&gt;" rep/index.html'
check "the default folder comes from the name's slug" \
    '"$gs" report r.db >/dev/null && [ -s "reports/_script_alert_1___script_/index.html" ]'

# the page's parts
check "findings are written from the data and link to the chart they read" \
    'grep -q "In flow, sigmoid / xavier: healthy at depth 3 (grad_h_ratio [0-9.e+-]*); vanishing at depth 12" rep/index.html &&
     grep -q "href=\"#flow-gradient-flow\">chart</a>" rep/index.html'
check "sortable table of all runs, diagnosis colour-coded" \
    'grep -q "<table class=\"sortable\" id=\"all-runs\">" rep/index.html && grep -q "class=\"diag diag-vanishing\"" rep/index.html'
# runs.csv: every column of the result table (the runs and theory columns
# after the config keys), and every value as stored
want=$(sqlite3 r.db "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('runs')
  WHERE cid > (SELECT cid FROM pragma_table_info('runs') WHERE name = 'clip_mode')
  UNION ALL SELECT name FROM pragma_table_info('theory') WHERE name != 'run_id')")
got=$(head -1 rep/runs.csv | cut -d, -f4-)
csv_sum=$(awk -F, -v c="$(head -1 rep/runs.csv | tr ',' '\n' | grep -n '^work_bytes$' | cut -d: -f1)" \
    'NR > 1 { s += $c; n++ } END { print n, s }' rep/runs.csv)
db_sum=$(sqlite3 r.db "SELECT count(*), sum(work_bytes) FROM runs")
csv_nulls=$(awk -F, -v c="$(head -1 rep/runs.csv | tr ',' '\n' | grep -n '^diverged_step$' | cut -d: -f1)" \
    'NR > 1 && $c == "" { n++ } END { print n + 0 }' rep/runs.csv)
db_nulls=$(sqlite3 r.db "SELECT count(*) FROM runs WHERE diverged_step IS NULL")
check "runs.csv: every column of the result table in its order, one row per stored cell, work_bytes as stored ($csv_sum; db $db_sum), NULL empty ($csv_nulls diverged_step of $db_nulls)" \
    '[ -n "$want" ] && [ "$got" = "$want" ] && [ "$csv_sum" = "$(echo "$db_sum" | tr "|" " ")" ] &&
     grep -q "href=\"runs.csv\"" rep/index.html && [ "$csv_nulls" = "$db_nulls" ]'
check "provenance: config text, version, hosts, ranks, threads, times" \
    'grep -q "<h2>Provenance</h2>" rep/index.html && grep -q "&lt;script&gt;alert(1)&lt;/script&gt;" rep/index.html &&
     grep -q "<th>threads per rank</th>" rep/index.html && grep -q "gradsweep $("$gs" --version | cut -d" " -f2)" rep/index.html'
check "the page's own markup is not escaped (only text is)" \
    '! grep -Eq "&lt;/?(th|td|tr|p|span|dd|dt|table)&gt;" rep/index.html'
check "self-contained: no http(s) reference" '! grep -Eq "(src|href)=\"(https?:)?//" rep/index.html'

# a running sweep: partial data, and it says so
GRADSWEEP_TEST_CELL_DELAY=0.1 "$gs" run "$cfg_dir/small.ini" --db live.db --threads 1 2>/dev/null &
bg=$!
i=0
while [ $i -lt 100 ] && [ "$(sqlite3 live.db "SELECT count(*) FROM runs" 2>/dev/null || echo 0)" -lt 1 ]; do sleep 0.1; i=$((i + 1)); done
kill -STOP $bg   # hold the run where it is: live, with part of its cells stored
"$gs" report live.db -o live >/dev/null 2>live.err; st=$?
kill -CONT $bg
check "report while a sweep runs: works and says the data is partial (exit $st)" \
    '[ $st -eq 0 ] && grep -q "Partial data:" live/index.html && grep -q "a run is writing the database now" live/index.html'
wait $bg
bg=

# an experiment without data gets no charts
GRADSWEEP_DATA_DIR=/nonexistent "$gs" run "$cfg" --db nodigits.db --threads 1 2>/dev/null
"$gs" report nodigits.db -o nod >/dev/null
check "charts without data are left out, and the section says so" \
    '[ ! -e nod/charts/digits-loss.png ] && [ ! -e nod/charts/digits-accuracy.png ] && [ -e nod/charts/flow-map.png ] &&
     grep -q "No charts: no measurements of this experiment are stored yet" nod/index.html'

check "an experiment's fixed keys are listed as text" 'grep -q "8 cells, 8 stored.</p>" rep/index.html'
# repeats: one line per configuration (the median) with its band, not one
# per cell; the PNG's "Drawn" text counts what was drawn
printf '%s\n' '[sweep]' 'name = rep' '[r]' 'task = train' 'depth = 2' 'width = 8' \
    'activation = relu, tanh' 'steps = 30' 'log_every = 10' 'repeats = 4' > rep.ini
"$gs" run rep.ini --db rep.db --threads 1 2>/dev/null && "$gs" report rep.db -o repr >/dev/null
drawn() { tr '\000' '=' < "$1" | grep -ao "Drawn=[0-9]* lines, [0-9]* bands" | cut -d= -f2; }
check "4 repeats of 2 configurations: the loss chart draws 2 training lines with 2 bands and 2 held-out lines ($(drawn repr/charts/r-loss.png))" \
    '[ "$(drawn repr/charts/r-loss.png)" = "4 lines, 2 bands" ]'
check "... and so does the gradient-flow chart ($(drawn repr/charts/r-gradient-flow.png))" \
    '[ "$(drawn repr/charts/r-gradient-flow.png)" = "2 lines, 2 bands" ]'
check "one cell per configuration: lines without bands, training and held-out ($(drawn rep/charts/clip-loss.png))" \
    '[ "$(drawn rep/charts/clip-loss.png)" = "4 lines, 0 bands" ]'
# an axis a chart has no place for is drawn dashed and named in the caption:
# the gradient-flow chart facets by activation, colours by init, and width
# (2 values) becomes dashes; 2 x 2 x 2 configurations, 3 repeats each
printf '%s\n' '[sweep]' 'name = wide' '[w]' 'task = probe' 'depth = 3' 'width = 8, 16' \
    'activation = relu, tanh' 'init = he, xavier' 'repeats = 3' > wide.ini
"$gs" run wide.ini --db wide.db --threads 1 2>/dev/null && "$gs" report wide.db -o wider >/dev/null
check "a third axis: 8 configurations drawn as 8 lines with bands ($(drawn wider/charts/w-gradient-flow.png)), width dashed and named" \
    '[ "$(drawn wider/charts/w-gradient-flow.png)" = "8 lines, 8 bands" ] &&
     grep -q "Dashed: width 16 (solid: 8)" wider/index.html'
# every chart's data beside it (issue 17): NAME.csv for every NAME.png,
# holding exactly what the chart draws
nocsv=""
for p in rep/charts/*.png; do [ -s "${p%.png}.csv" ] || nocsv="$nocsv $(basename "$p")"; done
check "every chart's data beside it as NAME.csv (missing:${nocsv:- none})" '[ -z "$nocsv" ]'
# the measured lines of the gradient-flow chart are the stored rows, to
# 1e-12 relative (the CSV prints 17 digits)
sqlite3 -separator '|' r.db "SELECT 'depth ' || depth || ' / ' || activation || ' / ' || init, layer,
    grad_pre_norm FROM layer_stats JOIN runs ON runs.id = layer_stats.run_id
    WHERE experiment = 'flow' AND step = 0 AND layer <= depth" | sort -t'|' -k1,1 -k2,2n > flow.want
awk -F, 'NR > 1 && $2 !~ /^theory: / && $3 != "" { print $2 "|" $3 "|" $4 }' rep/charts/flow-gradient-flow.csv |
    sort -t'|' -k1,1 -k2,2n > flow.got
same_rows() {   # two sorted "series|x|y" files: same keys, y within 1e-12 relative
    [ -s "$1" ] && [ "$(wc -l < "$1")" -eq "$(wc -l < "$2")" ] &&
    paste -d'|' "$1" "$2" | awk -F'|' '{ d = $3 - $6; t = 1e-12 * ($3 < 0 ? -$3 : $3)
        if ($1 != $4 || $2 != $5 || d * d > t * t) { print "#   " $0; bad++ } } END { exit bad > 0 }'
}
check "flow-gradient-flow.csv: every configuration's ||dL/dh_l|| as stored ($(wc -l < flow.want) rows)" \
    'same_rows flow.want flow.got'
# the loss charts draw the held-out loss (issue 18) from train_log's rows:
# each configuration's dashed line is its run's heldout_loss at every
# logged step, the training line its loss; the caption's over-fitting
# sentence names the lines that end 10% above their lowest, from the same
# rows (recomputed here in awk)
sqlite3 -separator '|' r.db "SELECT 'held-out: clip ' || coalesce(clip, 'none'), step, heldout_loss
    FROM train_log JOIN runs ON runs.id = train_log.run_id WHERE experiment = 'clip'
    UNION ALL SELECT 'held-out: ' || model, step, heldout_loss FROM train_log
    JOIN runs ON runs.id = train_log.run_id WHERE experiment = 'adding'" |
    sed 's/clip 1\.0|/clip 1|/' | sort -t'|' -k1,1 -k2,2n > held.want
for x in clip adding; do
    awk -F, 'NR > 1 && $1 ~ /^held-out: / { print $1 "|" $2 "|" $3 }' rep/charts/$x-loss.csv
done | sort -t'|' -k1,1 -k2,2n > held.got
nh=$(sqlite3 r.db "SELECT count(*) FROM train_log JOIN runs ON runs.id = run_id
    WHERE experiment IN ('clip', 'adding') AND heldout_loss > 0 AND heldout_rows > 0")
check "clip-loss.csv, adding-loss.csv: each configuration's held-out line is its train_log.heldout_loss at every logged step ($(wc -l < held.want) rows, $nh stored finite)" \
    'same_rows held.want held.got && [ "$nh" -eq "$(wc -l < held.want)" ]'
# overfit DB EXP PAGE: the configurations of EXP (one run each) whose
# heldout_loss ends at least 1.1 times its lowest (not at the last step),
# counted in awk, and those the caption of EXP's loss chart names
overfit() {
    over=$(sqlite3 -separator ' ' "$1" "SELECT runs.id, step, heldout_loss FROM train_log
        JOIN runs ON runs.id = run_id WHERE experiment = '$2' ORDER BY runs.id, step" |
        awk 'function end() { if (n && last >= 1.1 * lo && at != n - 1) k++ }
             $1 != id { end(); id = $1; lo = $3; at = 0; n = 0 }
             { if ($3 < lo) { lo = $3; at = n }; last = $3; n++ }
             END { end(); print k + 0 }')
    cap=$(grep "<figure id=\"$2-loss\">" "$3")
    said=$(printf '%s' "$cap" | grep -o "(lowest [^)]* at step [0-9]*, [^)]* at step [0-9]*)" | wc -l)
}
overfit r.db clip rep/index.html
check "the clip chart's caption names the $over configurations whose held-out line ends 10% above its lowest ($said named)" \
    '[ "$said" -eq "$over" ] && { [ "$over" -gt 0 ] || printf "%s" "$cap" | grep -q "No held-out line ends 10% or more above its lowest"; }'
# random labels (dataset=gaussian) are memorized: the held-out loss turns up
printf '%s\n' '[sweep]' 'name = over' '[m]' 'task = train' 'depth = 2' 'width = 64' \
    'activation = relu, tanh' 'optimizer = adam' 'lr = 1e-2' 'steps = 200' 'log_every = 20' > over.ini
"$gs" run over.ini --db over.db --threads 1 2>/dev/null && "$gs" report over.db -o overr >/dev/null
overfit over.db m overr/index.html
check "random labels memorized: the caption names the $over configurations whose held-out loss ends 10% above its lowest ($said named)" \
    '[ "$over" -gt 0 ] && [ "$said" -eq "$over" ]'
# the weights chart reads one row a histogram (histogram_counts, schema
# 7): each panel's bars are the histograms view's bins of its run's layer
# 2, at their centres, with their counts, in bin order
awk -F, 'NR > 1 { print $2 "|" $3 "|" $4 }' rep/charts/flow-weights.csv > weights.got
cut -d'|' -f1 weights.got | uniq | while read -r label; do
    sqlite3 -separator '|' r.db "SELECT 'depth ' || depth || ' / ' || activation || ' / ' || init,
        printf('%.17g', (h.lo + h.hi) / 2), count FROM histograms h JOIN runs r ON r.id = h.run_id
        WHERE experiment = 'flow' AND 'depth ' || depth || ' / ' || activation || ' / ' || init = '$label'
          AND h.layer = 2 AND h.quantity = 'weight' ORDER BY bin"
done > weights.want
check "flow-weights.csv: each panel's bars are its histogram's bins as the view gives them ($(wc -l < weights.want) bins)" \
    '[ "$(wc -l < weights.got)" -eq 60 ] && paste -d"|" weights.want weights.got | awk -F"|" "{ d = \$2 - \$5
        if (\$1 != \$4 || \$3 != \$6 || d * d > 1e-24 * \$2 * \$2 + 1e-300) bad++ } END { exit bad > 0 }"'
# theory on the chart: one dotted prediction per configuration (mlps
# without norm or residual), anchored at the measured last layer
anchored=$(awk -F, 'NR > 1 && $3 != "" {
        if ($2 ~ /^theory: /) t[substr($2, 9) SUBSEP $3] = $4
        else { m[$2 SUBSEP $3] = $4; split($2, w, " "); d[$2] = w[2] } }
    END { for (s in d) { k = s SUBSEP d[s]; if (k in t) { n++; e = t[k] - m[k]; if (e * e > 1e-24 * m[k] * m[k]) bad++ } }
          print n + 0, bad + 0 }' rep/charts/flow-gradient-flow.csv)
check "the mean-field prediction over the gradient flow: 8 theory lines, each anchored at its measured last layer ($anchored; $(drawn rep/charts/flow-gradient-flow.png))" \
    '[ "$anchored" = "8 0" ] && tr "\000" "=" < rep/charts/flow-gradient-flow.png | grep -aq "Drawn=8 lines, 0 bands, 8 theory lines"'
check "the legend says which line is theory and the caption what it is" \
    'tr "\000" "=" < rep/charts/flow-gradient-flow.png | grep -aq "dotted: mean-field theory" &&
     grep -q "mean-field theory&#39;s prediction" rep/index.html'

# 16-digit gains (an edge-of-chaos grid) read with 4 digits in legends and
# ticks (png_check reads the Ticks and Legend chunks); layers tick as
# integers
printf '%s\n' '[sweep]' 'name = edge' '[e]' 'task = probe' 'depth = 3' 'width = 8' 'activation = tanh' \
    'init = lecun' 'gain = 0.7071067811865476, 1.224744871391589' 'bias_std = 0, 0.22360679774997896' > edge.ini
"$gs" run edge.ini --db edge.db --threads 1 2>/dev/null && "$gs" report edge.db -o edger >/dev/null
"$png_check" 1200 700 edger/charts/*.png > edge.tap; st=$?
sed 's/^/#   /' edge.tap | grep 'not ok' || true
check "16-digit gains: every tick and legend label has at most 4 significant digits ($(grep -c 'labels recorded' edge.tap) charts' labels)" \
    '[ $st -eq 0 ] && grep -q "Legend labels recorded" edge.tap &&
     tr "\000" "\n" < edger/charts/e-gradient-flow.png | grep -aqx "0.7071" &&
     ! grep -aq "0.7071067811865476" edger/charts/e-gradient-flow.png'
check "a 3-layer axis ticks 1, 2, 3 and nothing between" \
    'tr "\000" "\n" < edger/charts/e-gradient-flow.png | grep -a -A3 "Ticks$" | tr "\n" " " | grep -q "Ticks 1 2 3 "'

# accuracy bars: the median over repeats with a 10-90% whisker, as
# computed from the stored test_acc of the repeats (linear interpolation)
printf '%s\n' '[sweep]' 'name = acc' '[a]' 'task = train' 'dataset = digits' 'depth = 2' 'width = 8' \
    'activation = relu, sigmoid' 'optimizer = adam' 'lr = 1e-2' 'steps = 20' 'log_every = 10' 'repeats = 5' > acc.ini
"$gs" run acc.ini --db acc.db --threads 1 2>/dev/null && "$gs" report acc.db -o accr >/dev/null
sqlite3 -separator '|' acc.db "SELECT activation, test_acc FROM runs WHERE experiment = 'a' AND test_acc IS NOT NULL
    ORDER BY activation, test_acc" | awk -F'|' '
    function q(p,   pos, k) { pos = p * (n - 1); k = int(pos); return k + 1 < n ? v[k] + (pos - k) * (v[k + 1] - v[k]) : v[n - 1] }
    function out() { if (n) printf "%s|%.17g|%.17g|%.17g\n", a, q(0.5), q(0.1), q(0.9) }
    $1 != a { out(); a = $1; n = 0 } { v[n++] = $2 } END { out() }' | sort > acc.want
awk -F, 'NR > 1 && $2 != "" { print $1 "|" $3 "|" $4 "|" $5 }' accr/charts/a-accuracy.csv | sort > acc.got
whiskers_match() {
    [ "$(wc -l < acc.want)" -eq 2 ] && [ "$(wc -l < acc.got)" -eq 2 ] &&
    paste -d'|' acc.want acc.got | awk -F'|' '{ for (i = 2; i <= 4; i++) { d = $i - $(i + 4); if (d * d > 1e-24) bad++ }
        if ($1 != $5) bad++ } END { exit bad > 0 }'
}
check "accuracy whiskers: median and 10-90% of each configuration's 5 repeats as stored ($(tr '\n' ' ' < acc.got))" \
    'whiskers_match && tr "\000" "=" < accr/charts/a-accuracy.png | grep -aq "Drawn=[0-9]* lines, 0 bands, 0 theory lines, 2 whiskers"'
check "... and the caption says so" 'grep -q "with the whisker from their 10% to their 90% quantile" accr/index.html'
# charts drawn over worker processes: every file the same as one process
# writes (the report's time fixed by SOURCE_DATE_EPOCH), whatever the
# number of workers
for j in 1 2 3; do
    SOURCE_DATE_EPOCH=1700000000 "$gs" report r.db -o "jobs$j" --jobs $j >/dev/null 2>"jobs$j.err" || echo "jobs $j: exit $?" >> jobs.fail
done
same_files() {   # every file of $1 in $2, byte for byte, and no other
    [ "$(cd "$1" && find . -type f | sort)" = "$(cd "$2" && find . -type f | sort)" ] || return 1
    bad=0
    for f in $(cd "$1" && find . -type f); do
        cmp -s "$1/$f" "$2/$f" || { echo "#   $f differs"; bad=1; }
    done
    return $bad
}
check "--jobs 2 and --jobs 3 write every file byte for byte as --jobs 1 does ($(find jobs1 -type f | wc -l) files)" \
    '[ ! -e jobs.fail ] && same_files jobs1 jobs2 && same_files jobs1 jobs3'
check "... and as the default number of jobs does" \
    'SOURCE_DATE_EPOCH=1700000000 "$gs" report r.db -o jobsd >/dev/null && same_files jobs1 jobsd'
check "the report's time is SOURCE_DATE_EPOCH's, on the charts and the page" \
    'grep -q "2023-11-14T22:13:20Z by gradsweep" jobs1/index.html &&
     tr "\000" "=" < jobs1/charts/flow-map.png | grep -aq "Creation Time=2023-11-14T22:13:20Z"'
# a worker that dies while writing a chart: the report fails, says which
# chart, and no temporary (half-written) file is left
rm -rf crash && cp -R jobs1 crash
msg=$(GRADSWEEP_TEST_REPORT_CRASH=flow-map.png "$gs" report r.db -o crash --jobs 2 2>&1 >/dev/null); st=$?
check "a report worker killed while writing flow-map.png: exit 1, the chart named ($msg)" \
    '[ $st -eq 1 ] && printf "%s" "$msg" | grep -q "was killed by signal 9 (Killed) while drawing the map chart of experiment flow"'
check "... nothing half-written left (no *.tmp.* file) and the chart's old file intact" \
    '[ -z "$(find crash -name "*.tmp.*")" ] && cmp -s crash/charts/flow-map.png jobs1/charts/flow-map.png'
msg=$("$gs" report r.db --jobs 0 2>&1); st=$?
check "--jobs 0 is refused with exit 2 ($msg)" '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "jobs wants a whole number"'

msg=$("$gs" report nonexistent.db 2>&1); st=$?
check "a missing database is an error ($msg)" '[ $st -ne 0 ] && printf "%s" "$msg" | grep -q "nonexistent.db: no such database"'
finish
