#!/usr/bin/env bash
# Build the mmcv wheel (compiled ops) for one Python, one torch build and one kind of ops, and leave it in
# the wheel cache. `make setup` calls this for the machine it runs on; call it yourself to build for
# another machine (no GPU needed for a CUDA build):
#
#   bash tools/build_mmcv.sh --python .venv/bin/python                 # CPU ops, into .venv's torch
#   bash tools/build_mmcv.sh --python 3.12 --cuda-arch 9.0             # CUDA ops for H100/H200, Python 3.12
#   bash tools/build_mmcv.sh --python 3.11 --cuda-arch "8.0;8.6;8.9;9.0"
#
# --toolkit auto|system|pypi: where nvcc comes from for CUDA ops (auto: the system's when its CUDA version is
# torch's, else PyPI's). --jobs N: parallel compile jobs (default: all cores). --strip-only WHEEL: only strip
# the debug info from a wheel built before (done to every new build).
# --python names an interpreter that already has the pinned torch (a venv's python) or a version X.Y; for
# a version, a build venv with the pinned torch is made under the cache and kept for the next build.
# For CUDA ops without a system nvcc that matches torch's CUDA, the compiler comes from PyPI
# (cuda-toolkit[nvcc,crt,cccl,nvvm,cudart] for torch's CUDA version) and its site-packages folder serves
# as CUDA_HOME. The wheel lands in
#   $CACHE/wheels/mmcv-<ver>-torch<torch version>-py<XY>-<cpu-ops | cuda-ops-sm<arch>...>/
# only after a complete build, with build.log and build-seconds beside it. Prints the wheel's path last.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/requirements.txt"
CACHE="${CONVNEXT_DENSE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/convnext_dense}"
pin() { grep -E "^$1==" "$REQ" | head -n1 | cut -d= -f3; }

PYTHON_ARG="" ARCH="" TOOLKIT=auto JOBS="${MAX_JOBS:-$(nproc)}" STRIP_ONLY=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --python) PYTHON_ARG="$2"; shift 2 ;;
    --cuda-arch) ARCH="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --toolkit) TOOLKIT="$2"; shift 2 ;;
    --strip-only) STRIP_ONLY="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "error: unknown option '$1' (see: bash tools/build_mmcv.sh --help)" >&2; exit 2 ;;
  esac
done
[[ "$TOOLKIT" =~ ^(auto|system|pypi)$ ]] || { echo "error: --toolkit $TOOLKIT: use auto, system or pypi" >&2; exit 2; }
[[ -n "$PYTHON_ARG" ]] || { echo "error: --python is required (a python path or a version such as 3.12)" >&2; exit 2; }

MMCV_VER="$(pin mmcv)" TORCH_VER="$(pin torch)"
log() { echo "[build_mmcv] $*" >&2; }

# --- the interpreter that has torch ---------------------------------------------------------------
if [[ -x "$PYTHON_ARG" ]]; then
  PY="$PYTHON_ARG"
else
  base_py=""
  # A pyenv shim is on PATH for every version but runs only the selected ones: try each candidate.
  for cand in "python$PYTHON_ARG" "$HOME"/.pyenv/versions/"$PYTHON_ARG"*/bin/python3; do
    if "$cand" -c "import sys; sys.exit(f'{sys.version_info[0]}.{sys.version_info[1]}' != '$PYTHON_ARG')" 2>/dev/null; then
      base_py="$cand"; break
    fi
  done
  [[ -n "$base_py" ]] || { echo "error: no python$PYTHON_ARG on this machine (install it, e.g. with pyenv, or pass --python PATH)" >&2; exit 2; }
  bvenv="$CACHE/build/py${PYTHON_ARG/./}-torch$TORCH_VER"
  PY="$bvenv/bin/python"
  if ! "$PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VER')" 2>/dev/null; then
    log "build venv $bvenv (python $("$base_py" --version 2>&1 | cut -d' ' -f2), torch $TORCH_VER)"
    "$base_py" -m venv "$bvenv"
    "$PY" -m pip install -q --disable-pip-version-check "pip<25" "setuptools<70" wheel
    "$PY" -m pip install -q --disable-pip-version-check "torch==$TORCH_VER" "numpy==$(pin numpy)"
  fi
