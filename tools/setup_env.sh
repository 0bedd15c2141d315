#!/usr/bin/env bash
# Build the project's environment in ./.venv from nothing; a second run on a ready machine
# takes seconds (a stamp records what was installed).
#
#   bash tools/setup_env.sh                        # or: make setup   (from PyPI)
#   bash tools/setup_env.sh --wheelhouse DIR       # offline, from a wheelhouse (tools/make_wheelhouse.sh)
#
# With a GPU (nvidia-smi lists one) mmcv is compiled with CUDA ops for the archs of the GPUs it sees
# (TORCH_CUDA_ARCH_LIST overrides), with the system nvcc when it is torch's CUDA version, else with
# NVIDIA's compiler wheels from PyPI (tools/build_mmcv.sh says which and how long).
# With --wheelhouse nothing is downloaded (pip --no-index): the wheelhouse's MANIFEST is checked
# (hashes, Python version, ops kind) and a torch that is already installed for this Python is reused
# when its version is the pinned one (a GPU image's torch is gigabytes: it is not installed again).
#
# Traps handled here (see DEVELOPERS.md):
# * mmcv 2.x has no wheels on PyPI: tools/build_mmcv.sh compiles it against the torch installed first,
#   with --no-build-isolation and setuptools<70 (its setup.py imports pkg_resources), and caches the
#   wheel under a key naming the exact torch build, the Python version and the ops (CPU, CUDA archs).
# * Another mmcv already in the environment (2.2, or OpenMMLab 1.x's mmcv-full) is reported with the
#   version found, the one needed and the command, before anything else fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PY_BOOT="${PYTHON:-python3}"
REQ="$ROOT/requirements.txt"
STAMP="$VENV/.convnext_dense-setup"
WHEELHOUSE=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --wheelhouse) WHEELHOUSE="$(cd "$2" && pwd)"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "error: unknown option '$1' (see: bash tools/setup_env.sh --help)" >&2; exit 2 ;;
  esac
done

pin() { grep -E "^$1==" "$REQ" | head -n1 | cut -d= -f3; }
MMCV_VER="$(pin mmcv)"

# CUDA archs of the visible GPUs ("9.0", "8.0;8.6"), or empty for CPU ops.
cuda_arch="${TORCH_CUDA_ARCH_LIST:-}"
if [[ -z "$cuda_arch" ]] && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  cuda_arch="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | sort -u | paste -sd';' || true)"
fi
kit_sum=""
[[ -f "$WHEELHOUSE/MANIFEST.json" ]] && kit_sum="$(sha256sum "$WHEELHOUSE/MANIFEST.json" | cut -c1-16)"
fingerprint="$( (cat "$REQ" "$ROOT/tools/setup_env.sh" "$ROOT/tools/build_mmcv.sh" "$ROOT/setup.py"
                 echo "cuda=$cuda_arch kit=$kit_sum") | sha256sum | cut -c1-16)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$fingerprint" ]] \
   && "$VENV/bin/python" -c "import mmcv.ops, mmdet, mmseg, timm, convnext_dense" 2>/dev/null; then
  echo "[setup] environment in $VENV is ready (fingerprint $fingerprint)"
  exit 0
fi

t0=$(date +%s)
step() { echo "[setup +$(( $(date +%s) - t0 ))s] $*"; }

# An mmcv of OpenMMLab 1.x (mmcv-full) or another 2.x in the environment: say so before anything fails.
mmcv_conflict() {  # $1: a python
  "$1" - "$MMCV_VER" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import PackageNotFoundError, distribution
need = sys.argv[1]
for name in ('mmcv-full', 'mmcv'):
    try:
        dist = distribution(name)
    except PackageNotFoundError:
        continue
    if name == 'mmcv-full' or dist.version != need:
        print(f'{name}=={dist.version} at {dist.locate_file("")}')
PYEOF
}
for candidate in "$VENV/bin/python" "$PY_BOOT"; do
  [[ -x "$(command -v "$candidate" 2>/dev/null)" ]] || continue
  found="$(mmcv_conflict "$candidate" || true)"
  if [[ "$found" == mmcv-full* ]]; then
    echo "error: $found is installed for $candidate: that is OpenMMLab 1.x; convnext_dense needs mmcv==$MMCV_VER" \
         "(mmdet 3.3 and mmseg 1.2 need mmcv>=2.0,<2.2), and the two cannot live in one environment." \
         "Remove it with: $candidate -m pip uninstall -y mmcv-full mmcv   then run make setup again." >&2
    exit 2
  elif [[ -n "$found" && "$candidate" == "$VENV/bin/python" ]]; then
    echo "[setup] found $found in $VENV; convnext_dense needs mmcv==$MMCV_VER (mmdet 3.3 and mmseg 1.2 need" \
         "mmcv>=2.0,<2.2): it is replaced below by mmcv $MMCV_VER built for this torch."
  elif [[ -n "$found" ]]; then
    echo "[setup] $PY_BOOT has $found; $VENV gets its own mmcv==$MMCV_VER, which shadows it there."
  fi
done

