#!/usr/bin/env bash
# A nalm sweep as a Slurm array job: array task i trains shard i of SHARDS (`nalm run --shard i/SHARDS`)
# into its own result store OUT/shard-i; `nalm merge` combines them when all tasks are done.
#
# Submit by running the script (outside a job it submits itself, as an array of SHARDS tasks):
#   PRESET=iclr2020 OUT=/shared/nalm/iclr2020 bash benchmarks/cluster/slurm-array.sh
# or with sbatch directly (then SHARDS must be set and equal to the --array size):
#   PRESET=iclr2020 OUT=/shared/nalm/iclr2020 SHARDS=64 sbatch --array=0-63 benchmarks/cluster/slurm-array.sh
# Resubmit failed or cancelled tasks (they resume: finished runs are skipped), e.g. tasks 3 and 17:
#   PRESET=iclr2020 OUT=/shared/nalm/iclr2020 SHARDS=64 ARRAY=3,17 bash benchmarks/cluster/slurm-array.sh
# When every task has finished:
#   pnpm nalm merge /shared/nalm/iclr2020/shard-*/ --out /shared/nalm/iclr2020/merged
#
# Parameters (environment variables; sbatch passes the submitting shell's environment to the tasks):
#   PRESET        any `nalm presets` name                                     [iclr2020]
#   OUT           results directory; task i writes OUT/shard-i, logs go to OUT/logs  [results/$PRESET]
#   SHARDS        the array size: the number of shards the grid is cut into
#                 [when submitting: `nalm plan`'s suggestion for TASK_HOURS per task]
#   TASK_HOURS    target wall time per task for that suggestion               [4]
#   CPUS          cores per task (sbatch --cpus-per-task, `nalm run --workers`) [4]
#   ARRAY         which tasks to submit, an sbatch --array list                [0-$((SHARDS - 1))]
#   NALM_FLAGS    extra `nalm run` flags that change the grid; the same go to `nalm plan`
#                 (e.g. "--seeds 0..9 --iterations 100000"; no --shard, --out or --workers)
#   SBATCH_FLAGS  extra sbatch options, e.g. "--partition=long --mem=8G --time=48:00:00"
#   TIME_LIMIT    `nalm run --time-limit`: no batch starts after this long, e.g. 5h for 6-hour jobs,
#                 so a task stops between batches instead of being killed in one; a task that stops
#                 there exits 75 (Slurm: FAILED) and resubmitting it continues       [none]
#   NALM          the command that runs nalm in REPO                         [node_modules/.bin/nalm]
#   REPO          the nalm clone with `pnpm install` done (the submitter runs `pnpm build`; with sbatch
#                 directly, run it once yourself)   [this script's clone; in a task: the submit dir]
#
# Shared filesystem: REPO must be readable and OUT writable at the same path on every node (the
# usual /home or /shared of a cluster). Without one, give each task a node-local OUT (e.g.
# OUT=/scratch/$USER/nalm): every task still writes its own store OUT/shard-i, so nothing collides;
# afterwards copy the shard-* directories to one machine (rsync, scp, object storage) and run
# `nalm merge` there. A resubmitted task only resumes if it finds its earlier shard-i directory.
#
#SBATCH --job-name=nalm
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --time=24:00:00
#SBATCH --output=nalm-%A_%a.out
set -euo pipefail

PRESET=${PRESET:-iclr2020}
NALM_FLAGS=${NALM_FLAGS:-}
TIME_LIMIT=${TIME_LIMIT:-}
# The compiled bin (`pnpm build`, done by the submitter), not `pnpm nalm`: that script rebuilds
# first, and concurrent tasks would race to write dist/; and pnpm does not pass scancel's SIGTERM on.
NALM=${NALM:-node_modules/.bin/nalm}
die() {
  echo "slurm-array.sh: $*" >&2
  exit 2
}

