# Sourced by tools/{dist,slurm}_{train,test}.sh: the interpreter and the two ways of starting processes.
# PYTHON defaults to the repository's .venv/bin/python when it exists (else python3), so nothing needs
# to be activated; the repository goes on PYTHONPATH so that every process imports this checkout.
TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$TOOLS")
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

# usage MIN_ARGS GIVEN "ARGS TEXT": exit 2 with the script's usage when fewer arguments were given.
usage() {
  if [ "$2" -lt "$1" ]; then
    echo "usage: bash $0 $3" >&2
    exit 2
  fi
}

# run_torchrun NUM_PROCS SCRIPT ARGS...: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500).
run_torchrun() {
  local num_procs=$1
  shift
  exec "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --nproc_per_node="$num_procs" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" "$@"
}

# run_srun PARTITION JOB_NAME SCRIPT ARGS...: GPUS (tasks in all, 8), GPUS_PER_NODE (8; 0 on CPU-only
# nodes: no --gres, and set TASKS_PER_NODE), TASKS_PER_NODE (GPUS_PER_NODE), CPUS_PER_TASK (5),
# SRUN_ARGS (more srun options, word-split), PORT (master port, else MASTER_PORT, else 29500).
run_srun() {
  local partition=$1 job_name=$2
  shift 2
  local gpus=${GPUS:-8} gpus_per_node=${GPUS_PER_NODE:-8}
  local tasks_per_node=${TASKS_PER_NODE:-$gpus_per_node}
  if [ -n "${PORT:-}" ]; then export MASTER_PORT=$PORT; fi
  local srun=(srun -p "$partition" --job-name="$job_name" --ntasks="$gpus" --cpus-per-task="${CPUS_PER_TASK:-5}"
              --kill-on-bad-exit=1)
  if [ "$gpus_per_node" -gt 0 ]; then srun+=(--gres="gpu:$gpus_per_node"); fi
  if [ "$tasks_per_node" -gt 0 ]; then srun+=(--ntasks-per-node="$tasks_per_node"); fi
  # shellcheck disable=SC2086  # SRUN_ARGS holds several options
  exec "${srun[@]}" ${SRUN_ARGS:-} "$PYTHON" -u "$@"
}
