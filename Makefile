# Two commands do the whole set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# torch is pinned on the same pip line as the package: an unpinned torch pulls a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: demo test lint docs bench clean venv dev

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e . $(TORCH)
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[dev]' $(TORCH)
	touch $@

venv: $(VENV)/.installed

dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(PY) examples/quickstart.py

test: $(VENV)/.installed-dev
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy src

docs: $(VENV)/.installed-dev
	$(PIP) install -q -e '.[docs]' $(TORCH)
	$(PY) benchmarks/report.py
	$(VENV)/bin/mkdocs build --strict

bench: $(VENV)/.installed-dev
	$(PIP) install -q -e '.[bench]' $(TORCH)
	$(PY) -m liverec.cli bench all

clean:
	rm -rf $(VENV) build dist site .pytest_cache
