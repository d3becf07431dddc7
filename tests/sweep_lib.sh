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

# Tests of a report's findings (findings.sh, tfreport.sh) take a database
# and its report as arguments, or make their own. db_rep_args "$@": db and
# rep from the arguments (made absolute against $OLDPWD, the folder the
# test was started in) and status 0; status 1 when there are none.
db_rep_args() {
    [ $# -ge 2 ] || return 1
    db=$1
    rep=$2
    case $db in /*) ;; *) db=$OLDPWD/$db ;; esac
    case $rep in /*) ;; *) rep=$OLDPWD/$rep ;; esac
}

# facts_db DB REP: x.db, a copy of DB (WAL folded in) with REP's
# findings.csv as table f and each fact's runs as table fr (id, run).
facts_db() {
    sqlite3 "$1" ".backup x.db" && sqlite3 x.db "CREATE TABLE f(finding INTEGER, id TEXT, kind TEXT,
        experiment TEXT, where_keys TEXT, versus TEXT, verdict TEXT, value REAL, value2 REAL, yes INTEGER,
        no INTEGER, stat TEXT, runs TEXT, chart TEXT, text TEXT)" ".import --csv --skip 1 $2/findings.csv f" &&
    sqlite3 x.db "CREATE TABLE fr AS
        WITH RECURSIVE s(id, rest, run) AS (
          SELECT id, runs || ' ', NULL FROM f WHERE runs != ''
          UNION ALL SELECT id, substr(rest, instr(rest, ' ') + 1), substr(rest, 1, instr(rest, ' ') - 1)
          FROM s WHERE rest != '')
        SELECT id, CAST(run AS INTEGER) AS run FROM s WHERE run IS NOT NULL"
}
