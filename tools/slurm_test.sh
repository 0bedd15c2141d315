#!/usr/bin/env bash
# Evaluation on a SLURM cluster: one task per GPU, results gathered on rank 0 (see tools/slurm_train.sh).
#   bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py options]
# Environment: as tools/slurm_train.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_launcher.sh"
usage 4 $# "PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py options]"
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
shift 4
run_srun "$PARTITION" "$JOB_NAME" "$TOOLS/test.py" "$CONFIG" "$CHECKPOINT" --launcher=slurm "$@"
