#!/bin/sh
# The commands of a daily user (issue 18): compare, run --reuse, KEY=VALUE
# overrides, the size limit (--yes), and the messages for input that
# deserves a better answer. Each check fails when the code is wrong: the
# numbers are checked against the databases with SQL of their own.
. "${top_srcdir:-.}/tests/sweep_lib.sh"
small="$cfg_dir/small.ini"
cd "$work" || exit 1
q() { sqlite3 "$1" "$2"; }

# the reference: the small sweep, one process
"$gs" run "$small" --db ref.db --threads 1 2>/dev/null; st=$?
check "reference run (exit $st)" '[ $st -eq 0 ]'
dump_rows ref.db > ref.rows

# ---- compare ----
cp ref.db same.db
out=$("$gs" compare ref.db same.db); st=$?
ident=$("$gs" compare ref.db same.db --csv | awk -F, 'NR > 1 { s += $(NF - 1) } END { print s }')
check "compare a database with its copy: 30 pairs by config hash, every one identical, none changed (exit $st, $ident identical)" \
    '[ $st -eq 0 ] && printf "%s\n" "$out" | grep -q "^paired 30 cells: 30 by config hash" &&
     printf "%s\n" "$out" | grep -q "^0 changed pairs" && [ "$ident" = 30 ]'

# a cell only in one: its runs row deleted (its rows go with it)
cp ref.db part.db
gone=$(q ref.db "SELECT config_hash FROM runs WHERE experiment = 'train' ORDER BY config_hash LIMIT 1")
q part.db "PRAGMA foreign_keys = ON; DELETE FROM runs WHERE config_hash = '$gone'"
out=$("$gs" compare ref.db part.db); st=$?
check "compare: a cell deleted from B is listed only in A, by its hash; the other 29 pair by hash (exit $st)" \
    '[ $st -eq 0 ] && printf "%s\n" "$out" | grep -q "29 by config hash.*; 1 only in A, 0 only in B" &&
     printf "%s\n" "$out" | sed -n "/^only in ref.db (1):/,\$p" | grep -q "($gone, done)" &&
     printf "%s\n" "$out" | grep -Eq "^train +7 +7 .* 1 +0$"'