fi
PIP=("$PY" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install -c "$REQ" "setuptools<70" wheel ninja

# strip_wheel WHEEL: the wheel again, its compiled extensions without debug info (wheel unpack/pack: RECORD
# rewritten). Also run by hand on a wheel cached before this step existed.
strip_wheel() {
  local wheel="$1" tmp
  tmp="$(mktemp -d)"
  "$PY" -m wheel unpack "$wheel" -d "$tmp/src" >/dev/null
  find "$tmp/src" -name '*.so' -exec strip --strip-debug {} +
  mkdir "$tmp/out"
  "$PY" -m wheel pack "$tmp"/src/*/ -d "$tmp/out" >/dev/null
  mv "$tmp"/out/*.whl "$wheel"
  rm -rf "$tmp"
  log "debug info stripped: $(du -m "$wheel" | cut -f1) MB"
}
if [[ -n "$STRIP_ONLY" ]]; then strip_wheel "$STRIP_ONLY"; exit 0; fi

read -r TORCH_FULL PYTAG TORCH_CUDA < <("$PY" -c 'import sys, torch; print(torch.__version__, f"{sys.version_info[0]}{sys.version_info[1]}", torch.version.cuda or "none")')

# --- CPU or CUDA ops ------------------------------------------------------------------------------
unset FORCE_CUDA TORCH_CUDA_ARCH_LIST
if [[ -z "$ARCH" ]]; then
  kind="cpu-ops"
else
  [[ "$TORCH_CUDA" != none ]] || { echo "error: torch $TORCH_FULL in $PY is a CPU build; a CUDA-ops mmcv needs a CUDA torch" >&2; exit 2; }
  kind="cuda-ops-sm$(echo "$ARCH" | tr -d '. ' | tr ';' '-')"
  export FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$ARCH"
  # nvcc may be a wrapper script on PATH (/usr/local/bin/nvcc -> /usr/local/cuda-13.0/bin/nvcc): its own
  # install root is the TOP it reports, not two folders above the script (torch's guess, wrong there).
  sys_cuda_home="$(nvcc --dryrun -x cu -c /dev/null -o /dev/null 2>&1 | sed -n 's/^#\$ TOP=//p' | head -n1 || true)"
  [[ -n "$sys_cuda_home" ]] && sys_cuda_home="$(cd "$sys_cuda_home" && pwd -P)"
  sys_nvcc_cuda="$(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p' || true)"
  if [[ -n "${CUDA_HOME:-}" && -x "$CUDA_HOME/bin/nvcc" && "$TOOLKIT" != pypi ]]; then
    log "CUDA_HOME=$CUDA_HOME (set by you)"
  elif [[ "$TOOLKIT" != pypi && -n "$sys_cuda_home" && "$sys_nvcc_cuda" == "$TORCH_CUDA" ]]; then
    CUDA_HOME="$sys_cuda_home"
    log "system nvcc, CUDA $sys_nvcc_cuda = torch's CUDA: CUDA_HOME=$CUDA_HOME"
  elif [[ "$TOOLKIT" == system ]]; then
    echo "error: --toolkit system, but the nvcc on PATH is CUDA ${sys_nvcc_cuda:-none} and torch is built with CUDA" \
         "$TORCH_CUDA. Install the CUDA $TORCH_CUDA toolkit, or use --toolkit pypi." >&2
    exit 2
  else
    major="${TORCH_CUDA%%.*}"
    # The cuda-toolkit meta-package's version follows CUDA's; 13.0.2 is the one tested here for CUDA 13.0.
    toolkit="cuda-toolkit[nvcc,crt,cccl,nvvm,cudart]==$TORCH_CUDA.*"
    [[ "$TORCH_CUDA" == 13.0 ]] && toolkit="cuda-toolkit[nvcc,crt,cccl,nvvm,cudart]==13.0.2"
    log "the compiler comes from PyPI, $toolkit (system nvcc: CUDA ${sys_nvcc_cuda:-none}; --toolkit $TOOLKIT)"
    "${PIP[@]}" install "$toolkit"
    CUDA_HOME="$("$PY" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu'"$major"'"))')"
    [[ -x "$CUDA_HOME/bin/nvcc" ]] || { echo "error: $toolkit did not put nvcc in $CUDA_HOME/bin" >&2; exit 1; }
    # The PyPI runtime ships only libcudart.so.<major>; the linker's -lcudart needs the plain name.
    for libdir in "$CUDA_HOME/lib" "$CUDA_HOME/lib64"; do
      if [[ -e "$libdir/libcudart.so.$major" && ! -e "$libdir/libcudart.so" ]]; then
        ln -s "libcudart.so.$major" "$libdir/libcudart.so"
        log "linked $libdir/libcudart.so -> libcudart.so.$major"
      fi
    done
  fi
  # torch's ATen/cuda headers, which mmcv's CUDA sources include, include the cuBLAS/cuSPARSE/cuSOLVER headers.
  # A CUDA root with only the compiler (a minimal system toolkit) lacks them: the build then stops at the first
  # CUDA source with "cusparse.h: No such file or directory", tens of minutes in. torch's own nvidia-* wheels
  # carry them (site-packages/nvidia/cu<major>/include, the versions torch links against): add that folder to
  # CPATH (searched after CUDA_HOME's own include folder), or stop now saying what is missing.
  missing=()
  for header in cublas_v2.h cublasLt.h cusparse.h cusolverDn.h; do
    compgen -G "$CUDA_HOME/include/$header" >/dev/null || compgen -G "$CUDA_HOME/targets/*/include/$header" >/dev/null \
      || missing+=("$header")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    wheel_include="$("$PY" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu'"${TORCH_CUDA%%.*}"'", "include"))' 2>/dev/null || true)"
    still=()
    for header in "${missing[@]}"; do [[ -e "$wheel_include/$header" ]] || still+=("$header"); done
    if [[ ${#still[@]} -gt 0 ]]; then
      echo "error: the CUDA root $CUDA_HOME has no ${still[*]} (torch's CUDA headers include them) and torch's" \
           "nvidia wheels do not provide them either. Install the CUDA $TORCH_CUDA math libraries' headers" \
           "(cuBLAS, cuSPARSE, cuSOLVER), or build with --toolkit pypi." >&2
      exit 2
    fi
    export CPATH="$wheel_include${CPATH:+:$CPATH}"
    log "$CUDA_HOME has no ${missing[*]}: taken from torch's nvidia wheels ($wheel_include, added to CPATH)"
  fi
  export CUDA_HOME PATH="$CUDA_HOME/bin:$PATH"
fi

dest="$CACHE/wheels/mmcv-$MMCV_VER-torch$TORCH_FULL-py$PYTAG-$kind"
if ls "$dest"/mmcv-*.whl >/dev/null 2>&1; then
  log "cached: $dest"
  ls "$dest"/mmcv-*.whl
  exit 0
fi

# --- build ------------------------------------------------------------------------------------------
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)
log "compiling mmcv $MMCV_VER ($kind) against torch $TORCH_FULL, python $PYTAG, $JOBS jobs; $(date -u +%FT%TZ)"
[[ -n "$ARCH" ]] && log "a CUDA build takes about an hour per arch on 2 cores (CPU ops: 10-25 minutes)"
export MMCV_WITH_OPS=1 MAX_JOBS="$JOBS"
"$PY" -m pip wheel --disable-pip-version-check --no-build-isolation --no-cache-dir --no-deps -v \
  -w "$work/out" "mmcv==$MMCV_VER" > "$work/build.log" 2>&1 \
  || { cp "$work/build.log" "$CACHE/mmcv-build-failed.log" 2>/dev/null || true
       echo "error: the mmcv build failed; the log is $CACHE/mmcv-build-failed.log" >&2; exit 1; }
secs=$(( $(date +%s) - t0 ))
rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
mv "$work"/out/mmcv-*.whl "$work/build.log" "$dest.tmp"/
echo "$secs" > "$dest.tmp/build-seconds"
# CPython's CFLAGS (sysconfig) carry -g: most of the extension is debug info (80 of the 109 MB of the sm_90
# build). Strip it (the CUDA kernels and symbols stay) and repack, so that the wheel travels in an offline kit.
strip_wheel "$dest.tmp"/mmcv-*.whl
if [[ -n "$ARCH" ]]; then  # the wheel must hold compiled kernels for every requested arch, or it is not cached
  python3 "$ROOT/tools/inspect_mmcv_wheel.py" "$dest.tmp"/mmcv-*.whl --cuda-arch "$ARCH" | tee "$dest.tmp/kernels.txt" >&2
fi
# Into place only when complete: an interrupted build leaves no cache entry.
mv "$dest.tmp" "$dest"
log "built in $secs s: $dest"
ls "$dest"/mmcv-*.whl
