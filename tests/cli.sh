#!/bin/sh
# The gradsweep command line: bad input exits 2 with a message naming the
# key, what was wrong and the allowed values, and computes nothing; good
# input prints the documented output shapes.
. "${top_srcdir:-.}/tests/tap.sh"
gs="$(cd "${top_builddir:-.}" && pwd)/src/gradsweep"

# expect_bad "description" "regex the message must match" args...
expect_bad() {
    desc=$1 pattern=$2
    shift 2
    out=$("$gs" "$@" 2>&1 >/dev/null)
    st=$?
    if [ "$st" -eq 2 ] && printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
        ok "$desc: exit 2, message names it"
    else
        notok "$desc: got exit $st and: $out"
    fi
}

expect_bad "unknown key" "unknown key 'detph'.*known keys: model" probe detph=3
expect_bad "unknown activation" "activation=swish: unknown activation; allowed: identity, sigmoid, tanh, relu, leaky_relu\(a\)" probe activation=swish
expect_bad "unknown init" "init=glorot: unknown init; allowed: xavier" probe init=glorot
expect_bad "unknown norm" "norm=group: unknown value; allowed: none, batch, layer" probe norm=group
expect_bad "unknown optimizer" "optimizer=lbfgs: unknown optimizer; allowed: sgd, momentum, rmsprop, adam" train optimizer=lbfgs
expect_bad "depth 0" "depth=0: out of range; allowed: an integer from 1 to 10000" probe depth=0
expect_bad "depth not a number" "depth=ten: not an integer" probe depth=ten
expect_bad "negative learning rate" "lr=-0.1: must be positive; allowed: a positive number" train lr=-0.1
expect_bad "learning rate nan" "lr=nan: not a finite number" train lr=nan
expect_bad "clip not positive" "clip=0: not a positive number; allowed: none, or a positive number" train clip=0
expect_bad "parameter on a plain activation" "activation=tanh\(2\): this activation takes no parameter" probe 'activation=tanh(2)'
expect_bad "width too big for memory" "width=10000000.*GiB.*memory; lower width" probe width=10000000 depth=100
expect_bad "batch too big for memory" "batch=100000000: the model and its data need .* GiB, more than 80% of this machine's" probe batch=100000000
expect_bad "batch larger than the digits training set" "batch=5000: larger than the 1438 training rows of dataset=digits" train dataset=digits batch=5000
expect_bad "not key=value" "'depth' is not of the form key=value" probe depth
expect_bad "unknown option" "unknown option '--fast'" probe --fast
expect_bad "unknown command" "unknown command 'prob'" prob
expect_bad "thresholds crossed" "exploding_above=0.001 must be larger than vanishing_below=0.01" probe vanishing_below=0.01 exploding_above=0.001
expect_bad "input_dim with digits" "input_dim=5: dataset=digits has 64 inputs" probe dataset=digits input_dim=5

# recurrent models
expect_bad "seq_len 0" "seq_len=0: out of range; allowed: an integer from 1 to 100000" probe model=rnn seq_len=0
expect_bad "batch norm with a recurrent model" "norm=batch: recurrent models \(model=lstm\) support norm=none only" probe model=lstm norm=batch
expect_bad "residual with a recurrent model" "residual=yes: recurrent models \(model=gru\) support residual=no only" probe model=gru residual=yes
expect_bad "activation with a gated cell" "activation=relu: model=lstm uses its standard sigmoid gates and tanh; allowed: tanh" probe model=lstm activation=relu
expect_bad "adding with an mlp" "dataset=adding: needs a recurrent model; allowed with model=rnn, lstm, gru" train dataset=adding
expect_bad "digits read with another seq_len" "seq_len=50: dataset=digits is read as 8 rows of 8 pixels; allowed: 8" train model=rnn dataset=digits
expect_bad "unknown model" "model=cnn: unknown value; allowed: mlp, rnn, lstm, gru, transformer" probe model=cnn
# transformers (issue 21)
expect_bad "heads not dividing width" "heads=3: must divide width=16" probe model=transformer width=16 heads=3
expect_bad "tokens with an mlp" "dataset=tokens: needs model=transformer" probe dataset=tokens
expect_bad "transformer and gaussian" "dataset=gaussian: model=transformer reads token sequences; allowed: dataset=tokens" probe model=transformer dataset=gaussian
expect_bad "charlm with too few symbols" "charlm needs vocab >= 96" train model=transformer dataset=charlm width=16
expect_bad "a transformer's loss scale in float64" "loss_scale, master_weights and rounding apply to a reduced precision" train model=transformer loss_scale=dynamic width=16

