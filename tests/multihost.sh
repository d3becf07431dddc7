#!/bin/sh
# gradsweep across two hosts: two simulated nodes, each a network
# namespace with its own hostname (UTS namespace), joined by a bridge
# with one veth each - real TCP between them - in a private user, network,
# mount and pid namespace of the test's own (nothing outside is touched,
# and whatever the test starts ends with it). mpirun runs on nodeA and
# starts nodeB's daemon (orted) through a stand-in for ssh
# (plm_rsh_agent) that enters nodeB's namespaces; TMPDIR is per node and
# per run; a hostfile names the nodes. Rank 0 runs on nodeA, ranks 1-2
# on nodeB. Checks:
#   - the rows equal a one-process run's; runs.rank and runs.host say
#     where each cell ran, sessions.hosts names both nodes;
#   - nodeB's daemon killed mid-run (SIGKILL), and nodeB cut off the
#     network (its veth down; TCP keepalives of 3 s + 3 x 1 s, shorter
#     than the pipeline's), each end the run non-zero within 20 s with the
#     database intact (integrity_check, foreign_key_check), the session
#     not left running and no cell left in flight, and a rerun from the
#     other host completes with the one-process run's rows;
#   - an MPI call of rank 0 that fails ends the run through gradsweep's
#     own ending (MPI_ERRORS_RETURN), not inside MPI;
#   - rank 0 itself killed (SIGKILL: its session stays running): a rerun
#     on rank 0's host starts at once (the pid is gone), one from the
#     other host is refused (the heartbeat is fresh) until --takeover.
. "${top_srcdir:-.}/tests/sweep_lib.sh"
command -v mpiexec >/dev/null 2>&1 || skip_all "mpiexec is missing (apt-get install openmpi-bin)"
"$gs" --version | grep -q "without MPI" &&
    skip_all "gradsweep was built --without-mpi (its run is the one-rank sweep)"
for prog in unshare ip hostname; do
    command -v $prog >/dev/null 2>&1 || skip_all "$prog is missing (util-linux, iproute2)"
done

if [ "${GS_MULTIHOST_INSIDE:-}" != 1 ]; then
    # Outside: can this system give the test its namespaces? (A container
    # may forbid user namespaces, or bridges inside them.) Then the same
    # script runs inside them; this shell's work folder goes at exit.
    ns="unshare --user --map-root-user --net --mount --pid --fork --mount-proc"
    $ns sh -c 'ip link add gs_br type bridge && mount -t tmpfs tmpfs /run' >"$work/probe" 2>&1 ||
        skip_all "no private user/network/mount/pid namespaces with a bridge here ($ns: $(tr '\n' ' ' < "$work/probe"))"
    self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
    GS_MULTIHOST_INSIDE=1 $ns sh "$self"
    exit $?
fi

# ---- inside: root of a user namespace of our own, with its own network ----
cd "$work" || exit 1
setup_failed() { echo "Bail out! setting up the simulated nodes: $1"; exit 1; }
ip link set lo up
ip link add gs_br type bridge && ip link set gs_br up || setup_failed "bridge"
# ip netns keeps its names in /run/netns: a tmpfs of this mount namespace
mount -t tmpfs tmpfs /run && mkdir -p /run/netns || setup_failed "/run"
i=1
for node in nodeA nodeB; do
    ip netns add $node &&
        ip link add v$node type veth peer name eth0 netns $node &&
        ip link set v$node master gs_br up &&
        ip -n $node addr add 10.77.0.$i/24 dev eth0 &&
        ip -n $node link set eth0 up && ip -n $node link set lo up || setup_failed "$node"
    i=$((i + 1))
done
printf '127.0.0.1 localhost\n10.77.0.1 nodeA\n10.77.0.2 nodeB\n' > hosts
mount --bind hosts /etc/hosts || setup_failed "/etc/hosts"

