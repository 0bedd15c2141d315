#!/usr/bin/env bash
# Evaluation on a SLURM cluster: one task per GPU, results gathered on rank 0 (see tools/slurm_train.sh).
#   bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py options]
# Environment: GPUS (8), GPUS_PER_NODE (8; 0 on CPU-only nodes: no --gres, and set TASKS_PER_NODE),
# TASKS_PER_NODE (GPUS_PER_NODE), CPUS_PER_TASK (5), SRUN_ARGS, PORT, PYTHON, as in tools/slurm_train.sh.
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: bash $0 PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py options]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
TASKS_PER_NODE=${TASKS_PER_NODE:-$GPUS_PER_NODE}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$TOOLS")
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
if [ -n "${PORT:-}" ]; then export MASTER_PORT=$PORT; fi
SRUN=(srun -p "$PARTITION" --job-name="$JOB_NAME" --ntasks="$GPUS" --cpus-per-task="$CPUS_PER_TASK"
      --kill-on-bad-exit=1)
if [ "$GPUS_PER_NODE" -gt 0 ]; then SRUN+=(--gres="gpu:$GPUS_PER_NODE"); fi
if [ "$TASKS_PER_NODE" -gt 0 ]; then SRUN+=(--ntasks-per-node="$TASKS_PER_NODE"); fi
# shellcheck disable=SC2086  # SRUN_ARGS holds several options
exec "${SRUN[@]}" $SRUN_ARGS \
  "$PYTHON" -u "$TOOLS/test.py" "$CONFIG" "$CHECKPOINT" --launcher=slurm "$@"
