#!/usr/bin/env bash
# Multi-process training with torchrun: DDP through mmengine's pytorch launcher (NCCL on GPUs; gloo on
# CPU-only machines, see docs/distributed.md).
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py options]          # one process per GPU
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/dist_train.sh CONFIG 8   # on each node
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON (the repository's
# .venv/bin/python when it exists, else python3): no virtual environment needs to be activated.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_launcher.sh"
usage 2 $# "CONFIG NUM_PROCS [tools/train.py options]"
CONFIG=$1
NUM_PROCS=$2
shift 2
run_torchrun "$NUM_PROCS" "$TOOLS/train.py" "$CONFIG" --launcher pytorch "$@"
