"""`make grader`, the TA's set-up: the environment and bubblewrap, no training, no tests; it checks
that the sandbox starts and says where the course secret stands."""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import TEST_SECRET_HEX

REPO = Path(__file__).resolve().parent.parent


def make_grader(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "RNNJUDGE_SECRET"} | env
    return subprocess.run(["make", "--no-print-directory", "grader"], capture_output=True, text=True, cwd=REPO,
                          env=environment, timeout=900)


def test_make_grader_checks_the_sandbox_and_finds_the_secret():
    proc = make_grader(RNNJUDGE_SECRET=TEST_SECRET_HEX)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "The sandbox starts here." in proc.stdout and "Course secret found." in proc.stdout
    assert "Ready: .venv/bin/rnnlab grade submissions/ --out grades/" in proc.stdout
    assert "pytest" not in proc.stdout and "rnnlab run" not in proc.stdout, "no tests, no training"


def test_make_grader_says_what_to_do_without_the_secret():
    if (REPO / "autograder" / "course.secret").exists():
        pytest.skip("this clone holds autograder/course.secret (an instructor's): there is a secret here")
    proc = make_grader()
    assert proc.returncode == 0
    assert "No course secret here: ask your instructor for autograder/course.secret" in proc.stdout
