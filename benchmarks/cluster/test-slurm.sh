#!/usr/bin/env bash
# `pnpm test:slurm`: runs benchmarks/cluster/slurm-array.sh on a real single-node Slurm cluster
# started here, and checks the merged result against a single-machine run of the same grid.
#
#  1. Installs Debian's slurm-wlm and munge if missing (needs root; says so and fails if it cannot).
#  2. Starts munged, slurmctld and slurmd with their keys, state, spool and logs in a temp dir and
#     a node of this machine's cores (other ports than a system Slurm; none of /etc is touched).
#  3. Lets the array script pick an array size with `nalm plan` (sbatch --test-only), then
#     submits it with SHARDS=4 for a small grid, cancels task 0 with scancel once it has
#     stored some runs, waits for the others, resubmits task 0 and checks it lost and duplicated
#     nothing; merges the shards with `nalm merge`.
#  4. Runs the same grid on this machine in one process and compares the two record by record.
# Every daemon and job it starts is stopped on exit, failure and Ctrl-C included; the temp dir is
# removed (NALM_SLURM_KEEP=1 keeps it for inspection).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/benchmarks/cluster"
export PATH="$PATH:/usr/sbin:/sbin" # the daemons live in sbin, which a CI user's PATH may lack

# The grid: 3 models × 2 operations × 10 seeds = 60 runs, ~3 batches per shard of several seconds
# each, so there is a moment to cancel a task between two of its batches. (At 20,000 iterations a
# task took 4 s; on a loaded machine squeue and the cancel were slow enough that task 0 stored its
# last batch before the cancel reached it, 2026-12-06.)
SHARDS=4
PRESET=quick
NALM_FLAGS="--model nau,nmu,nac --op add,mul --seeds 0..9 --iterations 100000"

say() { printf '\n== %s\n' "$*"; }
fail() {
  printf '\ntest:slurm: FAILED: %s\n' "$*" >&2
  exit 1
}
started=$(date +%s)

# ---- 1. Slurm and munge ----
missing() {
  local c
  for c in munged slurmctld slurmd sbatch squeue scontrol scancel; do
    command -v "$c" >/dev/null 2>&1 || return 0
  done
  return 1
}
if missing; then
  how="as root: apt-get update && apt-get install -y --no-install-recommends slurm-wlm munge"
  [ "$(id -u)" = 0 ] || fail "Slurm is not installed and installing it needs root. Install Debian's slurm-wlm and munge ($how), then run pnpm test:slurm again."
  command -v apt-get >/dev/null || fail "Slurm is not installed and there is no apt-get here. This test needs Debian's slurm-wlm and munge packages (or Slurm ≥ 22.05 and munge on PATH)."
  say "installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends slurm-wlm munge >/tmp/nalm-slurm-apt.log 2>&1; then
    apt-get update -q >>/tmp/nalm-slurm-apt.log 2>&1 || true # a stale package list is the usual cause
    apt-get install -y -q --no-install-recommends slurm-wlm munge >>/tmp/nalm-slurm-apt.log 2>&1 ||
      { tail -20 /tmp/nalm-slurm-apt.log >&2; fail "Slurm could not be installed: apt-get install slurm-wlm munge failed (log above, full log /tmp/nalm-slurm-apt.log). Fix the package source or install them ($how), then run pnpm test:slurm again."; }
  fi
  missing && fail "apt-get installed slurm-wlm and munge but munged/slurmctld/slurmd/sbatch are still not on PATH ($PATH)."
fi
[ "$(id -u)" = 0 ] || fail "slurmd must run as root to start jobs (it switches to the job's user). Run pnpm test:slurm as root, e.g. in a container."
echo "$(slurmctld -V), $(munged -V 2>&1 | awk '{print $1}')"

