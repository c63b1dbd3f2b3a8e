# Two set-up commands on a fresh machine: `make search` (the main job) and `make test`.
# Both create .venv with the pinned dependencies and install the offline data when missing.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DATA   := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: search test lint format bench data venv clean

search: $(STAMP) data
	$(PY) -m evonorm explore

test: $(STAMP) data lint
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) bench/layer_speed.py

venv: $(STAMP)

# pip (not uv/poetry) so that torch and torchvision come from this machine's disk.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

data: $(DATA)

$(DATA):
	$(SUDO) apt-get install -y -qq dataset-fashion-mnist || \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist)
	test -f $@

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
