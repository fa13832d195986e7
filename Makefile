# Two commands do everything on a fresh machine: `make lab` and `make test`; a TA needs only `make grader`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: lab grader sweep test test-all test-docker docker pytest-split sandbox chromium release release-check bench bench-lab bench-seeds bench-grading bench-report mutation docs clean

# Reinstall only when the project's requirements change. uv installs in seconds what pip takes
# minutes for (13 s against 137 s here); pip remains the fallback. PIP_FIND_LINKS (a folder of
# local wheels, such as the CPU build of torch) is passed on to uv, which does not read pip's settings.
# --compile-bytecode (pip's default, not uv's): the grader's sandboxed workers see the packages
# read-only, so without .pyc files each one compiles torch's modules again (2.5 s more a worker).
$(STAMP): pyproject.toml autograder/pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	{ $(PY) -m pip install --quiet uv && $(PY) -m uv pip install --quiet --compile-bytecode --python $(PY) \
	    $${PIP_FIND_LINKS:+--find-links $$PIP_FIND_LINKS} -c constraints.txt -e '.[dev]' -e ./autograder; } \
	  || $(PY) -m pip install --quiet -c constraints.txt -e '.[dev]' -e ./autograder
	touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/rnnlab run --out results

# The distance sweep (about 10 minutes); the course ships its sweep.json with the release.
sweep: $(STAMP)
	$(VENV)/bin/rnnlab sweep --out solution/sweep

# `rnnlab grade` (and its tests) run submissions in a bubblewrap sandbox: install it where it is missing.
sandbox:
	@command -v bwrap >/dev/null || { \
	  echo "Installing bubblewrap (Debian package): rnnlab grade runs each submission in its sandbox."; \
	  if ! command -v apt-get >/dev/null; then \
	    echo "No apt-get here: install bubblewrap with your package manager (on macOS, grade in a Linux VM or with otter grade)."; exit 1; fi; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; echo "(through sudo, as installing a system package needs root)"; fi; \
	  $$SUDO apt-get install -y -qq bubblewrap >/dev/null 2>&1 || { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq bubblewrap; }; }

# What a TA needs for `rnnlab grade`, and nothing else (no training, no tests): the environment and
# bubblewrap, then a check that the sandbox starts here and a word on the course secret, which only
# the instructor has (rnnlab grade refuses to grade without it).
grader: $(STAMP) sandbox
	@$(PY) -c 'from rnnjudge.sandbox import bwrap_problem; p = bwrap_problem(); print(p or "The sandbox starts here."); raise SystemExit(1 if p else 0)'
	@if [ -n "$$RNNJUDGE_SECRET" ] || [ -f autograder/course.secret ]; then echo "Course secret found."; else 	  echo "No course secret here: ask your instructor for autograder/course.secret (put it there, mode 600) or set RNNJUDGE_SECRET; rnnlab grade refuses to grade without it."; fi
	@echo "Ready: .venv/bin/rnnlab grade submissions/ --out grades/ (see autograder/GRADING.md)"

# The suite without its exhaustive runs and its containers; test-all adds them (CI). Two pytest
# processes at once: the tests that run the judge (marker `judge`; their output follows the others')
# and the rest.
test: $(STAMP) sandbox
	@$(MAKE) --no-print-directory pytest-split MARKS="not exhaustive and not docker"

# otter grade's and Gradescope's containers (tests/test_containers.py) need a Docker daemon, and
# debootstrap for a base image where none can be pulled: installed and started here when root can.
docker:
	@command -v dockerd >/dev/null && command -v debootstrap >/dev/null || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -qq docker.io debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq docker.io debootstrap; }; }; } \
	  || echo "docker.io and debootstrap not installed: the container tests will be skipped"
	@docker info >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v dockerd >/dev/null && \
	  { (setsid dockerd >/tmp/rnnlab-dockerd.log 2>&1 &); for i in $$(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done; }; } || true

# The containers alone, the whole bank and every attack included (CI runs all but the docker_only ones).
# Measured 2026-12-06 on 2 cores ("Intel(R) Xeon(R) Processor"), nothing else running, the environment image
# in Docker's cache (about 4 min more without it): on a bare fresh clone, 49 min for the tests CI runs and
# the bank (96 files) through otter grade, two containers at a time (16 passed in 48:33); the bank on
# Gradescope's route, added since and run alone, 34 min: 15 min for the bank under rnnlab grade (shared by
# both docker_only tests, so counted once in a whole run) and 19 min for its containers. About 70 min in all.
test-docker: $(STAMP) sandbox docker
	$(PY) -m pytest -m docker tests/test_containers.py

# CI also renders the answers sheet in headless Chromium (tests/test_notebook_grading.py; skipped
# where it is missing): installed here when apt-get can, as bubblewrap is.
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }; }; } \
	  || echo "headless Chromium not installed: its test will be skipped"

test-all: $(STAMP) sandbox chromium docker
	@$(MAKE) --no-print-directory pytest-split MARKS="not docker_only"

pytest-split:
	@log=$$(mktemp); $(PY) -m pytest -m "judge and ($(MARKS))" > $$log 2>&1 & judge=$$!; \
	$(PY) -m pytest -m "not judge and ($(MARKS))"; rest=$$?; \
	wait $$judge; judge_rc=$$?; echo "==== the tests that run the judge ===="; cat $$log; rm -f $$log; \
	test $$rest = 0 && test $$judge_rc = 0

release: $(STAMP)
	$(VENV)/bin/rnnlab release

release-check: $(STAMP)
	$(VENV)/bin/rnnlab release --check

bench: $(STAMP)
	$(PY) benchmarks/bench_training.py

bench-lab: $(STAMP)
	$(PY) benchmarks/bench_lab.py --repeat 2 --fp32 --compare --sweep
	$(PY) benchmarks/bench_lab.py --data tests/data/wikitext-2 --seeds 3
	$(PY) benchmarks/bench_busy.py
	$(PY) benchmarks/bench_busy.py --full

# The claims over seeds: 12 experiments and 3 sweeps; writes solution/seeds/ and solution/sweep/ (resumable).
bench-seeds: $(STAMP)
	$(PY) benchmarks/bench_seeds.py

bench-grading: $(STAMP) sandbox
	$(PY) benchmarks/bench_grading.py

# Mutants of every task region graded by the hidden checks (about 15 minutes on 2 cores); fails
# below 95% killed overall or 90% for a task.
mutation: $(STAMP)
	$(PY) benchmarks/bench_mutation.py --json benchmarks/results/mutation.json

bench-report: $(STAMP)
	$(PY) benchmarks/bench_report.py

# The figures of the pages, rewritten from the benchmarks' results files (benchmarks/results/*.json)
# between their <!-- figures: NAME --> markers; tests/test_docs.py fails while a page differs. The
# student README's figures reach assignment/README.md through the release.
docs: $(STAMP)
	$(PY) benchmarks/docs_figures.py
	$(VENV)/bin/rnnlab release --no-autograder

clean:
	rm -rf results .pytest_cache
