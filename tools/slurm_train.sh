#!/usr/bin/env bash
# Training on a SLURM cluster: srun starts one task per GPU and mmengine's slurm launcher reads
# SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID / SLURM_NODELIST (the first node is the master).
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py options]
#   GPUS=16 bash tools/slurm_train.sh gpu convnext configs/detection/cascade_convnext_t_3x.py work_dirs/c   # 2 nodes x 8
# Environment: GPUS (tasks in all, 8), GPUS_PER_NODE (8; 0 on CPU-only nodes: no --gres, and set
# TASKS_PER_NODE), TASKS_PER_NODE (GPUS_PER_NODE), CPUS_PER_TASK (5), SRUN_ARGS (more srun options,
# word-split), PORT (master port, else MASTER_PORT, else 29500), PYTHON (the repository's .venv/bin/python
# when it exists, else python3).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_launcher.sh"
usage 4 $# "PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py options]"
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
run_srun "$PARTITION" "$JOB_NAME" "$TOOLS/train.py" "$CONFIG" --work-dir="$WORK_DIR" --launcher=slurm "$@"