# on NODE COMMAND...: COMMAND in NODE's network namespace, under its hostname
on() {
    ip netns exec "$1" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$@"
}
# The stand-in for ssh: Open MPI runs "AGENT HOST COMMAND..." as it would
# "ssh HOST COMMAND...", the words joined for the remote shell. It notes
# the daemon's pid (the exec chain keeps it) and gives each node its TMPDIR.
cat > rsh <<EOF
#!/bin/sh
host=\$1
shift
echo \$\$ > "$work/orted.\$host.pid"
export TMPDIR="$work/tmp.\$run.\$host"
mkdir -p "\$TMPDIR"
exec ip netns exec "\$host" unshare --uts sh -c "hostname \$host && exec \$*"
EOF
chmod +x rsh
printf 'nodeA slots=1\nnodeB slots=2\n' > hostfile.A
printf 'nodeB slots=1\nnodeA slots=2\n' > hostfile.B
# Short TCP keepalives for ORTE's out-of-band channel, as the pipeline
# sets them (README, "On a cluster"): a silent peer is declared lost after
# 3 s idle + 3 probes 1 s apart, instead of about 300 + 9 x 20 s.
export OMPI_MCA_oob_tcp_keepalive_time=3 OMPI_MCA_oob_tcp_keepalive_intvl=1 \
    OMPI_MCA_oob_tcp_keepalive_probes=3
