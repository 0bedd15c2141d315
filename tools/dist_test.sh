#!/usr/bin/env bash
# Multi-process evaluation with torchrun: every process evaluates its share of the test set and
# rank 0 computes the metric over all of them (NCCL on GPUs; gloo on CPU-only machines).
#   bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py options]
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/dist_test.sh CONFIG CHECKPOINT 8   # on each node
# Environment: as tools/dist_train.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_launcher.sh"
usage 3 $# "CONFIG CHECKPOINT NUM_PROCS [tools/test.py options]"
CONFIG=$1
CHECKPOINT=$2
NUM_PROCS=$3
shift 3
run_torchrun "$NUM_PROCS" "$TOOLS/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