if [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
  # ---- Submitting (run outside a job) ----
  command -v sbatch >/dev/null || die "sbatch not found: run this on a Slurm login node (or with Slurm's client tools on PATH)."
  REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
  [ -f "$REPO/package.json" ] || die "REPO=$REPO is not a nalm clone (no package.json); set REPO."
  OUT=${OUT:-results/$PRESET}
  case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac # tasks start elsewhere: pass an absolute path
  CPUS=${CPUS:-4}
  TASK_HOURS=${TASK_HOURS:-4}
  (cd "$REPO" && pnpm --silent build) || die "pnpm build failed in $REPO (its message is above); the tasks run the compiled nalm."
  if [ -z "${SHARDS:-}" ]; then
    # A short calibration on this machine; the nodes may be faster or slower (see `nalm plan --help`).
    # shellcheck disable=SC2086 # NALM and NALM_FLAGS are lists of words
    plan=$(cd "$REPO" && $NALM plan --preset "$PRESET" $NALM_FLAGS --workers "$CPUS" \
      --task-hours "$TASK_HOURS" --json) || die "nalm plan failed (its message is above); fix the flags or set SHARDS."
    SHARDS=$(node -e 'const p = JSON.parse(require("fs").readFileSync(0, "utf8")); if (p.shards === null) process.exit(1); console.log(p.shards)' <<<"$plan") ||
      die "no array size keeps every task under TASK_HOURS=$TASK_HOURS h (one run alone is longer); raise TASK_HOURS or set SHARDS."
    echo "slurm-array.sh: nalm plan suggests $SHARDS tasks of $CPUS cores for at most $TASK_HOURS h each" >&2
  fi
  [[ "$SHARDS" =~ ^[1-9][0-9]*$ ]] || die "SHARDS=$SHARDS: expected a whole number ≥ 1."
  ARRAY=${ARRAY:-0-$((SHARDS - 1))}
  # The tasks read these from the environment sbatch copies (--export=ALL; a list in --export
  # would split NALM_FLAGS at its commas).
  export PRESET OUT SHARDS REPO NALM_FLAGS NALM TIME_LIMIT
  mkdir -p "$OUT/logs" # Slurm does not create the --output directory; a missing one fails the task silently
  # shellcheck disable=SC2086 # SBATCH_FLAGS is a list of options
  exec sbatch --parsable --array="$ARRAY" --cpus-per-task="$CPUS" --output="$OUT/logs/nalm-%A_%a.out" \
    --job-name="nalm-$PRESET" --export=ALL $SBATCH_FLAGS "${BASH_SOURCE[0]}"
fi

# ---- One array task ----
[ -n "${SHARDS:-}" ] || die "SHARDS is not set: export it (equal to the --array size) or submit with 'bash $0'."
(( SLURM_ARRAY_TASK_ID < SHARDS )) || die "array task $SLURM_ARRAY_TASK_ID ≥ SHARDS=$SHARDS: the --array range must be 0…SHARDS−1."
REPO=${REPO:-$SLURM_SUBMIT_DIR} # Slurm runs a copy of this script from its spool directory
[ -f "$REPO/package.json" ] || die "REPO=$REPO is not a nalm clone (no package.json); set REPO."
OUT=${OUT:-results/$PRESET}
case "$OUT" in /*) ;; *) OUT="$SLURM_SUBMIT_DIR/$OUT" ;; esac
cd "$REPO"
[ "$NALM" != node_modules/.bin/nalm ] || [ -x "$NALM" ] || die "$REPO/$NALM is missing: run pnpm install and pnpm build in $REPO."
echo "slurm-array.sh: task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname): shard $SLURM_ARRAY_TASK_ID/$SHARDS → $OUT/shard-$SLURM_ARRAY_TASK_ID" >&2
# Re-running a failed, cancelled or pre-empted task resumes: finished (configuration, seed) runs are
# skipped. scancel's SIGTERM stops nalm after its current evaluation; stored runs stay stored.
# shellcheck disable=SC2086 # NALM and NALM_FLAGS are lists of words
exec $NALM run --preset "$PRESET" $NALM_FLAGS ${TIME_LIMIT:+--time-limit "$TIME_LIMIT"} \
  --shard "$SLURM_ARRAY_TASK_ID/$SHARDS" \
  --workers "${SLURM_CPUS_PER_TASK:-1}" \
  --out "$OUT/shard-$SLURM_ARRAY_TASK_ID" \
  --no-report