# and rank 0's grace between mpirun's SIGTERM and its SIGKILL, as the
# pipeline sets it (pipeline/lib/setup.sh): Open MPI's 1 s default left a
# session running on this busy machine
export OMPI_MCA_odls_base_sigkill_timeout=3
# mpirun_from NODE RUN ARGS...: gradsweep run over both nodes, mpirun on
# NODE (rank 0 there), the other node's ranks through the agent
mpirun_from() {
    _node=$1
    run=$2
    shift 2
    export run
    mkdir -p "$work/tmp.$run.$_node"
    on "$_node" env TMPDIR="$work/tmp.$run.$_node" mpiexec --hostfile "hostfile.${_node#node}" \
        --mca plm_rsh_agent "$work/rsh" --bind-to none -n 3 -x GRADSWEEP_DATA_DIR \
        -x GRADSWEEP_TEST_CELL_DELAY -x OMP_NUM_THREADS "$gs" run hosts.ini --threads 1 "$@"
}
# Whatever still runs in a node's namespace (ranks orphaned by a lost
# daemon), ended by pid
clear_node() {
    for _p in $(ip netns pids "$1"); do kill -9 "$_p" 2>/dev/null; done
}
at_exit() {
    clear_node nodeA
    clear_node nodeB
}
wait_rows() {
    _i=0
    while [ $_i -lt 200 ] && [ "$(sqlite3 "$1" "SELECT count(*) FROM runs" 2>/dev/null || echo 0)" -lt "$2" ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# sound DB: integrity and foreign keys hold, no session left running, no
# cell left in flight; prints what it found
sound() {
    _v=$(sqlite3 "$1" "PRAGMA integrity_check; PRAGMA foreign_key_check;
      SELECT count(*) FROM sessions WHERE status = 'running'; SELECT count(*) FROM in_flight;
      SELECT status FROM sessions ORDER BY id DESC LIMIT 1")
    echo $_v
    [ "$_v" = "ok
0
0
interrupted" ]
}

# Training cells long enough (over 5e8 flops) to be handed out one at a
# time, so that every rank gets some
cat > hosts.ini <<'EOF'
[sweep]
name = hosts
seed = 5

[probe]
task = probe
depth = 2, 8
activation = tanh, relu
width = 16

[train]
task = train
dataset = gaussian
depth = 4
width = 64
batch = 32
activation = relu, tanh
optimizer = sgd, adam
lr = 0.01, 0.001
steps = 250
log_every = 50
repeats = 2
EOF
n_cells=20

"$gs" run hosts.ini --db one.db --threads 1 2>one.err; st=$?
dump_rows one.db > one.rows
check "reference: one process (exit $st)" '[ $st -eq 0 ] && grep -q "done: $n_cells cells" one.err'

# ---- across the two nodes ----
t0=$(now)
mpirun_from nodeA plain --db plain.db >plain.out 2>plain.err; st=$?
t1=$(now)
check "mpirun on nodeA, ranks 1-2 on nodeB: completes (exit $st, $(elapsed $t0 $t1) s)" \
    '[ $st -eq 0 ] && grep -q "done: $n_cells cells" plain.err'
check "... rows identical to the one-process run" 'dump_rows plain.db | cmp -s - one.rows'
placed=$(sqlite3 plain.db "SELECT rank || ' ' || host FROM runs GROUP BY rank, host ORDER BY rank" | tr '\n' ',')
sess=$(sqlite3 plain.db "SELECT host || ' ' || ranks || ' ' || hosts || ' ' || status FROM sessions")
check "... every rank ran cells, recorded where it was placed ($placed), the session names both hosts ($sess)" \
    '[ "$placed" = "0 nodeA,1 nodeB,2 nodeB," ] && [ "$sess" = "nodeA 3 nodeA,nodeB done" ]'
check "... the agent started nodeB's daemon (TMPDIR per node and run)" \
    '[ -s orted.nodeB.pid ] && [ -d tmp.plain.nodeB ] && [ -d tmp.plain.nodeA ]'

# ---- an MPI call of rank 0 fails ----
# (GRADSWEEP_TEST_MPI_FAIL=5: the 5th cell sent to a worker goes to a rank
# that does not exist, and MPI_Send fails as it does for a lost peer).
# MPI's errors return to gradsweep, which ends the run itself.
# (rank 0 runs on mpirun's node and inherits its environment)
GRADSWEEP_TEST_MPI_FAIL=5 mpirun_from nodeA fail --db fail.db >fail.out 2>fail.err; st=$?
kept=$(sqlite3 fail.db "SELECT count(*) FROM runs")
v=$(sound fail.db)
check "an MPI call of rank 0 fails: exit $st, rank 0's own ending - the call and MPI's reason, the resume hint, no MPI_ABORT - database intact, session interrupted, nothing in flight ($v; $kept cells)" \
    '[ $st -ne 0 ] && grep -q "a rank was lost .*: MPI_Send (coordinator.c:[0-9]*) failed: MPI_ERR_RANK" fail.err &&
     grep -q "rerun the same command to resume" fail.err && ! grep -q "MPI_ABORT was invoked" fail.err &&
     sound fail.db >/dev/null'
clear_node nodeB
on nodeB "$gs" run hosts.ini --db fail.db --threads 1 2>fail.rerun; st=$?
check "... a rerun from nodeB completes (exit $st) with the one-process run's rows" \
    '[ $st -eq 0 ] && grep -q "$kept stored already" fail.rerun && dump_rows fail.db | cmp -s - one.rows'

# fault NAME ACTION...: a run over both nodes (each cell 0.3 s longer, so
# that the fault lands mid-sweep), ACTION once it has stored 4 cells;
# checks that it ends non-zero within 20 s, the database sound, rank 0's
# hint given. $kept: the cells it stored.
fault() {
    _name=$1
    shift
    GRADSWEEP_TEST_CELL_DELAY=0.3 mpirun_from nodeA "$_name" --db "$_name.db" >"$_name.out" \
        2>"$_name.err" &
    bg=$!
    wait_rows "$_name.db" 4
    t0=$(now)
    "$@"
    wait $bg; st=$?
    t1=$(now)
    bg=
    took=$(elapsed $t0 $t1)
    kept=$(sqlite3 "$_name.db" "SELECT count(*) FROM runs")
    how=$(grep -o "interrupted by SIGTERM\|a rank was lost" "$_name.err" | head -n 1)
    check "$_name: the run ends non-zero (exit $st) within 20 s ($took s) after $kept cells; rank 0: ${how:-?}" \
        '[ $st -ne 0 ] && awk -v t=$took "BEGIN { exit !(t <= 20) }"'
    v=$(sound "$_name.db")
    check "... database intact, session interrupted, nothing in flight ($v), rank 0 gave the resume hint" \
        'sound "$_name.db" >/dev/null && grep -q "rerun the same command to resume" "$_name.err"'
    clear_node nodeB
}

# ---- nodeB's daemon killed mid-run ----
rm -f orted.nodeB.pid
kill_daemon() { kill -9 "$(cat orted.nodeB.pid)"; }
fault kill kill_daemon
on nodeB "$gs" run hosts.ini --db kill.db --threads 1 2>kill.rerun; st=$?
check "... a rerun from nodeB completes (exit $st) with the one-process run's rows" \
    '[ $st -eq 0 ] && grep -q "$kept stored already" kill.rerun && dump_rows kill.db | cmp -s - one.rows'

# ---- nodeB cut off the network ----
fault cut ip link set vnodeB down
ip link set vnodeB up
mpirun_from nodeB rerun --db cut.db >cut.rerun.out 2>cut.rerun; st=$?
sess=$(sqlite3 cut.db "SELECT host || ' ' || hosts FROM sessions ORDER BY id DESC LIMIT 1")
check "... a rerun with mpirun on nodeB (rank 0 there: $sess) completes (exit $st) with the one-process run's rows" \
    '[ $st -eq 0 ] && grep -q "$kept stored already" cut.rerun && [ "$sess" = "nodeB nodeB,nodeA" ] &&
     dump_rows cut.db | cmp -s - one.rows'
# ---- rank 0 killed: its session stays running ----
GRADSWEEP_TEST_CELL_DELAY=0.3 mpirun_from nodeA rank0 --db rank0.db >rank0.out 2>rank0.err &
bg=$!
wait_rows rank0.db 4
pid0=$(sqlite3 rank0.db "SELECT pid FROM sessions WHERE status = 'running'")
kill -9 "$pid0"
wait $bg; st=$?
bg=
clear_node nodeB
sqlite3 rank0.db ".backup rank0b.db"
left=$(sqlite3 rank0.db "SELECT host || ' ' || status FROM sessions")
kept=$(sqlite3 rank0.db "SELECT count(*) FROM runs")
check "rank 0 (pid $pid0) killed: the run ends (exit $st), its session left '$left', $kept cells kept" \
    '[ $st -ne 0 ] && [ "$left" = "nodeA running" ] && [ "$kept" -ge 4 ]'
on nodeB "$gs" run hosts.ini --db rank0b.db --threads 1 2>rank0b.refused; st=$?
check "... a rerun from nodeB is refused (exit $st): the heartbeat is fresh, the message names the limit and --takeover" \
    '[ $st -eq 1 ] && grep -q "host nodeA, pid $pid0; its heartbeat is" rank0b.refused &&
     grep -q -- "--takeover" rank0b.refused'
on nodeB "$gs" run hosts.ini --db rank0b.db --threads 1 --takeover 2>rank0b.rerun; st=$?
check "... with --takeover it completes (exit $st) with the one-process run's rows, nothing left in flight" \
    '[ $st -eq 0 ] && grep -q "$kept stored already" rank0b.rerun && dump_rows rank0b.db | cmp -s - one.rows &&
     [ "$(sqlite3 rank0b.db "SELECT count(*) FROM in_flight")" = 0 ]'
on nodeA "$gs" run hosts.ini --db rank0.db --threads 1 2>rank0.rerun; st=$?
check "... a rerun on nodeA, rank 0's host, starts at once (its pid is gone) and completes (exit $st) with the same rows" \
    '[ $st -eq 0 ] && grep -q "$kept stored already" rank0.rerun && dump_rows rank0.db | cmp -s - one.rows &&
     [ "$(sqlite3 rank0.db "SELECT status FROM sessions ORDER BY id")" = "crashed
done" ]'
finish