INDEX_ARGS=()
if [[ -n "$WHEELHOUSE" ]]; then
  step "wheelhouse $WHEELHOUSE: checking the manifest"
  "$PY_BOOT" "$ROOT/tools/make_wheelhouse.py" verify "$WHEELHOUSE" --ops "${cuda_arch:+cuda:$cuda_arch}"
  INDEX_ARGS=(--no-index --find-links "$WHEELHOUSE")
fi
export PIP_PROGRESS_BAR=off

# Reuse a torch that is already installed for this Python (a GPU image's) when it is the pinned version.
base_site=""
if [[ -n "$WHEELHOUSE" ]]; then
  base_site="$("$PY_BOOT" - "$(pin torch)" "$(pin torchvision)" <<'PYEOF' 2>/dev/null || true
import os, sys
import torch, torchvision
if torch.__version__.split('+')[0] == sys.argv[1] and torchvision.__version__.split('+')[0] == sys.argv[2]:
    print(os.path.dirname(os.path.dirname(torch.__file__)))
PYEOF
)"
fi

step "python venv at $VENV"
[[ -x "$VENV/bin/python" ]] || "$PY_BOOT" -m venv "$VENV"
PY="$VENV/bin/python"
pip_install() { "$PY" -m pip --disable-pip-version-check install "${INDEX_ARGS[@]}" "$@"; }
if [[ -n "$base_site" ]]; then
  # After the venv's own site-packages: what the venv installs (the kit) shadows the image's packages.
  site="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$base_site" > "$site/_convnext_dense_base.pth"
  step "reusing torch $(pin torch) and torchvision $(pin torchvision) from $base_site (not installed again)"
fi
pip_install -q --upgrade "pip<25" "setuptools<70" wheel

if [[ -n "$WHEELHOUSE" ]]; then
  step "installing the wheelhouse's packages (--no-index)"
  # The kit is one resolved set: installed as it is (--no-deps), without what this venv already has.
  mapfile -t wheels < <("$PY" "$ROOT/tools/make_wheelhouse.py" list "$WHEELHOUSE" --except mmcv --skip-present)
  [[ ${#wheels[@]} -eq 0 ]] || pip_install -q --no-deps "${wheels[@]}"
else
  step "torch $(pin torch), torchvision $(pin torchvision) (first, everything compiled later links to it)"
  pip_install -q -c "$REQ" "torch==$(pin torch)" "torchvision==$(pin torchvision)" "numpy==$(pin numpy)"

  step "OpenMMLab, timm and the rest (pinned through requirements.txt)"
  pip_install -q -c "$REQ" \
    "mmengine==$(pin mmengine)" "mmdet==$(pin mmdet)" "mmsegmentation==$(pin mmsegmentation)" \
    "timm==$(pin timm)" "pycocotools==$(pin pycocotools)" "opencv-python==$(pin opencv-python)" \
    ftfy regex matplotlib scipy shapely terminaltables prettytable addict yapf pytest pytest-xdist ruff ninja \
    "onnx==$(pin onnx)" "onnxruntime==$(pin onnxruntime)" \
    "mmpretrain==$(pin mmpretrain)" "transformers==$(pin transformers)"  # tests: real mmpretrain / HF layouts
fi

if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VER'" 2>/dev/null || [[ -n "$cuda_arch" ]]; then
  if [[ -n "$WHEELHOUSE" ]]; then
    mmcv_wheel="$("$PY_BOOT" "$ROOT/tools/make_wheelhouse.py" list "$WHEELHOUSE" --only mmcv)"
    step "mmcv $MMCV_VER from the wheelhouse: $(basename "$mmcv_wheel")"
  else
    step "mmcv $MMCV_VER with ${cuda_arch:+CUDA ops for sm $cuda_arch}${cuda_arch:-CPU ops} (tools/build_mmcv.sh)"
    mmcv_wheel="$(bash "$ROOT/tools/build_mmcv.sh" --python "$PY" ${cuda_arch:+--cuda-arch "$cuda_arch"} | tail -n1)"
  fi
  pip_install -q --no-deps --no-cache-dir --force-reinstall "$mmcv_wheel"
fi

step "convnext_dense (editable)"
pip_install -q --no-deps --no-build-isolation -e "$ROOT"

step "checking imports"
"$PY" - "$cuda_arch" <<'PYEOF'
import sys
import torch, torchvision, mmcv, mmcv.ops, mmengine, mmdet, mmseg, timm, pycocotools, numpy  # noqa
import convnext_dense  # noqa
from mmcv.ops import RoIAlign, nms  # noqa: compiled ops load
print(f"[setup] torch {torch.__version__} torchvision {torchvision.__version__} mmcv {mmcv.__version__} "
      f"mmengine {mmengine.__version__} mmdet {mmdet.__version__} mmseg {mmseg.__version__} timm {timm.__version__} "
      f"numpy {numpy.__version__} cuda_available={torch.cuda.is_available()}")
if sys.argv[1] and torch.cuda.is_available():  # the CUDA kernels of this build run on this GPU
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]], device='cuda')
    keep = nms(boxes, torch.tensor([0.9, 0.8], device='cuda'), 0.5)[1]
    assert keep.tolist() == [0], keep
    print('[setup] mmcv CUDA ops run on', torch.cuda.get_device_name(0))
PYEOF
echo "$fingerprint" > "$STAMP"
step "done"
