#!/usr/bin/env bash
# Multi-GPU / multi-node training with torchrun (PyTorch DDP through mmengine's launcher).
#   bash tools/dist_train.sh CONFIG GPUS [train.py options]
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 bash tools/dist_train.sh CONFIG 8     # on each node
set -euo pipefail
CONFIG=$1; GPUS=$2; shift 2
exec torchrun --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --nproc_per_node="$GPUS" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
  "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "$@"