# bad input computes nothing: no output on stdout
if [ -z "$("$gs" train depth=0 2>/dev/null)" ]; then ok "bad input prints nothing on stdout"; else notok "bad input printed on stdout"; fi

# --help and --version
if "$gs" --help | grep -q "probe" && "$gs" probe --help | grep -q "leaky_relu(a)" \
   && "$gs" train --help | grep -Eq "default: 1000"; then
    ok "--help lists commands and keys with values and defaults"
else
    notok "--help"
fi
if "$gs" --version | grep -Eq '^gradsweep [0-9]+\.[0-9]+'; then ok "--version"; else notok "--version"; fi

# probe --csv: exact header, one row per hidden layer, result line on stderr
csv=$("$gs" probe depth=7 width=16 --csv 2>"$work/err")
hdr=$(printf '%s\n' "$csv" | head -n 1)
rows=$(printf '%s\n' "$csv" | tail -n +2 | wc -l)
if [ "$hdr" = "layer,act_mean,act_std,saturated_frac,dead_frac,grad_pre_norm,grad_w_norm,w_norm,twin_rel_err,twin_cos" ] && [ "$rows" -eq 7 ]; then
    ok "probe --csv: header and 7 rows"
else
    notok "probe --csv: header '$hdr', $rows rows"
fi
if grep -Eq '^result: diagnosis=(healthy|vanishing|exploding|dead|diverged) grad_h_ratio=[^ ]+ grad_ratio=' "$work/err"; then
    ok "probe --csv: result line on stderr"
else
    notok "probe --csv: no result line on stderr"
fi
# grad_ratio is grad_w_norm(layer 1) / grad_w_norm(layer depth) of the CSV
want=$(printf '%s\n' "$csv" | awk -F, 'NR == 2 { a = $7 } END { printf "%.6e", a / $7 }')
got=$(sed -n 's/.*grad_ratio=\([^ ]*\).*/\1/p' "$work/err")
if [ -n "$got" ] && [ "$got" = "$want" ]; then
    ok "probe: grad_ratio $got = grad_w_norm(1) / grad_w_norm(7)"
else
    notok "probe: grad_ratio '$got', CSV gives '$want'"
fi
rm -f "$work/err"

# the deck's contrast: deep sigmoid vanishes, ReLU + He at the same depth does not
if "$gs" probe depth=30 activation=sigmoid init=xavier | grep -q '^result: diagnosis=vanishing'; then
    ok "depth 30 sigmoid/xavier: vanishing"
else
    notok "depth 30 sigmoid/xavier should vanish"
fi
if "$gs" probe depth=30 activation=relu init=he | grep -q '^result: diagnosis=healthy'; then
    ok "depth 30 relu/he: healthy"
else
    notok "depth 30 relu/he should be healthy"
fi
if "$gs" probe depth=30 activation=tanh 'init=normal(1)' | grep -q '^result: diagnosis=exploding'; then
    ok "depth 30 tanh with N(0,1) weights (chaotic phase): exploding"
else
    notok "depth 30 tanh normal(1) should explode"
fi

