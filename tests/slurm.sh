#!/bin/sh
# pipeline/slurm.sbatch without a Slurm: srun and scontrol stand-ins on
# PATH (srun --mpi=list says pmix or not; srun runs its command under
# mpiexec -n 2, exec'd, so that signals reach mpiexec as they reach srun,
# which passes them to every task). Checks that every argument reaches
# gradsweep run, that SIGUSR1 to the batch script (sbatch
# --signal=B:USR1@...) drains - every running cell stored, exit 130, no
# MPI_ABORT banner - that the status and the resubmit line are printed
# on every path, that an array task runs its shard, and that a Slurm
# without PMIx is refused with the reason. The real trial on a
# single-node Slurm is in the README ("On a cluster").
. "${top_srcdir:-.}/tests/sweep_lib.sh"
script="$(cd "${top_srcdir:-.}" && pwd)/pipeline/slurm.sbatch"
small="$cfg_dir/small.ini"
cd "$work" || exit 1
command -v bash >/dev/null 2>&1 || skip_all "bash is missing"
command -v mpiexec >/dev/null 2>&1 || skip_all "mpiexec is missing (apt-get install openmpi-bin)"
"$gs" --version | grep -q "without MPI" && skip_all "gradsweep was built --without-mpi"
q() { sqlite3 "$db" "$1"; }

# the script runs build/src/gradsweep from the submit folder
mkdir -p build/src bin
ln -s "$gs" build/src/gradsweep
cat > bin/srun <<'SH'
#!/bin/sh
# a stand-in for srun: --mpi=list, else the command under mpiexec -n 2
if [ "$1" = --mpi=list ]; then echo "MPI plugin types are..."; echo "	${FAKE_PMIX:-pmix}"; exit 0; fi
while [ $# -gt 0 ]; do case $1 in --*) shift ;; *) break ;; esac; done
echo "srun stand-in: $*" >> srun.args
exec mpiexec --oversubscribe --bind-to none ${GRADSWEEP_TEST_CELL_DELAY:+-x GRADSWEEP_TEST_CELL_DELAY} -n 2 "$@"
SH
cat > bin/scontrol <<'SH'
#!/bin/sh
[ "$1 $2" = "show job" ] && echo "   Command=/home/user/gradsweep/pipeline/slurm.sbatch (as submitted)"
SH
chmod +x bin/srun bin/scontrol
export PATH="$work/bin:$PATH" SLURM_JOB_ID=77 SLURM_CPUS_PER_TASK=1 SLURM_NTASKS=2

bash "$script" "$small" --db done.db --experiment train steps=40 >done.out 2>&1; st=$?
db=done.db
check "a run to the end: exit $st, every argument passed on, 8 cells, the status printed" \
    '[ $st -eq 0 ] && grep -q "run $small --db done.db --experiment train steps=40 --threads 1 --term-grace 20" srun.args &&
     [ "$(q "SELECT count(*) FROM runs WHERE steps = 40")" = 8 ] && grep -q "^total  *8 " done.out &&
     grep -q "OMP_PROC_BIND=unset" done.out'

# SIGUSR1 to the batch script: the drain
env GRADSWEEP_TEST_CELL_DELAY=0.5 bash "$script" "$small" --db usr1.db --experiment train >usr1.out 2>&1 &
bg=$!
i=0
while [ $i -lt 200 ] && [ "$(sqlite3 usr1.db "SELECT (SELECT count(*) FROM runs) > 0 AND (SELECT count(*) FROM in_flight) >= 2" 2>/dev/null)" != 1 ]; do
    sleep 0.05; i=$((i + 1))
done
sqlite3 usr1.db "SELECT config_hash FROM in_flight" > running.txt
kill -USR1 $bg
wait $bg; st=$?
bg=
db=usr1.db
lost=0
for h in $(cat running.txt); do [ "$(q "SELECT count(*) FROM runs WHERE config_hash = '$h'")" = 1 ] || lost=$((lost + 1)); done
v=$(q "SELECT group_concat(status) FROM sessions; SELECT count(*) FROM in_flight")
check "SIGUSR1 to the script: exit $st, drained, $lost of $(wc -w < running.txt) running cells lost, session '$(echo $v)'" \
    '[ $st -eq 130 ] && [ $lost -eq 0 ] && [ "$v" = "interrupted
0" ] && grep -q "the time limit is near (SIGUSR1): draining" usr1.out && grep -q "drained by SIGUSR1" usr1.out &&
     ! grep -q MPI_ABORT usr1.out'
check "... the status and the resubmit line printed" \
    'grep -q "^total " usr1.out && grep -q "resubmit to resume: cd .* && sbatch /home/user/gradsweep/pipeline/slurm.sbatch" usr1.out'

# an array task runs its shard into the shard's default database
rm -f srun.args
env SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 bash "$script" "$small" --experiment train steps=40 \
    >array.out 2>&1; st=$?
db=$(ls results/*.shard-1-of-3.db 2>/dev/null)
check "an array task (1 of 3): exit $st, --shard 1/3 added, its database records it, the status is the shard's" \
    '[ $st -eq 0 ] && grep -q -- "--shard 1/3" srun.args && [ "$(q "SELECT shard FROM sweeps")" = 1/3 ] &&
     grep -q "^shard 1/3" array.out'

FAKE_PMIX=none bash "$script" "$small" --db nopmix.db >nopmix.out 2>&1; st=$?
check "a Slurm without PMIx: refused (exit $st) with the reason, nothing run" \
    '[ $st -eq 2 ] && grep -q "no PMIx plugin" nopmix.out && [ ! -e nopmix.db ]'
bash "$script" >noargs.out 2>&1; st=$?
check "no config: refused (exit $st)" '[ $st -eq 2 ] && grep -q "which config" noargs.out'
finish
