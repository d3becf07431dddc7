#!/bin/sh
# The run lock: which session holds a database, decided by the host's own
# evidence where it can (on the holder's host: its pid runs, is not a
# zombie, and started at the recorded time, sessions.pid_start) and by the
# heartbeat's age otherwise (GRADSWEEP_HEARTBEAT_LIMIT_S, default 60 s);
# run --takeover for a holder the user knows is gone. Each case makes the
# last session of a finished run look running again, held by a process
# the test controls, and reruns.
. "${top_srcdir:-.}/tests/sweep_lib.sh"
cd "$work" || exit 1
here=$(hostname)
cat > tiny.ini <<'EOF'
[sweep]
name = lock
seed = 3

[p]
task = probe
depth = 2, 3
width = 4
EOF
"$gs" run tiny.ini --db lock.db --threads 1 2>first.err; st=$?
pid_start=$(sqlite3 lock.db "SELECT pid_start FROM sessions")
own=$(awk '{ sub(/.*\) /, ""); print $20 }' /proc/self/stat 2>/dev/null)
check "a run records its process's start time ($pid_start clock ticks after boot; exit $st)" \
    '[ $st -eq 0 ] && [ "$pid_start" -gt 0 ] && [ "$pid_start" -le "$own" ]'

# hold HOST PID START AGE: the latest session is running again, held by
# PID on HOST (START: its start time or NULL), its heartbeat AGE s old
# (from a whole second, and the rerun's start-up comes on top: the
# messages' ages are not checked to the second)
hold() {
    sqlite3 lock.db "UPDATE sessions SET status = 'running', host = '$1', pid = $2,
      pid_start = $3, heartbeat = CAST(strftime('%s', 'now') AS REAL) - $4
      WHERE id = (SELECT max(id) FROM sessions)"
    held=$(sqlite3 lock.db "SELECT max(id) FROM sessions")
}
status_of() { sqlite3 lock.db "SELECT status FROM sessions WHERE id = $1"; }
# rerun [ENV...]: the run again, its exit status in $st and stderr in rerun.err
rerun() {
    env "$@" "$gs" run tiny.ini --db lock.db --threads 1 2>rerun.err; st=$?
}
start_of() { awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$1/stat"; }
state_of() { awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat"; }

# a live process on this host, with its own start time: live, whatever the heartbeat
sleep 300 &
holder=$!
bg=$holder
hold "$here" $holder "$(start_of $holder)" 3600
rerun
check "this host, the pid runs with the recorded start time (heartbeat an hour old): refused (exit $st), session still running" \
    '[ $st -eq 1 ] && grep -q "(host $here, pid $holder), and that process runs on this host" rerun.err && [ "$(status_of $held)" = running ]'
# the same pid, another start time: the number was given to another process
hold "$here" $holder "$(($(start_of $holder) - 1))" 0
rerun
check "this host, the pid runs but started at another time (a reused pid; fresh heartbeat): dead - the rerun completes (exit $st), the old session marked crashed" \
    '[ $st -eq 0 ] && [ "$(status_of $held)" = crashed ]'
# no start time recorded (a session of schema 7): the pid alone decides
hold "$here" $holder NULL 0
rerun
check "this host, no start time recorded and the pid runs: refused (exit $st)" \
    '[ $st -eq 1 ] && [ "$(status_of $held)" = running ]'
kill $holder; wait $holder 2>/dev/null
bg=
hold "$here" $holder NULL 0
rerun
check "this host, the pid is gone (fresh heartbeat): dead, the rerun completes (exit $st)" \
    '[ $st -eq 0 ] && [ "$(status_of $held)" = crashed ]'

# a zombie: a child that exited and whose parent (sleep) never reaps it;
# kill(pid, 0) succeeds on it
sh -c 'sleep 0.05 & echo $! > zombie.pid; exec sleep 300' &
bg=$!
i=0
while [ $i -lt 50 ] && { [ ! -s zombie.pid ] || [ "$(state_of "$(cat zombie.pid)")" != Z ]; }; do
    sleep 0.1
    i=$((i + 1))
done
zpid=$(cat zombie.pid)
zstate=$(state_of $zpid)
hold "$here" $zpid "$(start_of $zpid)" 0
kill -0 $zpid 2>/dev/null; kill0=$?
rerun
check "this host, the holder is a zombie (state $zstate, kill -0 says $kill0, its start time recorded, fresh heartbeat): dead, the rerun completes (exit $st)" \
    '[ "$zstate" = Z ] && [ $kill0 -eq 0 ] && [ $st -eq 0 ] && [ "$(status_of $held)" = crashed ]'
kill $bg; wait $bg 2>/dev/null
bg=

# another host: only the heartbeat tells
hold elsewhere 4242 12345 5
rerun
check "another host, heartbeat 5 s old: refused (exit $st), naming the limit and --takeover" \
    '[ $st -eq 1 ] && age=$(sed -n "s/.*host elsewhere, pid 4242; its heartbeat is \([0-9]*\) s old.*/\1/p" rerun.err) &&
     [ -n "$age" ] && [ "$age" -ge 5 ] && [ "$age" -lt 60 ] &&
     grep -q "GRADSWEEP_HEARTBEAT_LIMIT_S" rerun.err && grep -q -- "--takeover" rerun.err &&
     [ "$(status_of $held)" = running ]'
hold elsewhere 4242 12345 30
rerun
check "another host, heartbeat 30 s old, default limit 60 s: refused (exit $st)" '[ $st -eq 1 ]'
rerun GRADSWEEP_HEARTBEAT_LIMIT_S=25
check "... with GRADSWEEP_HEARTBEAT_LIMIT_S=25: dead, the rerun completes (exit $st), old session crashed" \
    '[ $st -eq 0 ] && [ "$(status_of $held)" = crashed ]'
hold elsewhere 4242 12345 120
rerun
check "another host, heartbeat 120 s old: dead, the rerun completes (exit $st)" \
    '[ $st -eq 0 ] && [ "$(status_of $held)" = crashed ]'
for bad in 5 abc 19.9 ''; do
    hold elsewhere 4242 12345 120
    rerun GRADSWEEP_HEARTBEAT_LIMIT_S="$bad"
    check "GRADSWEEP_HEARTBEAT_LIMIT_S='$bad' (below twice the 10 s heartbeat, or not a number): exit $st, said, nothing changed" \
        '[ $st -eq 2 ] && grep -q "GRADSWEEP_HEARTBEAT_LIMIT_S=$bad: not a number of seconds from 20" rerun.err &&
         [ "$(status_of $held)" = running ]'
done

# --takeover: a user who knows the holder is gone
hold elsewhere 4242 12345 0
rerun
refused=$st
"$gs" run tiny.ini --db lock.db --threads 1 --takeover 2>takeover.err; st=$?
check "--takeover of a live-looking session of another host (refused without it: exit $refused): completes (exit $st), says which session it ended, which is crashed" \
    '[ $refused -eq 1 ] && [ $st -eq 0 ] && grep -q -- "--takeover: session $held of host elsewhere, pid 4242, heartbeat [0-9]* s old marked crashed" takeover.err &&
     [ "$(status_of $held)" = crashed ]'
"$gs" run tiny.ini --db lock.db --threads 1 --takeover 2>takeover2.err; st=$?
check "--takeover with no session running: an ordinary run (exit $st), nothing said of a takeover" \
    '[ $st -eq 0 ] && ! grep -q -- "--takeover:" takeover2.err'
check "--help explains --takeover, its risk and the heartbeat limit" \
    '"$gs" run --help | grep -q -- "--takeover" && "$gs" run --help | grep -q "both write the database" &&
     "$gs" run --help | grep -q GRADSWEEP_HEARTBEAT_LIMIT_S'
v=$(sqlite3 lock.db "SELECT count(*) FROM runs; PRAGMA integrity_check; SELECT count(*) FROM sessions WHERE status = 'running'")
check "after every case: the 2 cells, integrity ok, no session left running ($(echo $v))" \
    '[ "$v" = "2
ok
0" ]'
finish