# transformer probe --csv: block_stats' columns, 9 rows per block (q k v
# o w1 w2 ln1 ln2 block), the result line with output_change on stderr
csv=$("$gs" probe model=transformer depth=2 width=8 heads=2 seq_len=4 batch=2 --csv 2>"$work/err")
want="layer,sublayer,grad_w_norm,w_norm,update_ratio,grad_x_norm,rms,token_cosine,rank_residual,attn_entropy_min,attn_logit_max"
if [ "$(printf '%s\n' "$csv" | head -n 1)" = "$want" ] && [ "$(printf '%s\n' "$csv" | tail -n +2 | wc -l)" -eq 18 ] &&
   [ "$(printf '%s\n' "$csv" | grep -c ',block,')" -eq 2 ] &&
   grep -Eq '^result: diagnosis=[a-z]+ grad_h_ratio=[^ ]+ grad_ratio=[^ ]+ output_change=[0-9.e-]+$' "$work/err"; then
    ok "transformer probe --csv: block_stats' header, 18 rows (2 blocks), output_change on the result line"
else
    notok "transformer probe --csv: $csv / $(cat "$work/err")"
fi
# recurrent probe --csv: exact header, one row per time step
csv=$("$gs" probe model=lstm depth=1 width=16 seq_len=12 --csv 2>/dev/null)
if [ "$(printf '%s\n' "$csv" | head -n 1)" = "t,hidden_norm,grad_hidden_norm" ] \
   && [ "$(printf '%s\n' "$csv" | tail -n +2 | wc -l)" -eq 12 ]; then
    ok "recurrent probe --csv: header t,hidden_norm,grad_hidden_norm and 12 rows"
else
    notok "recurrent probe --csv: $csv"
fi
# grad_h_ratio = grad_hidden_norm(t=1) / grad_hidden_norm(t=T)
err=$("$gs" probe model=gru depth=1 width=16 seq_len=12 --csv 2>&1 >/dev/null)
want=$("$gs" probe model=gru depth=1 width=16 seq_len=12 --csv 2>/dev/null |
       awk -F, 'NR == 2 { a = $3 } END { printf "%.6e", a / $3 }')
got=$(printf '%s\n' "$err" | sed -n 's/.*grad_h_ratio=\([^ ]*\).*/\1/p')
if [ -n "$got" ] && [ "$got" = "$want" ]; then ok "recurrent grad_h_ratio $got = grad_hidden_norm(1) / grad_hidden_norm(T)"; else notok "recurrent grad_h_ratio '$got' vs '$want'"; fi
# at seq_len 100 the plain RNN's gradient ratio is many orders of magnitude below the LSTM's
r_rnn=$("$gs" probe model=rnn depth=1 width=32 seq_len=100 | sed -n 's/.*grad_h_ratio=\([^ ]*\).*/\1/p')
r_lstm=$("$gs" probe model=lstm depth=1 width=32 seq_len=100 | sed -n 's/.*grad_h_ratio=\([^ ]*\).*/\1/p')
if awk -v a="$r_rnn" -v b="$r_lstm" 'BEGIN { exit !(a > 0 && b / a > 1e6) }'; then
    ok "seq_len 100: rnn grad_h_ratio $r_rnn, lstm $r_lstm (over 6 orders of magnitude apart)"
else
    notok "seq_len 100: rnn $r_rnn vs lstm $r_lstm"
fi
# adding: the result line ends with the baseline, test_acc is nan
res=$("$gs" train model=gru dataset=adding depth=1 width=8 seq_len=10 steps=20 2>/dev/null | tail -n 1)
if printf '%s\n' "$res" | grep -Eq '^result: status=done .* test_acc=nan .* baseline_loss=0\.1[5-8][0-9]*$'; then
    ok "adding: result line with test_acc=nan and baseline_loss ~ 1/6"
else
    notok "adding result: $res"
fi
# digits read as 8 steps of 8 pixels: a small LSTM learns
res=$("$gs" train model=lstm dataset=digits seq_len=8 depth=1 width=32 optimizer=adam lr=1e-2 steps=300 batch=32 2>/dev/null | tail -n 1)
if printf '%s\n' "$res" | grep -Eq 'test_acc=0\.(9|8[5-9])'; then
    ok "digits as sequences: an LSTM learns ($res)"