# ---- 2. The cluster ----
D=$(mktemp -d /tmp/nalm-slurm.XXXXXX)
chmod 700 "$D"
mkdir -p "$D/munge" "$D/state" "$D/spool" "$D/log" "$D/out"
PIDS=() # daemons started here, stopped in reverse order
JOBS=() # jobs submitted here
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "${#JOBS[@]}" -gt 0 ] && [ -n "${SLURM_CONF:-}" ]; then
    # (timeouts: a client command waits long for a controller that is gone)
    timeout 10 scancel "${JOBS[@]}" 2>/dev/null
    for _ in $(seq 1 30); do # until slurmd has ended the job steps (KillWait is 5 s)
      [ -z "$(timeout 5 squeue -h -t PD,R,CG,CF 2>/dev/null)" ] && break
      sleep 1
    done
    # Job processes slurmd did not end (it would only fail to if it died): by their pid, from slurmd.
    for p in $(timeout 10 scontrol listpids 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ {print $1}'); do
      kill -9 "$p" 2>/dev/null
    done
  fi
  if [ "$rc" != 0 ]; then
    for f in "$D"/log/*.log "$D"/log/*.stdout "$D"/out/logs/*.out; do
      [ -f "$f" ] && { echo "--- $f (last lines)"; tail -15 "$f"; }
    done >&2
  fi
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null
  done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  local dir=removed
  if [ "${NALM_SLURM_KEEP:-}" = 1 ]; then dir="kept: $D"; else rm -rf "$D"; fi
  echo "test:slurm: ${#PIDS[@]} daemons stopped, temp dir $dir; $(($(date +%s) - started)) s in all" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two free TCP ports for slurmctld and slurmd (not 6817/6818: a system Slurm may hold those).
read -r CTLD_PORT SLURMD_PORT < <(node -e '
  const net = require("net"); const ports = [];
  const next = () => { const s = net.createServer().listen(0, "127.0.0.1", () => {
    ports.push(s.address().port); s.close(() => ports.length < 2 ? next() : console.log(ports.join(" "))); }); };
  next();')
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
SOCKET="$D/munge/munge.socket"

dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$D/munge/munge.key"
munged -F --force --key-file="$D/munge/munge.key" --socket="$SOCKET" --pid-file="$D/munge/munged.pid" \
  --seed-file="$D/munge/munged.seed" >"$D/log/munged.log" 2>&1 & # -F logs to stderr
PIDS+=($!)

export SLURM_CONF="$D/slurm.conf" # read by slurmctld, slurmd and every client command below
cat >"$SLURM_CONF" <<EOF
ClusterName=nalmtest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=3600
KillWait=5
MailProg=/bin/true
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

for _ in $(seq 1 50); do [ -S "$SOCKET" ] && break; sleep 0.1; done
[ -S "$SOCKET" ] || fail "munged did not start (no socket $SOCKET; its log is below)."
slurmctld -D -i -f "$SLURM_CONF" >"$D/log/slurmctld.stdout" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" -N "$HOST" >"$D/log/slurmd.stdout" 2>&1 &
PIDS+=($!)
deadline=$((SECONDS + 60))
# sinfo retries for tens of seconds while no controller answers: bound each call, and stop at once
# if a daemon has exited.
until state=$(timeout 5 sinfo -h -N -o '%T' 2>/dev/null) && [ "$state" = idle ]; do
  for i in 0 1 2; do
    kill -0 "${PIDS[i]}" 2>/dev/null || fail "$(echo munged slurmctld slurmd | cut -d' ' -f$((i + 1))) exited at startup (its log is below)."
  done
  ((SECONDS < deadline)) || fail "the node did not become idle within 60 s (sinfo says '${state:-nothing}'; logs below)."
  sleep 0.5
done
say "cluster up: slurmctld :$CTLD_PORT, slurmd :$SLURMD_PORT, node $HOST with $CPUS CPUs (temp dir $D)"
sinfo

# ---- 3. The array job ----
# One core per task: with $CPUS cores, $CPUS tasks run at once and the rest wait in the queue.
submit() { # ARRAY → job id
  ARRAY=$1 PRESET=$PRESET OUT="$D/out" SHARDS=$SHARDS CPUS=1 NALM_FLAGS=$NALM_FLAGS \
    SBATCH_FLAGS="--mem=1G --time=30:00" bash "$HERE/slurm-array.sh"
}
states() { # job id → one line per array task: id, state, exit code, run time
  scontrol -o show job "$1" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(JobId|ArrayTaskId|JobState|ExitCode|RunTime)=/) printf "%s ", $i; print "" }'
}
active() { [ -n "$(squeue -h -j "$1" -t PD,R,CG,CF 2>/dev/null)" ]; }
wait_job() { # job id, seconds
  local t=0
  while active "$1"; do
    ((t++ < $2)) || fail "job $1 still not finished after $2 s."
    sleep 1
  done
}
records() { # store dir → its number of records (0 while it does not exist)
  local n
  n=$(node "$HERE/compare-stores.mjs" count "$1" 2>/dev/null | sed 's/.*: \([0-9]*\) records.*/\1/') || true
  echo "${n:-0}"
}
count_tasks() { # job id, state → tasks in that state that exited with code 0 (or were cancelled)
  scontrol -o show job "$1" | grep "JobState=$2 " | grep -c "ExitCode=0:0\|JobState=CANCELLED" || true
}

