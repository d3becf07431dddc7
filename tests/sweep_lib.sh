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
# dump_rows DB [COLUMN...]: every stored number of every cell (gradsweep
# schema --dump: ranks, hosts and times left out), without the columns
# named (those an older database lacks for the cells stored before)
dump_rows() {
    _db=$1
    shift
    _sql=$("$gs" schema --dump)
    for _c in "$@"; do
        _sql=$(printf '%s\n' "$_sql" | sed "s/quote($_c), //; s/, quote($_c) FROM/ FROM/")
    done
    sqlite3 "$_db" "$_sql"
}

# the schema version this gradsweep writes
ver=$("$gs" schema | sed -n '1s/.*schema version \([0-9]*\)\..*/\1/p')

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