else
    notok "digits as sequences: $res"
fi

# train: result line shape, csv rows
res=$("$gs" train dataset=digits depth=2 width=32 activation=relu init=he optimizer=adam lr=1e-3 steps=200 batch=32 2>/dev/null | tail -n 1)
if printf '%s\n' "$res" | grep -Eq '^result: status=done diagnosis=healthy train_loss=[0-9.e+-]+ test_loss=[0-9.e+-]+ test_acc=0\.(9[0-9]|8[5-9])[0-9]* clip_fraction=0\.0000 diverged_step=none diagnosis_final=healthy grad_h_ratio=[0-9.e+-]+ grad_h_ratio_final=[0-9.e+-]+$'; then
    ok "train: result line, small digits net learns (>= 0.85 after 200 steps)"
else
    notok "train result: $res"
fi
csv=$("$gs" train depth=3 steps=50 log_every=10 clip=0.1 --csv 2>/dev/null)
hdr=step,layer,loss,grad_norm,grad_norm_clipped,clipped,heldout_loss,heldout_acc,grad_w_norm,w_norm,update_ratio,dead_frac,saturated_frac,grad_h_first,grad_h_last,lost_update_frac
if [ "$(printf '%s\n' "$csv" | head -n 1)" = "$hdr" ] \
   && [ "$(printf '%s\n' "$csv" | tail -n +2 | cut -d, -f1 | uniq | tr '\n' ' ')" = "1 10 20 30 40 50 " ] \
   && [ "$(printf '%s\n' "$csv" | tail -n +2 | cut -d, -f2 | sort -u | tr '\n' ' ')" = "1 2 3 4 " ] \
   && [ "$(printf '%s\n' "$csv" | tail -n +2 | wc -l)" -eq 24 ]; then
    ok "train --csv: header and one row per layer (3 hidden + readout) at steps 1, 10, ..., 50"
else
    notok "train --csv: $csv"
fi
# divergence: the loss or gradient becomes non-finite; status diverged, not a crash
res=$("$gs" train depth=10 activation=identity init=he gain=2 lr=1 steps=200 2>/dev/null | tail -n 1)
if printf '%s\n' "$res" | grep -Eq '^result: status=diverged diagnosis=(healthy|vanishing|exploding) train_loss=nan test_loss=nan test_acc=nan clip_fraction=[0-9.]+ diverged_step=[0-9]+ diagnosis_final=diverged grad_h_ratio=[0-9.e+-]+ grad_h_ratio_final=nan diverged_layer=([1-9]|1[01]) diverged_tensor=(weight|activation|gradient|loss)$'; then
    ok "a deep linear net with lr=1 diverges cleanly, keeps its diagnosis at init and reports no losses: $res"
else
    notok "lr=1 deep linear: $res"
fi
# divergence forensics against the per-layer log of the same run: the step
# named is the log's last, whose loss or global norm is non-finite; the
# layer named is the lowest whose activation is non-finite there (no layer
# has non-finite weights: the step before was finite), and a layer below it
# was still finite. A healthy run names none.
csv=$("$gs" train depth=6 width=16 activation=identity init=he gain=2 lr=3 steps=100 --csv 2>"$work/div")
res=$(tail -n 1 "$work/div"); rm -f "$work/div"
dstep=$(printf '%s\n' "$res" | sed -n 's/.*diverged_step=\([0-9]*\).*/\1/p')
dlayer=$(printf '%s\n' "$res" | sed -n 's/.*diverged_layer=\([0-9]*\).*/\1/p')
last=$(printf '%s\n' "$csv" | tail -n 1 | cut -d, -f1)
lastrow=$(printf '%s\n' "$csv" | awk -F, -v s="$last" '$1 == s && $2 == 1')
if [ -n "$dstep" ] && [ "$dstep" = "$last" ] && [ -n "$dlayer" ] && [ "$dlayer" -ge 1 ] \
   && [ "$dlayer" -le 7 ] \
   && printf '%s\n' "$lastrow" | awk -F, '{ exit !($3 !~ /^[-0-9.e+]+$/ || $4 !~ /^[-0-9.e+]+$/) }'; then
    ok "divergence forensics: step $dstep is train_log's last, non-finite there; layer $dlayer ($res)"
