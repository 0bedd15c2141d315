#!/usr/bin/env bash
# Build the project's environment in ./.venv from nothing; a second run on a ready machine
# takes seconds (a stamp records what was installed).
#
#   bash tools/setup_env.sh            # or: make setup
#
# Traps handled here (see DEVELOPERS.md):
# * mmcv 2.x has no wheels on PyPI: it is compiled from source against the torch installed
#   first, with --no-build-isolation and setuptools<70 (its setup.py imports pkg_resources).
# * A compiled mmcv wheel is cached under a key that names the exact torch build, the Python
#   version and CPU/CUDA ops, and pip's own cache is bypassed (--no-cache-dir) for it, so a
#   wheel built for one torch never reaches another ("undefined symbol" at import).
# * With a visible GPU and nvcc, mmcv is built with CUDA ops (FORCE_CUDA=1), or RoIAlign/NMS
#   fail on CUDA tensors.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PY_BOOT="${PYTHON:-python3}"
REQ="$ROOT/requirements.txt"
CACHE="${CONVNEXT_DENSE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/convnext_dense}"
STAMP="$VENV/.convnext_dense-setup"

pin() { grep -E "^$1==" "$REQ" | head -n1 | cut -d= -f3; }
want_cuda=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && command -v nvcc >/dev/null 2>&1; then
  want_cuda=1
fi
fingerprint="$( (cat "$REQ" "$ROOT/tools/setup_env.sh" "$ROOT/setup.py"; echo "cuda=$want_cuda") | sha256sum | cut -c1-16)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$fingerprint" ]] \
   && "$VENV/bin/python" -c "import mmcv.ops, mmdet, mmseg, timm, convnext_dense" 2>/dev/null; then
  echo "[setup] environment in $VENV is ready (fingerprint $fingerprint)"
  exit 0
fi

t0=$(date +%s)
step() { echo "[setup +$(( $(date +%s) - t0 ))s] $*"; }

step "python venv at $VENV"
[[ -x "$VENV/bin/python" ]] || "$PY_BOOT" -m venv "$VENV"
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
export PIP_PROGRESS_BAR=off
"${PIP[@]}" install -q --upgrade "pip<25" "setuptools<70" wheel

step "torch $(pin torch), torchvision $(pin torchvision) (first, everything compiled later links to it)"
"${PIP[@]}" install -q -c "$REQ" "torch==$(pin torch)" "torchvision==$(pin torchvision)" "numpy==$(pin numpy)"

step "OpenMMLab, timm and the rest (pinned through requirements.txt)"
"${PIP[@]}" install -q -c "$REQ" \
  "mmengine==$(pin mmengine)" "mmdet==$(pin mmdet)" "mmsegmentation==$(pin mmsegmentation)" \
  "timm==$(pin timm)" "pycocotools==$(pin pycocotools)" "opencv-python==$(pin opencv-python)" \
  ftfy regex matplotlib scipy shapely terminaltables prettytable addict yapf pytest ruff \
  "mmpretrain==$(pin mmpretrain)"  # tests only: its ConvNeXt writes real mmpretrain-layout checkpoints

torch_tag="$("$PY" -c 'import sys, torch; print(f"torch{torch.__version__}-py{sys.version_info[0]}{sys.version_info[1]}")')"
ops_tag=$([[ $want_cuda == 1 ]] && echo cuda-ops || echo cpu-ops)
MMCV_VER="$(pin mmcv)"
wheel_dir="$CACHE/wheels/mmcv-$MMCV_VER-$torch_tag-$ops_tag"
if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VER'" 2>/dev/null; then
  if ! ls "$wheel_dir"/mmcv-*.whl >/dev/null 2>&1; then
    step "compiling mmcv $MMCV_VER with ops against $torch_tag ($ops_tag); ~9 min on 2 cores"
    build_dir="$(mktemp -d)"
    export MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}"
    [[ $want_cuda == 1 ]] && export FORCE_CUDA=1
    "${PIP[@]}" wheel -q --no-build-isolation --no-cache-dir --no-deps -w "$build_dir" "mmcv==$MMCV_VER"
    mkdir -p "$wheel_dir"
    # Move into place only when the build finished: an interrupted build leaves no cache entry.
    mv "$build_dir"/mmcv-*.whl "$wheel_dir"/
    rm -rf "$build_dir"
  else
    step "mmcv $MMCV_VER from the cache built for this exact torch: $wheel_dir"
  fi
  "${PIP[@]}" install -q --no-deps --no-cache-dir --force-reinstall "$wheel_dir"/mmcv-*.whl
fi

step "convnext_dense (editable)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"

step "checking imports"
"$PY" - <<'PYEOF'
import torch, torchvision, mmcv, mmcv.ops, mmengine, mmdet, mmseg, timm, pycocotools  # noqa
import convnext_dense  # noqa
from mmcv.ops import RoIAlign, nms  # noqa: compiled ops load
print(f"[setup] torch {torch.__version__} torchvision {torchvision.__version__} mmcv {mmcv.__version__} "
      f"mmengine {mmengine.__version__} mmdet {mmdet.__version__} mmseg {mmseg.__version__} timm {timm.__version__} "
      f"cuda_available={torch.cuda.is_available()}")
PYEOF
echo "$fingerprint" > "$STAMP"
step "done"