# another seed: every cell pairs by experiment, key and repeat; the
# changed pairs are those SQL finds changed over the same pairing
"$gs" run "$small" seed=12 --db seed12.db --threads 1 2>/dev/null; st=$?
out=$("$gs" compare ref.db seed12.db)
"$gs" compare ref.db seed12.db --csv > seed12.csv
want=$(sqlite3 ref.db "ATTACH 'seed12.db' AS b;
  SELECT count(*) FROM runs a JOIN b.runs r USING (experiment, canonical_key, repeat)
   WHERE a.status != r.status OR coalesce(a.diagnosis, '') != coalesce(r.diagnosis, '')
      OR coalesce(a.diagnosis_final, '') != coalesce(r.diagnosis_final, '')
      OR (a.test_acc IS NULL) != (r.test_acc IS NULL) OR abs(a.test_acc - r.test_acc) > 0.01")
got=$(awk -F, 'NR > 1 && $NF != "" { n++ } END { print n + 0 }' seed12.csv)
keys=$(awk -F, 'NR > 1 && $2 == "keys" { n++ } END { print n + 0 }' seed12.csv)
listed=$(printf '%s\n' "$out" | sed -n '/changed pair/,/^$/p' | grep -c '^  \[')
check "compare with another seed (exit $st): 30 pairs by key and repeat ($keys), changed pairs as SQL counts them ($got CSV rows, $listed listed, SQL $want)" \
    '[ $st -eq 0 ] && [ "$keys" = 30 ] && [ "$want" -gt 0 ] && [ "$got" = "$want" ] && [ "$listed" = "$want" ] &&
     printf "%s\n" "$out" | grep -q "^$want changed pairs"'

# one key changed (steps of [train]): paired by every key but that one,
# and nothing else paired wrongly (the depth axis has three values that
# differ in one key too, but never one-to-one)
"$gs" run "$small" steps=300 --experiment train --db steps.db --threads 1 2>/dev/null
"$gs" compare ref.db steps.db --csv > steps.csv
bad=$(awk -F, 'NR > 1 && $2 == "one_key" { a = $7; b = $8; sub(/steps=500/, "steps=300", a); if ($3 != "steps" || a != b) n++ } END { print n + 0 }' steps.csv)
v=$(awk -F, 'NR > 1 { print $2 }' steps.csv | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
out=$("$gs" compare ref.db steps.db)
check "compare with steps 500 -> 300 in [train]: 8 pairs by every key but steps, 22 only in A ($v; $bad wrong)" \
    '[ "$v" = "one_key:8 only_a:22 " ] && [ "$bad" -eq 0 ] &&
     printf "%s\n" "$out" | grep -q "8 by all keys but one (steps changed)"'
msg=$("$gs" compare ref.db 2>&1); st=$?
msg2=$("$gs" compare ref.db nothere.db 2>&1); st2=$?
check "compare: a missing argument or database exits 2 ($msg; $msg2)" \
    '[ $st -eq 2 ] && [ $st2 -eq 2 ] && printf "%s" "$msg" | grep -q "which second database" &&
     printf "%s" "$msg2" | grep -q "nothere.db"'

# ---- run --reuse ----
"$gs" run "$small" --experiment depth --db depth.db --threads 1 2>/dev/null
out=$("$gs" plan "$small" --db reused.db --reuse depth.db)
check "plan --reuse counts the 18 reusable cells and leaves them out of what is to run" \
    'printf "%s\n" "$out" | grep -q "^\[depth\] line 8: 18 cells.*, 0 stored, 18 reusable" &&
     printf "%s\n" "$out" | grep -q "depth.db offers 18 of the cells not stored" &&
     printf "%s\n" "$out" | grep -q "reused.db does not exist yet: 12 cells to run"'
"$gs" run "$small" --db reused.db --reuse depth.db --threads 1 2>reuse.err; st=$?
v=$(q reused.db "PRAGMA foreign_key_check; PRAGMA integrity_check;
  SELECT count(*) FROM runs WHERE session_id = (SELECT max(id) FROM sessions)")
check "run --reuse: 18 cells copied, counted as reused, 12 run (exit $st; $(echo $v))" \
    '[ $st -eq 0 ] && grep -q "30 cells, 18 stored already (18 of them reused: copied from depth.db), 12 to run" reuse.err &&
     grep -q "done: 12 cells stored" reuse.err && [ "$v" = "ok
30" ]'
check "run --reuse: every stored number identical to the run that computed all 30" \
    'dump_rows reused.db | cmp -s - ref.rows'
# what is reused is what is stored there, rows and all: a number changed
# in OTHER shows up in the copy (so the rows are copied, not recomputed)
cp depth.db doctored.db
q doctored.db "UPDATE layer_stats SET grad_w_norm = 12345.5 WHERE layer = 1"
"$gs" run "$small" --experiment depth --db doc2.db --reuse doctored.db 2>/dev/null
v=$(q doc2.db "SELECT count(*) FROM layer_stats WHERE layer = 1 AND grad_w_norm = 12345.5")
check "run --reuse copies the child rows as stored in OTHER (18 of 18: $v)" '[ "$v" = 18 ]'
# a seeding that differs: refused before anything is created or changed
cp depth.db percell.db
q percell.db "UPDATE sweeps SET seeding = 'per_cell'"
msg=$("$gs" run "$small" --db new.db --reuse percell.db 2>&1); st=$?
msg2=$("$gs" plan "$small" --db new.db --reuse percell.db 2>&1 >/dev/null); st2=$?
check "run --reuse of a database seeded per_cell: exit 2, says why, creates nothing; plan says the same ($st, $st2: $msg)" \
    '[ $st -eq 2 ] && [ $st2 -eq 2 ] && printf "%s" "$msg" | grep -q "seeded per_cell and this run.s are seeded paired" &&
     [ ! -e new.db ] && printf "%s" "$msg2" | grep -q "seeded per_cell"'
cp ref.db had.db
msg=$("$gs" run "$small" --db had.db --reuse percell.db 2>&1); st=$?
check "... and on an existing database every row stays ($st)" '[ $st -eq 2 ] && dump_rows had.db | cmp -s - ref.rows'
# a cell stored as failed there is run, not reused
GRADSWEEP_DATA_DIR=/nonexistent "$gs" run "$small" --experiment digits --db failed.db 2>/dev/null
"$gs" run "$small" --experiment digits --db fixed.db --reuse failed.db 2>fixed.err; st=$?
v=$(q fixed.db "SELECT status FROM runs")
check "run --reuse leaves a cell stored as failed in OTHER to be run (exit $st, $v)" \
    '[ $st -eq 0 ] && [ "$v" = done ] && grep -q "(0 of them reused" fixed.err'

# under mpirun (2 ranks), an override with --reuse: the probes copied, the
# training cells run on both ranks, the rows those of one process
# computing everything
if command -v mpiexec >/dev/null 2>&1 && "$gs" --version | grep -q "with MPI"; then
    mpirun_gs 2 run "$small" lr=0.1 --db mpi.db --reuse ref.db --threads 1 2>mpi.err; st=$?
    "$gs" run "$small" lr=0.1 --db lr.db --threads 1 2>/dev/null
    check "mpirun -np 2 run lr=0.1 --reuse: 21 cells reused, 9 run, rows identical to one process computing all 30 (exit $st)" \
        '[ $st -eq 0 ] && grep -q "21 stored already (21 of them reused: copied from ref.db), 9 to run on 2 ranks" mpi.err &&
         dump_rows mpi.db | cmp -s - "$(dump_rows lr.db > lr.rows; echo lr.rows)"'
else
    ok "# SKIP mpirun: no mpiexec, or gradsweep built without MPI"
fi

# ---- overrides ----
out=$("$gs" plan "$small" activation=tanh steps=10 --db ov.db)
check "plan with overrides: they replace an axis (activation) and a key (steps) in every experiment" \
    'printf "%s\n" "$out" | grep -q "^\[depth\] line 8: 6 cells" && printf "%s\n" "$out" | grep -q "^\[train\] line 15: 4 cells" &&
     printf "%s\n" "$out" | grep -q "overrides (\[overrides\], every experiment): activation=tanh, steps=10" &&
     printf "%s\n" "$out" | grep -q "first cell: .*activation=tanh.*steps=10"'
"$gs" run "$small" steps=10 --experiment train --db ov.db --threads 1 2>/dev/null; st=$?
v=$(q ov.db "SELECT DISTINCT steps FROM runs; SELECT max(step) FROM train_log;
  SELECT count(*) FROM runs WHERE config_hash IN (SELECT config_hash FROM runs)")
new=$(sqlite3 ov.db "ATTACH 'ref.db' AS r; SELECT count(*) FROM runs WHERE config_hash NOT IN (SELECT config_hash FROM r.runs)")
text=$(q ov.db "SELECT config_text FROM sweeps")
st_out=$("$gs" status ov.db)
check "run with steps=10: 8 cells of 10 steps, all with new config hashes ($new), the override stored with the config text, status sees the same cells (exit $st; $(echo $v))" \
    '[ $st -eq 0 ] && [ "$v" = "10
10
8" ] && [ "$new" = 8 ] && printf "%s\n" "$text" | grep -q "^\[overrides\]" &&
     printf "%s\n" "$text" | grep -q "^steps = 10$" && printf "%s\n" "$st_out" | grep -Eq "^train +8 " &&
     ! printf "%s\n" "$st_out" | grep -q "not in the config"'
# prune with the config alone would count the overridden cells as gone
msg=$("$gs" prune "$small" --db ov.db 2>&1); st=$?
v=$(q ov.db "SELECT count(*) FROM runs")
out=$("$gs" prune "$small" steps=10 --db ov.db 2>&1); st2=$?
v2=$(q ov.db "SELECT count(*) FROM runs")
check "prune without the run's overrides: exit 2, nothing deleted ($v); with them: nothing to prune ($st2: $out; $v2)" \
    '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "last run with the overrides .steps=10., not ..: their cells differ" &&
     [ "$v" = 8 ] && [ $st2 -eq 0 ] && [ "$v2" = 8 ] && printf "%s" "$out" | grep -q "^pruned 0 stored cells"'
out=$("$gs" plan "$small" --db ov.db)
check "plan names the overrides a database was run with when they differ" \
    'printf "%s\n" "$out" | grep -q "ov.db.s sweep was run with the overrides .steps=10., this plan has ..: their cells differ"'
for spec in "steps=abc:override 'steps=abc': steps=abc: not an integer" \
            "detph=3:override 'detph=3': unknown key 'detph'" \
            "activation=relu,tanh:an override takes one value" \
            "name=x:name belongs in the config's \[sweep\] section"; do
    word=${spec%%:*} pattern=${spec#*:}
    msg=$("$gs" run "$small" "$word" --db bad.db 2>&1); st=$?
    msg2=$("$gs" plan "$small" "$word" --db bad.db 2>&1); st2=$?
    check "override $word: run and plan exit 2 naming it, no database ($msg)" \
        '[ $st -eq 2 ] && [ $st2 -eq 2 ] && printf "%s" "$msg" | grep -q "$pattern" &&
         printf "%s" "$msg2" | grep -q "$pattern" && [ ! -e bad.db ]'
done
msg=$("$gs" run "$small" steps=10 steps=20 --db bad.db 2>&1); st=$?
check "an override given twice: exit 2 ($msg)" '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "steps is already set by .steps=10."'

# ---- the size limit ----
out=$("$gs" plan "$small" steps=100000000 --db huge.db)
check "plan: the size up front, and a warning past the limit" \
    'printf "%s\n" "$out" | sed -n 2p | grep -q "^size: 30 cells, ~81.1 h of estimated core time" &&
     printf "%s\n" "$out" | sed -n 3p | grep -q "^warning: a big sweep: .* run refuses it without --yes"'
msg=$("$gs" run "$small" steps=100000000 --db huge.db 2>&1); st=$?
check "run past the limit without --yes: exit 2, how big and how to go on, no database ($msg)" \
    '[ $st -eq 2 ] && printf "%s" "$msg" | grep -q "a big sweep: 30 cells, ~81.1 h" &&
     printf "%s" "$msg" | grep -q "steps=100000000 --db huge.db --yes" && [ ! -e huge.db ]'
msg=$("$gs" run "$small" steps=100000000 --yes --db /proc/no/such.db 2>&1); st=$?
check "with --yes it goes past the check (to the database's error here: exit $st)" \
    '[ $st -eq 1 ] && ! printf "%s" "$msg" | grep -q "big sweep"'
out=$("$gs" plan "$small")
check "a small sweep: its size, no warning" \
    'printf "%s\n" "$out" | grep -q "^size: 30 cells" && ! printf "%s\n" "$out" | grep -q "big sweep"'

# ---- input messages (issue 18's list) ----
# expect2 DESCRIPTION PATTERN ARGS...: exit 2, stderr matches
expect2() {
    _d=$1 _p=$2
    shift 2
    _m=$("$gs" "$@" 2>&1 >/dev/null); _s=$?
    check "$_d: exit 2 ($_m)" '[ $_s -eq 2 ] && printf "%s" "$_m" | grep -q -- "$_p"'
}
mkdir adir
expect2 "a folder given as a config says so" "adir: a folder, not a file" plan adir
printf '[sweep]\nname = t\nvanishing_below = 1e5\n\n[a]\ntask = probe\ndepth = 2, 3\n' > thr.ini
expect2 "vanishing_below = 1e5 in [sweep]: reported at its line in [sweep]" \
    "thr.ini:3: \[sweep\] exploding_above=10000 must be larger than vanishing_below=100000" plan thr.ini
printf '[sweep]\nname = t\n\n[a]\ntask = probe\ndepth = 2  # two layers\n' > hash.ini
expect2 "a '#' inline comment: says inline comments start with ';'" \
    "hash.ini:6: \[a\] depth=2  # two layers: not an integer.*an inline comment starts with ';'" plan hash.ini
printf '[sweep]\nname = t\n\n[a]\ntask = probe\n  depth = 2\n' > indent.ini
expect2 "an indented key line: says it continues the previous value" \
    "indent.ini:6: \[a\] 'depth = 2': this line is indented, so INI reads it as more of the value of task (line 5)" plan indent.ini
awk 'BEGIN { print "[sweep]\nname = t\n\n[a]\ntask = probe\nwidth ="
  for (i = 1; i <= 1500; i++) { s = s (i == 701 ? "" : i) (i < 1500 ? ", " : "");
    if (i % 20 == 0) { print "    " s; s = "" } } print "    " s }' > empty.ini
msg=$("$gs" plan empty.ini 2>&1); st=$?
len=$(printf '%s' "$msg" | wc -c)
check "an empty item in a 1,500-value list: item and place named, the echo short ($len bytes: $msg)" \
    '[ $st -eq 2 ] && [ "$len" -lt 300 ] && printf "%s" "$msg" | grep -q "item 701 of the list.s 1500 is empty" &&
     printf "%s" "$msg" | grep -q "699, 700, , 702"'
expect2 "probe depth=4 depth=8: refused as the same in an INI is" "'depth=4' and 'depth=8' both set depth" probe depth=4 depth=8
expect2 "probe task=train: refused, naming the command to use" "this command sets task=probe; for task=train run gradsweep train" probe task=train
th=$("$gs" train --help | grep -A1 '^  task ')
check "train --help: task shown as set by the command, not 'default: probe' ($th)" \
    'printf "%s" "$th" | grep -q "set by this command: train" && ! printf "%s" "$th" | grep -q "default: probe"'

finish