else
    notok "divergence forensics: '$res' against the log's last step $last: $lastrow"
fi
res=$("$gs" train depth=3 width=16 steps=50 2>/dev/null | tail -n 1)
case "$res" in
*diverged_layer*|*diverged_tensor*) notok "a healthy run names no diverged layer: $res" ;;
*status=done*) ok "a healthy run names no diverged layer" ;;
*) notok "healthy run: $res" ;;
esac

# recurrent models default to one layer (PyTorch's num_layers), the mlp to 10
l=$("$gs" train model=rnn dataset=adding seq_len=10 steps=2 --csv 2>/dev/null | tail -n +2 | cut -d, -f2 | sort -un | tr '\n' ' ')
m=$("$gs" train steps=2 --csv 2>/dev/null | tail -n +2 | cut -d, -f2 | sort -un | tail -n 1)
d=$("$gs" train model=rnn dataset=adding seq_len=10 depth=3 steps=2 --csv 2>/dev/null | tail -n +2 | cut -d, -f2 | sort -un | tail -n 1)
if [ "$l" = "1 2 " ] && [ "$m" = "11" ] && [ "$d" = "4" ]; then
    ok "depth defaults: rnn 1 layer (+ readout), mlp 10, an explicit depth=3 kept"
else
    notok "depth defaults: rnn layers '$l', mlp last layer $m, rnn depth=3 last layer $d"
fi

# field KEY LINE: the value of KEY=... in a result line
field() { printf '%s\n' "$2" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
# within A B TOL: both set and |A - B| < TOL
within() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; exit !(d < t && d > -t) }'; }
# agree PREDICTED MEASURED TOL OK_TEXT NOT_OK_TEXT: one check of a prediction
agree() { if within "$1" "$2" "$3"; then ok "$4"; else notok "$5"; fi; }

# theory beside measurement: the slope of ln ||dL/dh_l|| per layer toward
# the input, measured over layers 25..50 of a width-512 net, against the
# mean-field 1/2 ln chi_1 (sigma_w^2 = gain^2 with lecun, sigma_b = 0), and
# batch-normalized relu against 1/2 ln(pi/(pi-1)): within 0.03 per layer
for spec in "tanh 0.5" "tanh 2" "tanh 4" "relu 1" "relu 3" "relu-bn 2"; do
    set -- $spec
    act=${1%-bn}
    norm=none
    [ "$act" != "$1" ] && norm=batch
    g=$(awk -v v="$2" 'BEGIN { printf "%.17g", sqrt(v) }')
    res=$("$gs" probe depth=50 width=512 activation="$act" init=lecun gain="$g" norm=$norm \
        --threads 2 2>/dev/null | tail -n 1)
    p=$(field predicted_slope "$res")
    m=$(field measured_slope "$res")
    agree "$p" "$m" 0.03 \
        "theory: $act sigma_w^2=$2 norm=$norm, depth 50 width 512: measured slope $m, predicted $p (within 0.03)" \
        "theory: $act sigma_w^2=$2 norm=$norm: $res"
done

