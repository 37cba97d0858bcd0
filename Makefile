# make demo | make test | make bench — each sets up what it needs on a fresh machine:
# apt packages (as root), a virtual environment in .venv, the package with its test extra,
# and the C++ core (rebuilt when cpp/ or the build files change).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# CI and this project's machines take the CPU build of torch that pip finds there; any
# torch >= 2.1 works.
TORCH ?= torch>=2.1,<2.14
# apt packages the wheels load at run time (open3d and pyrealsense2 need libusb)
APT_PACKAGES ?= libusb-1.0-0 libgomp1
# The editable install maps the package's subpackages when it is made: reinstall when the core
# or the build changes, or when a subpackage appears.
CORE_SOURCES := $(shell find cpp -type f) CMakeLists.txt pyproject.toml $(shell find semslam -name __init__.py)

.PHONY: all demo test bench build system-deps clean

all: build

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing apt packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "warning: missing system packages:$$missing (install them with apt as root)"; \
	  fi; \
	fi

$(VENV)/.deps: pyproject.toml | system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)" "scikit-build-core>=0.10" "pybind11>=2.12"
	touch $@

$(VENV)/.core: $(VENV)/.deps $(CORE_SOURCES)
	flock $(VENV)/.build-lock $(PY) -m pip install -q --no-build-isolation -e ".[test]"
	$(PY) -c "import semslam._core as c; print('semslam core:', c.build_info())"
	touch $@

build: system-deps $(VENV)/.core

demo: build
	$(VENV)/bin/semslam demo

test: build
	$(PY) -m pytest -q

bench: build
	$(PY) benchmarks/bench_preprocess.py

clean:
	rm -rf build $(VENV) .pytest_cache