say "without SHARDS the submitter asks nalm plan for the array size (TASK_HOURS=0.05, generous so load cannot make one run exceed it; sbatch --test-only)"
plan_out=$(PRESET=$PRESET OUT="$D/out" CPUS=1 TASK_HOURS=0.05 NALM_FLAGS=$NALM_FLAGS \
  SBATCH_FLAGS="--test-only --mem=1G --time=30:00" bash "$HERE/slurm-array.sh" 2>&1) || { echo "$plan_out"; fail "the submitter's nalm plan path failed."; }
grep -E 'nalm plan suggests|to start at' <<<"$plan_out" || { echo "$plan_out"; fail "the submitter did not report nalm plan's array size."; }

say "submitting: PRESET=$PRESET SHARDS=$SHARDS NALM_FLAGS='$NALM_FLAGS' bash benchmarks/cluster/slurm-array.sh"
JOB=$(submit "0-$((SHARDS - 1))")
JOBS+=("$JOB")
echo "submitted array job $JOB"
squeue -j "$JOB"

# Cancel task 0 once it has stored at least one run (between two batches of its shard).
for _ in $(seq 1 600); do
  s0=$(squeue -h -j "${JOB}_0" -o '%T' 2>/dev/null || true)
  [ "$s0" = RUNNING ] && [ "$(records "$D/out/shard-0")" -ge 1 ] && break
  [ -z "$s0" ] || [ "$s0" = COMPLETED ] && fail "task 0 finished before it could be cancelled mid-run: raise --iterations in NALM_FLAGS."
  sleep 0.2
done
say "scancel ${JOB}_0 (task 0 is RUNNING and has stored $(records "$D/out/shard-0") run(s))"
scancel "${JOB}_0"
for _ in $(seq 1 60); do [ "$(squeue -h -j "${JOB}_0" -t all -o '%T')" = CANCELLED ] && break; sleep 0.5; done
states "${JOB}_0"
before=$(records "$D/out/shard-0")
node "$HERE/compare-stores.mjs" count "$D/out/shard-0"
squeue -j "$JOB"

say "waiting for the other tasks"
wait_job "$JOB" 600
states "$JOB"
[ "$(count_tasks "$JOB" CANCELLED)" = 1 ] || fail "expected exactly task 0 CANCELLED."
ok=$(count_tasks "$JOB" COMPLETED)
[ "$ok" = $((SHARDS - 1)) ] || fail "expected $((SHARDS - 1)) tasks COMPLETED with exit code 0, got $ok."

say "resubmitting task 0: ARRAY=0 ... bash benchmarks/cluster/slurm-array.sh"
JOB2=$(submit 0)
JOBS+=("$JOB2")
echo "submitted job $JOB2"
wait_job "$JOB2" 600
states "$JOB2"
[ "$(count_tasks "$JOB2" COMPLETED)" = 1 ] || fail "the resubmitted task did not complete."
grep -h 'already in the store' "$D"/out/logs/nalm-"$JOB2"_0.out || true
after=$(records "$D/out/shard-0")
node "$HERE/compare-stores.mjs" count "$D/out/shard-0" || fail "shard 0 holds a duplicate or unreadable record after the resubmission."
echo "task 0: $before record(s) after scancel, $after after resubmission"
((before >= 1 && before < after)) || fail "task 0 was not cancelled mid-run ($before before, $after after)."

say "nalm merge $D/out/shard-*/ --out $D/merged"
for s in "$D"/out/shard-*/; do node "$HERE/compare-stores.mjs" count "$s"; done
(cd "$ROOT" && pnpm --silent nalm merge "$D"/out/shard-*/ --out "$D/merged")
node "$HERE/compare-stores.mjs" count "$D/merged"

# ---- 4. The same grid on one machine ----
say "single-machine run: nalm run --preset $PRESET $NALM_FLAGS --workers $CPUS"
# shellcheck disable=SC2086 # NALM_FLAGS is a list of flags
(cd "$ROOT" && pnpm --silent nalm run --preset "$PRESET" $NALM_FLAGS --workers "$CPUS" --out "$D/single" --no-report 2>&1) |
  grep -E '^nalm: ([0-9]+ runs|trained)' # its plan and summary, not the progress lines
node "$HERE/compare-stores.mjs" count "$D/single"

say "record by record: Slurm array (merged) vs single machine"
node "$HERE/compare-stores.mjs" compare "$D/merged" "$D/single" || fail "the merged Slurm result differs from the single-machine run."
say "test:slurm: passed"
