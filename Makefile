# mmbnn: `make test` and `make demo` do all set-up on a fresh machine.
# Both install into .venv only when the stamp is missing or stale.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.mmbnn-installed
# An optional folder of prebuilt wheels (e.g. mmcv 2.1.0 for torch 2.13.0 /
# cp311), used as pip --find-links; without it mmcv builds from source
# (~17 min on 2 cores). Override with `make install WHEEL_CACHE=DIR`.
WHEEL_CACHE ?= ../shared/wheels
FIND_LINKS := $(if $(wildcard $(WHEEL_CACHE)/*.whl),--find-links $(abspath $(WHEEL_CACHE)),)
# mmcv's ops: auto builds CUDA kernels when torch is a CUDA build and nvcc's
# CUDA major matches torch's (tools/misc/detect_cuda.py), else CPU only;
# 1 forces CUDA (fails if unusable), 0 forces CPU. CUDA builds from source
# (never from WHEEL_CACHE), for the visible GPUs' architectures or, with no
# GPU visible, for TORCH_CUDA_ARCH_LIST (default 7.5;8.0;8.6;8.9;9.0+PTX).
# After changing it: make -B install.
MMCV_CUDA ?= auto
MAX_JOBS ?= 2
DEMO_DIR ?= data/demo
DEMO_WORK_DIR ?= work_dirs/demo_faster_rcnn_r18_ste
DOCS_STAMP := $(VENV)/.mmbnn-docs-installed
DOCS_SRC := docs/en
DOCS_OUT := docs/en/_build/html

.PHONY: install test test-serial test-fast demo docs clean-venv

install: $(STAMP)

$(STAMP): setup.py requirements/build.txt requirements/mminstall.txt requirements/runtime.txt requirements/tests.txt requirements/docs.txt $(wildcard mmbnn/ops/csrc/*/*.cpp mmbnn/ops/csrc/*/*.h)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements/build.txt
	$(PIP) install "$$(grep -m1 "^mmengine" requirements/runtime.txt)"
	# FORCE_CUDA, TORCH_CUDA_ARCH_LIST, MMCV_REBUILD (installed mmcv of the
	# other kind); a CUDA build skips the wheel caches (their mmcv is CPU),
	# a CPU build hides the GPUs (mmcv's setup.py builds CUDA ops if it sees one)
	set -e; choice=$$($(PY) tools/misc/detect_cuda.py --mode $(MMCV_CUDA) --shell); eval "$$choice"; \
	if [ "$$MMCV_REBUILD" = 1 ]; then $(PIP) uninstall -y mmcv; fi; \
	if [ "$$FORCE_CUDA" = 1 ]; then \
	  echo "building mmcv's CUDA ops (TORCH_CUDA_ARCH_LIST=$$TORCH_CUDA_ARCH_LIST, MAX_JOBS=$(MAX_JOBS))"; \
	  MMCV_WITH_OPS=1 MAX_JOBS=$(MAX_JOBS) $(PIP) install --no-build-isolation --no-binary mmcv --no-cache-dir -r requirements/mminstall.txt; \
	else \
	  CUDA_VISIBLE_DEVICES= MMCV_WITH_OPS=1 MAX_JOBS=$(MAX_JOBS) $(PIP) install --no-build-isolation $(FIND_LINKS) -r requirements/mminstall.txt; \
	fi
	$(PIP) install -r requirements/runtime.txt -r requirements/tests.txt -r requirements/docs.txt
	# the editable install also links tools, configs and model-index.yml
	# into mmbnn/.mim (setup.py's add_mim_extension), for `mim`
	$(PIP) install --no-build-isolation --no-deps -e .
	# mim and mmengine look for an installed package at <site-packages>/mmbnn,
	# which a PEP 660 editable install does not create: link the sources there
	# (`pip uninstall mmbnn` leaves this link; remove it by hand)
	site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))'); \
	if [ -e "$$site/mmbnn" ] && [ ! -L "$$site/mmbnn" ]; then \
	  echo "$$site/mmbnn is a directory (a non-editable mmbnn?): pip uninstall mmbnn, then make install" >&2; exit 1; \
	fi; \
	ln -sfn "$(abspath mmbnn)" "$$site/mmbnn"
	$(PY) -c "import mmcv.ops, mmdet, mmbnn; print('mmbnn install OK')"
	$(PY) tools/misc/detect_cuda.py --installed
	$(VENV)/bin/mim search mmbnn > /dev/null
	touch $(STAMP)

# The end-to-end demo trainings (tests/test_e2e) spend much of their time
# waiting on one-thread training subprocesses: they run beside the rest of
# the suite, their report printed after it; either failing fails the target.
# Each report ends with its slowest tests (PYTEST_DURATIONS of them).
E2E_LOG ?= $(VENV)/e2e-tests.log
PYTEST_DURATIONS ?= 15
test: $(STAMP)
	@set -u; \
	$(PY) -m pytest -p no:cacheprovider --durations=$(PYTEST_DURATIONS) tests/test_e2e > $(E2E_LOG) 2>&1 & e2e_pid=$$!; \
	$(PY) -m pytest -p no:cacheprovider --durations=$(PYTEST_DURATIONS) tests --ignore=tests/test_e2e; rest=$$?; \
	wait $$e2e_pid; e2e=$$?; \
	echo "==== tests/test_e2e (run beside the rest; log: $(E2E_LOG)) ===="; \
	cat $(E2E_LOG); \
	echo "==== exit codes: tests $$rest, tests/test_e2e $$e2e ===="; \
	test $$rest -eq 0 && test $$e2e -eq 0

# the suite in one process, e2e after the rest
test-serial: $(STAMP)
	$(PY) -m pytest tests

# everything but the end-to-end demo trainings (the bulk of the suite's time)
test-fast: $(STAMP)
	$(PY) -m pytest tests --ignore=tests/test_e2e

# The HTML docs need only Sphinx, not the mmbnn install: a separate stamp.
$(DOCS_STAMP): requirements/docs.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements/docs.txt
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(PY) -m sphinx -W --keep-going -b html $(DOCS_SRC) $(DOCS_OUT)
	@echo "docs: $(abspath $(DOCS_OUT))/index.html"

demo: $(STAMP)
	$(PY) tools/demo.py --data-root $(DEMO_DIR) --work-dir $(DEMO_WORK_DIR)

clean-venv:
	rm -rf $(VENV)