# recurrent theory: with orthogonal Wh of gain g, lambda_1 = g and Pascanu's
# per-step bound is ln(g gamma) = ln g for tanh; the measured slope of
# ln ||dL/dh_t|| per step toward t = 1 stays below it
for g in 1.0 1.2; do
    res=$("$gs" probe model=rnn activation=tanh init=orthogonal gain=$g seq_len=40 depth=1 width=64 2>/dev/null | tail -n 1)
    b=$(field step_bound "$res")
    m=$(field measured_slope "$res")
    if within "$b" "$(awk -v g="$g" 'BEGIN { print log(g) }')" 1e-4 && awk -v b="$b" -v m="$m" 'BEGIN { exit !(m <= b + 0.01) }'; then
        ok "rnn, orthogonal gain $g: step bound $b = ln $g, measured slope $m below it"
    else
        notok "rnn, orthogonal gain $g: $res"
    fi
done
# residual networks: the growth of ln ||x_l||^2 per block, predicted from
# layer 1's measured length, against the measured (width 512, depth 20)
for spec in "relu he" "tanh xavier"; do
    set -- $spec
    res=$("$gs" probe activation=$1 init=$2 residual=yes depth=20 width=512 --threads 2 2>/dev/null | tail -n 1)
    p=$(field residual_growth_predicted "$res")
    m=$(field residual_growth_measured "$res")
    agree "$p" "$m" 0.03 \
        "residual $1/$2, depth 20 width 512: ln ||x_l||^2 grows by $m per block, predicted $p (within 0.03)" \
        "residual $1/$2: $res"
done
# spectrum=yes: the Jacobian's singular values in the result line; refused
# where it does not apply, naming the keys
res=$("$gs" probe activation=identity init=orthogonal gain=1.1 depth=5 width=16 spectrum=yes 2>/dev/null | tail -n 1)
case "$res" in
*"sv2_min=2.59374 sv2_max=2.59374 sv2_mean=2.59374 condition=1"*)
    ok "spectrum=yes: identity, orthogonal gain 1.1, depth 5: every sigma^2 = 1.1^10 = 2.59374, condition 1" ;;
*) notok "spectrum=yes: $res" ;;
esac
msg=$("$gs" probe model=lstm spectrum=yes 2>&1); st=$?
if [ $st -eq 2 ] && printf '%s' "$msg" | grep -q "spectrum=yes: needs model=mlp and norm=none"; then
    ok "spectrum=yes with model=lstm: exit 2, says what it needs"
else
    notok "spectrum=yes with model=lstm: exit $st: $msg"
fi

