"""A fresh copy of assignment/ works as its README says: public tests and the notebook."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from rnnlab.tasks import TASKS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def release_copy(tmp_path):
    target = tmp_path / "student"
    shutil.copytree(REPO / "assignment", target)
    return target


def run_public_tests(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", *args],
                          cwd=folder, capture_output=True, text=True, timeout=600)


def counts(output: str) -> dict:
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|error)", output)}


def test_every_public_test_fails_on_the_stubs(release_copy):
    proc = run_public_tests(release_copy)
    c = counts(proc.stdout)
    assert c.get("passed", 0) == 0 and c.get("failed", 0) >= 2 * len(TASKS), proc.stdout[-3000:]
    for task in TASKS:  # each task's tests fail on their own stub, with its name
        proc = run_public_tests(release_copy, "-m", task.key)
        assert counts(proc.stdout).get("passed", 0) == 0 and f"Task {task.number}:" in proc.stdout, proc.stdout[-2000:]


def test_every_public_test_passes_with_the_solution(release_copy):
    shutil.copy(REPO / "solution" / "rnn_lm.py", release_copy / "rnn_lm.py")
    proc = run_public_tests(release_copy)
    assert proc.returncode == 0 and counts(proc.stdout).get("failed", 0) == 0, proc.stdout[-3000:]
    for task in TASKS:
        assert counts(run_public_tests(release_copy, "-m", task.key).stdout).get("passed", 0) >= 2, task


def execute_notebook(path: Path, cwd: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    os.environ["LAB_QUICK"] = "1"
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        del os.environ["LAB_QUICK"]
    return nb


def test_student_notebook_runs_top_to_bottom_with_the_solution(release_copy):
    shutil.copy(REPO / "solution" / "rnn_lm.py", release_copy / "rnn_lm.py")
    nb = execute_notebook(release_copy / "lab.ipynb", release_copy)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4, "the notebook shows its plots inline"
    text = "".join(o.get("text", "") for o in outputs)
    assert "state carries over: True" in text and "vanilla RNN" in text
    assert (release_copy / "results" / "summary.json").is_file()


def test_student_notebook_fails_loudly_on_the_stubs(release_copy):
    from nbclient.exceptions import CellExecutionError
    with pytest.raises(CellExecutionError, match="Task 1"):
        execute_notebook(release_copy / "lab.ipynb", release_copy)
