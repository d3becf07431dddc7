# The TAP helpers of the shell tests (sourced by every tests/*.sh, as
# tests/tap.h is included by the C ones): counted ok / not ok lines, a
# skip, a work folder that goes away however the test ends, and the seed of
# the test's random choices.
#
#   ok DESC / notok DESC         one TAP line, counted
#   skip WHY                     one check skipped, with the reason
#   check DESC 'SHELL CONDITION' ok when the condition (eval'd) holds
#   finish                       the plan line; the exit status of the test
#   skip_all WHY                 "1..0 # SKIP WHY" and exit 0
#   $work                        a fresh folder under $TMPDIR, removed at
#                                exit (GS_KEEP=1 keeps it and says where)
#   at_exit                      a function the test may define: runs first
#                                at exit (kill what it started, unmount)
#   $bg                          a background pid the test sets while one
#                                runs: killed at exit
#   torch_compare DUMP SCRIPT    runs the C program DUMP (in tests/ of the
#                                build) and the PyTorch SCRIPT (under tests/
#                                of the source) on its output, the first
#                                python3 that imports torch; a skip of the
#                                whole test where none does
#   tap_seed                     sets $seed from GS_TEST_SEED, or a fresh
#                                random one, and prints it: a failing run
#                                is replayed with GS_TEST_SEED=<that seed>
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else notok "$1"; fi; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
finish() { echo "1..$n"; [ "$failed" -eq 0 ]; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
torch_compare() {
    for cand in "${PYTHON3:-python3}" /usr/bin/python3 python3; do
        if [ -x "$(command -v "$cand" 2>/dev/null)" ] && "$cand" -c 'import torch' 2>/dev/null; then
            "${top_builddir:-.}/tests/$1" > "$work/dump" || { notok "$1 failed"; finish; exit; }
            "$cand" "${top_srcdir:-.}/tests/$2" "$work/dump"
            exit $?
        fi
    done
    skip_all "python3-torch is not installed (apt-get install python3-torch)"
}

bg=
tap_exit() {
    command -v at_exit >/dev/null 2>&1 && at_exit
    [ -n "$bg" ] && kill $bg 2>/dev/null
    if [ -n "${GS_KEEP:-}" ]; then
        echo "# kept $work"
    else
        rm -rf "$work"
    fi
}
work=$(mktemp -d "${TMPDIR:-/tmp}/gs_$(basename "$0" .sh).XXXXXX") || exit 1
trap tap_exit EXIT
# a signal ends the test through its EXIT trap (sh runs none otherwise)
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# (below 2^30, so that seed + a small count stays an int for awk's srand:
# mawk clamps larger seeds to one value)
tap_seed() {
    seed=${GS_TEST_SEED:-$(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % 1073741824 ))}
    case $seed in
        ''|*[!0-9]*) echo "Bail out! GS_TEST_SEED=$seed: not a non-negative integer"; exit 2 ;;
    esac
    [ ${#seed} -le 10 ] && [ "$seed" -lt 1073741824 ] ||
        { echo "Bail out! GS_TEST_SEED=$seed: not below 2^30 (1073741824)"; exit 2; }
    echo "# random choices from GS_TEST_SEED=$seed (set it to replay them)"
}
