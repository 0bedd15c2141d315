# Two commands do everything on a fresh machine (each builds ./.venv first when it is not there):
#   make demo   # synthetic COCO -> train Cascade Mask R-CNN with a small ConvNeXt on CPU -> COCO box/mask AP
#   make test   # lint + the test suite (CPU, offline, a few minutes)
PY := .venv/bin/python
STAMP := .venv/.convnext_dense-setup
DET_DEMO := configs/detection/demo/cascade_convnext_demo.py
SEG_DEMO := configs/segmentation/demo/upernet_convnext_demo.py
CLS_DEMO := configs/classification/demo/convnext_demo.py

.PHONY: setup test test-e2e test-slow test-demo test-gpu gpu-check mmcv-wheel wheelhouse lint demo demo-seg demo-cls demo-chain demo-chain-small demo-all format

setup:
	@bash tools/setup_env.sh

$(STAMP):
	@bash tools/setup_env.sh

lint: setup
	.venv/bin/ruff check convnext_dense tools tests configs projects
	.venv/bin/ruff format --check convnext_dense tools tests configs projects

# The suite in parallel (pytest-xdist): one worker per core, one torch thread each (tests/conftest.py), idle
# workers take tests from busy ones. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto
test: setup lint
	$(PY) -m pytest -m "not slow and not e2e" -q -n $(PYTEST_WORKERS) --dist worksteal

# The long end-to-end runs (several CPU processes through the launchers, runs killed and resumed); CI runs them
# after make test.
test-e2e: setup
	$(PY) -m pytest -m e2e -q

test-slow: setup
	$(PY) -m pytest -m slow -q

# The detection demo's AP check alone (about 11 minutes on 2 cores); CI runs it after `make test`.
test-demo: setup
	$(PY) -m pytest -m slow -q -s tests/test_demo/test_detection_demo.py

# The GPU path in one command, on a machine with a CUDA GPU: mmcv's CUDA ops against torchvision's, and
# each demo trained a few iterations with AMP and evaluated (tests/test_gpu; skipped without a GPU).
test-gpu: setup
	$(PY) -m pytest -m cuda -q -rs tests/test_gpu

# The whole GPU check in one call (install from a kit, make test-gpu, GPU benchmarks; one report), for a
# short lease on a GPU machine; without a GPU it runs the install and import checks and says the rest was
# skipped. KIT=DIR installs from a wheelhouse first (docs/gpu.md).
gpu-check:
	python3 tools/gpu_check.py $(if $(KIT),--kit $(KIT),--no-install) --out work_dirs/gpu_check

# The mmcv wheel for another machine, built here without a GPU into the wheel cache, e.g.
#   make mmcv-wheel PYTHON_VERSION=3.12 CUDA_ARCH=9.0        (about an hour per arch on 2 cores)
mmcv-wheel:
	bash tools/build_mmcv.sh --python $(or $(PYTHON_VERSION),3.11) $(if $(CUDA_ARCH),--cuda-arch "$(CUDA_ARCH)")

# Every wheel an offline machine needs, with a manifest (docs/gpu.md), e.g. the GPU machines' minimal kit:
#   make wheelhouse PYTHON_VERSION=3.12 CUDA_ARCH=9.0 KIT=gpu-minimal OUT=kits/gpu-py312-sm90
wheelhouse:
	python3 tools/make_wheelhouse.py build --python $(or $(PYTHON_VERSION),3.11) $(if $(CUDA_ARCH),--cuda-arch "$(CUDA_ARCH)") --kit $(or $(KIT),full) --out $(or $(OUT),wheelhouse)

# Each demo set is rewritten when its generator changes (a stale set would train on the old data).
data/synthetic_coco/annotations/instances_val.json: convnext_dense/datasets/synthetic/coco.py convnext_dense/datasets/synthetic/draw.py | $(STAMP)
	$(PY) tools/make_demo_data.py coco --out data/synthetic_coco

data/synthetic_ade/annotations/validation: convnext_dense/datasets/synthetic/ade.py convnext_dense/datasets/synthetic/draw.py | $(STAMP)
	$(PY) tools/make_demo_data.py ade --out data/synthetic_ade
	touch $@

data/synthetic_cls/val: convnext_dense/datasets/synthetic/imagefolder.py convnext_dense/datasets/synthetic/draw.py | $(STAMP)
	rm -rf data/synthetic_cls
	$(PY) tools/make_demo_data.py cls --out data/synthetic_cls

demo: setup data/synthetic_coco/annotations/instances_val.json
	$(PY) tools/train.py $(DET_DEMO) --work-dir work_dirs/demo_det

demo-seg: setup data/synthetic_ade/annotations/validation
	$(PY) tools/train.py $(SEG_DEMO) --work-dir work_dirs/demo_seg

demo-cls: setup data/synthetic_cls/val
	$(PY) tools/train.py $(CLS_DEMO) --work-dir work_dirs/demo_cls

# Pretrain -> detect -> segment (projects/demo_chain/, an experiment run on the package): the classification
# demo, then the detection and segmentation demos from its checkpoint and from random init (two seeds each)
# on 100 training images with a short schedule; one markdown table and learning curves (docs/demo_chain.md: 31 min for the runs it trained, with 2 threads; the
# random-init runs, about 32 min more, were reused from an earlier run). On cores shared with other jobs,
# add THREADS=1 (one thread per run was 3-9x faster there).
demo-chain: setup
	$(PY) projects/demo_chain/demo_chain.py --budget short --low-data 100 --seeds 0 1 $(if $(THREADS),--threads $(THREADS)) --out-dir work_dirs/demo_chain

demo-chain-small: setup
	$(PY) projects/demo_chain/demo_chain.py --budget small --out-dir work_dirs/demo_chain_small

demo-all: demo demo-seg demo-cls

format: setup
	.venv/bin/ruff check --fix convnext_dense tools tests configs projects
	.venv/bin/ruff format convnext_dense tools tests configs projects
