#!/usr/bin/env bash
# One Slurm array task per shard of a nalm sweep. Edit the settings, then:
#   sbatch --array=0-$((SHARDS - 1)) benchmarks/cluster/slurm-array.sh
# Each task writes its own result store; merge them when all are done:
#   pnpm nalm merge results/iclr2020-shard-*/ --out results/iclr2020
#
#SBATCH --job-name=nalm
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --time=24:00:00
#SBATCH --output=logs/nalm-%A_%a.out
set -euo pipefail

PRESET=${PRESET:-iclr2020}   # any `nalm presets` name; add flags below for explicit grids
SHARDS=${SHARDS:-64}         # must equal the size of the --array range
REPO=${REPO:-$HOME/nalm}     # a clone with `pnpm install` done once

cd "$REPO"
# Re-running a failed or pre-empted task resumes: finished (configuration, seed) cells are skipped.
exec node packages/bench/bin/nalm.mjs run \
  --preset "$PRESET" \
  --shard "${SLURM_ARRAY_TASK_ID}/${SHARDS}" \
  --workers "${SLURM_CPUS_PER_TASK:-1}" \
  --out "results/${PRESET}-shard-${SLURM_ARRAY_TASK_ID}" \
  --no-report