# The diagnosis follows the backpropagated gradient (issue 17's networks,
# width 256): for each, the verdict must be the one its own CSV implies -
# grad_pre_norm(1) / grad_pre_norm(depth) against the default thresholds
# 1e-4 and 1e4 - and the one exp(measured_slope x (depth - 1)) implies, and
# it is pinned too: the weight-gradient ratio (grad_ratio) called all of
# these healthy.
verdict_of() {   # ratio -> the verdict of the default thresholds
    awk -v r="$1" 'BEGIN { print (r < 1e-4 ? "vanishing" : r > 1e4 ? "exploding" : "healthy") }'
}
for net in "vanishing depth=100 activation=relu init=xavier" \
           "exploding depth=100 activation=relu init=normal(0.2)" \
           "vanishing depth=50 activation=gelu init=lecun" \
           "exploding depth=50 activation=relu init=he residual=yes" \
           "healthy depth=50 activation=tanh init=xavier" \
           "healthy depth=50 activation=relu init=he"; do
    expect=${net%% *} args=${net#* }
    d=$(printf '%s\n' "$args" | sed 's/depth=\([0-9]*\).*/\1/')
    # shellcheck disable=SC2086
    csv=$("$gs" probe $args width=256 --csv 2>"$work/err")
    res=$(cat "$work/err")
    diag=$(printf '%s\n' "$res" | sed -n 's/^result: diagnosis=\([a-z]*\) .*/\1/p')
    from_csv=$(printf '%s\n' "$csv" | awk -F, -v d="$d" '$1 == 1 { a = $6 } $1 == d { b = $6 } END { printf "%.6e", a / b }')
    slope=$(printf '%s\n' "$res" | sed -n 's/.*measured_slope=\([^ ]*\).*/\1/p')
    from_slope=$(awk -v s="$slope" -v d="$d" 'BEGIN { printf "%.6e", exp(s * (d - 1)) }')
    if [ "$diag" = "$expect" ] && [ "$(verdict_of "$from_csv")" = "$expect" ] &&
       [ "$(verdict_of "$from_slope")" = "$expect" ]; then
        ok "$args: $diag (grad_pre_norm ratio $from_csv; slope $slope per layer implies $from_slope)"
    else
        notok "$args: diagnosis '$diag', want $expect (CSV ratio $from_csv, slope $slope -> $from_slope): $res"
    fi
done
# a relu net one unit wide: some layer's only unit is dead for every row,
# its gradient exactly 0 there - dead, and no ratio (0/0) is made of it
res=$("$gs" probe depth=10 width=1 activation=relu 2>/dev/null | tail -n 1)
if printf '%s\n' "$res" | grep -q '^result: diagnosis=dead grad_h_ratio=nan grad_ratio=nan '; then
    ok "a relu net of width 1 is dead, with no ratio: $res"
else
    notok "width-1 relu: $res"
fi

# ---- the exit status table: the same condition, the same status in every command ----
# (before: a missing database was 2 for status and 1 for report; a file that
# is not SQLite was 2 for plan and status and 1 for run and report)
small="${top_srcdir:-.}/tests/configs/small.ini"
printf 'not a database at all, just text\n%.0s' 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 > "$work/text.db"
mkdir "$work/folder.db"
for cond in missing text folder; do
    case $cond in
        missing) db=$work/missing.db; pattern="no such database" ;;
        text) db=$work/text.db; pattern="not an SQLite database" ;;
        folder) db=$work/folder.db; pattern="a folder, not a database|not an SQLite database|cannot open" ;;
    esac
    for cmd in status report prune run plan; do
        case $cmd in
            status|report) set -- "$cmd" "$db" ;;
            *) set -- "$cmd" "$small" --db "$db" ;;
        esac
        [ $cond = missing ] && [ $cmd = plan ] && continue    # plan: "does not exist yet"
        [ $cond = missing ] && [ $cmd = run ] && continue     # run creates it
        expect_bad "$cmd on a $cond database" "$pattern" "$@"
    done
done
[ -e "$work/missing.db" ] && notok "a refused command created the database" || ok "no command created the missing database"
expect_bad "schema with an argument" "unexpected 'extra'" schema extra
expect_bad "prune without a config" "which config" prune
expect_bad "run with an unknown option" "unexpected '--retry-all'" run "$small" --retry-all
out=$(GRADSWEEP_BUSY_TIMEOUT_MS=soon "$gs" run "$small" --db "$work/busy.db" 2>&1 >/dev/null); st=$?
if [ $st -eq 2 ] && printf '%s\n' "$out" | grep -q "GRADSWEEP_BUSY_TIMEOUT_MS=soon: not a whole number of milliseconds" &&
    [ ! -e "$work/busy.db" ]; then
    ok "a busy timeout that is not a number: exit 2, named, no database created"
else
    notok "GRADSWEEP_BUSY_TIMEOUT_MS=soon: exit $st: $out"
fi
help=$("$gs" --help)
for var in GRADSWEEP_DATA_DIR GRADSWEEP_BUSY_TIMEOUT_MS GRADSWEEP_HEARTBEAT_LIMIT_S; do
    printf '%s\n' "$help" | grep -q "^  $var " && ok "gradsweep --help: $var explained" ||
        notok "gradsweep --help: no line for $var"
done
for code in 0 1 2 3 130; do
    if printf '%s\n' "$help" | grep -Eq "^ +$code  "; then
        ok "gradsweep --help: exit status $code explained"
    else
        notok "gradsweep --help: no line for exit status $code"
    fi
done
"$gs" run --help | grep -q "^exit status (every command):" && ok "run --help: the exit status table" ||
    notok "run --help: no exit status table"

finish
