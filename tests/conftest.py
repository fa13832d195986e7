"""Shared fixtures: the reference modules are imported from solution/."""

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WIKITEXT = REPO / "tests" / "data" / "wikitext-2"
sys.path.insert(0, str(REPO / "solution"))

# The suite's course secret: every judge the tests start (in this process or through `rnnlab grade`
# and otter) derives its hidden inputs from it. A course keeps its own (`rnnlab release` makes it).
TEST_SECRET_HEX = "7e57" * 16
os.environ["RNNJUDGE_SECRET"] = TEST_SECRET_HEX
# pytest has read its options by now; the pytest runs the tests start (the public tests, otter) must
# not inherit them (`PYTEST_ADDOPTS=--durations=20 make test` would change the output they parse).
os.environ.pop("PYTEST_ADDOPTS", None)
COURSE_KEY = bytes.fromhex(TEST_SECRET_HEX)


@pytest.fixture(scope="session")
def wikitext_dir() -> Path:
    """Real WikiText-2 text shipped with the repository: test.txt's first 2000 lines, valid.txt's first 500."""
    if not (WIKITEXT / "test.txt").is_file() or not (WIKITEXT / "valid.txt").is_file():
        pytest.fail(f"{WIKITEXT} should hold test.txt and valid.txt (see its README.md): restore them from git.")
    return WIKITEXT


# The tests that run the judge: `make test` runs them in one pytest process and the rest of the
# suite (training, notebooks, public tests) in another, at the same time. Never two judge tests at
# once: each already grades with two processes, and concurrent judges would see each other's
# cgroups and processes.
RUNS_THE_JUDGE = pytest.mark.judge


def processes_marked(marker: str) -> list[str]:
    """The live processes whose command line holds ``marker`` (what an attack left running)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "cmdline").read_bytes():
                found.append(proc.name)
        except OSError:
            pass
    return found
