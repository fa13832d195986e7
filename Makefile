# Two commands do everything on a fresh machine: `make lab` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: lab test release release-check bench bench-grading clean

# Reinstall only when the project's requirements change.
$(STAMP): pyproject.toml autograder/pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]' -e ./autograder
	touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/rnnlab run --out results

test: $(STAMP)
	$(PY) -m pytest

release: $(STAMP)
	$(VENV)/bin/rnnlab release

release-check: $(STAMP)
	$(VENV)/bin/rnnlab release --check

bench: $(STAMP)
	$(PY) benchmarks/bench_training.py

bench-grading: $(STAMP)
	$(PY) benchmarks/bench_grading.py

clean:
	rm -rf results .pytest_cache
