# Two set-up commands on a fresh machine: `make search` (the main job) and `make test`.
# Both create .venv with the pinned dependencies and install the offline data when missing.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TOOLS  := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
DATA   := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: search test lint format bench data venv clean

# The main job: the evonorm-search pipeline on the KFP local runner with the embedded defaults —
# Fashion-MNIST (`local` preset), evolution in the B space, a JournalFile study and a SQLite
# MLflow store under runs/search/; GENERATIONS x 8 candidates, then rerank (top 2 + four
# baselines on ResNet, basic-block ResNet and VGG) and register the champion. Re-running it
# continues the same study. Transfer tasks: TRANSFER=segmentation,gan (adds ~25 min on 2 cores).
GENERATIONS ?= 3
TRANSFER ?=
RUNS := $(CURDIR)/runs
search: $(STAMP) data
	$(PY) -m evonorm pipeline run-local --pipeline-root $(RUNS)/kfp \
	  --param study=search --param storage=journal:$(RUNS)/search/optuna.log \
	  --param tracking_uri=sqlite:///$(RUNS)/search/mlflow.db \
	  --param report_dir=$(RUNS)/search/report --param preset=local --param device=cpu \
	  --param population=8 --param tournament=3 --param generations=$(GENERATIONS) \
	  --param children=8 --param candidates_per_task=4 --param rerank_top=2 --param rerank_seeds=0 \
	  --param rerank_archs=resnet,resnet_basic,vgg --param transfer_tasks=$(TRANSFER)

# The tests need a real PostgreSQL server (crash-safety tests): scripts/test-postgres.sh starts
# this machine's cluster and prints its URL.
test: $(STAMP) $(TOOLS_STAMP) data lint
	EVONORM_TEST_POSTGRES_URL=$$(scripts/test-postgres.sh) $(PY) -m pytest -q

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

# checkov (k8s manifest security checks) lives in its own venv: its pins (boto3, packaging,
# networkx, ...) would fight the project's.
$(TOOLS_STAMP):
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet checkov==3.3.30
	touch $@

data: $(DATA)

$(DATA):
	$(SUDO) apt-get install -y -qq dataset-fashion-mnist || \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist)
	test -f $@

clean:
	rm -rf $(VENV) $(TOOLS) runs .pytest_cache .ruff_cache
