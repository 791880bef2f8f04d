# mmbnn: `make test` and `make demo` do all set-up on a fresh machine.
# Both install into .venv only when the stamp is missing or stale.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.mmbnn-installed
SHARED_WHEELS := ../shared/wheels
# The shared folder holds an mmcv wheel prebuilt for torch 2.13.0/cp311; it is
# only a cache: without it pip builds mmcv from source (~17 min on 2 cores).
FIND_LINKS := $(if $(wildcard $(SHARED_WHEELS)/*.whl),--find-links $(abspath $(SHARED_WHEELS)),)
DEMO_DIR ?= data/demo
DEMO_WORK_DIR ?= work_dirs/demo_faster_rcnn_r18_ste

.PHONY: install test test-fast demo clean-venv

install: $(STAMP)

$(STAMP): setup.py requirements/build.txt requirements/mminstall.txt requirements/runtime.txt requirements/tests.txt $(wildcard mmbnn/ops/csrc/*/*.cpp mmbnn/ops/csrc/*/*.h)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements/build.txt
	$(PIP) install mmengine==0.10.7
	MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=2 $(PIP) install --no-build-isolation $(FIND_LINKS) -r requirements/mminstall.txt
	$(PIP) install -r requirements/runtime.txt -r requirements/tests.txt
	$(PIP) install --no-build-isolation --no-deps -e .
	$(PY) -c "import mmcv.ops, mmdet, mmbnn; print('mmbnn install OK')"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest tests

# everything but the end-to-end demo trainings (the bulk of the suite's time)
test-fast: $(STAMP)
	$(PY) -m pytest tests --ignore=tests/test_e2e

demo: $(STAMP)
	$(PY) tools/demo.py --data-root $(DEMO_DIR) --work-dir $(DEMO_WORK_DIR)

clean-venv:
	rm -rf $(VENV)
