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

from rnnlab import release
from rnnlab.notebook import PLACEHOLDER, read_notebook
from rnnlab.tasks import NOTEBOOK_POINTS, TASKS
from submission_bank import BUGGY, SOLUTION, apply_edits

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


@pytest.mark.exhaustive
@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.key)
def test_each_tasks_public_tests_fail_on_its_stub_with_its_name(release_copy, task):
    proc = run_public_tests(release_copy, "-m", task.key)
    assert counts(proc.stdout).get("passed", 0) == 0 and f"Task {task.number}:" in proc.stdout, proc.stdout[-2000:]


def test_every_public_test_passes_with_the_solution(release_copy):
    shutil.copy(REPO / "solution" / "rnn_lm.py", release_copy / "rnn_lm.py")
    proc = run_public_tests(release_copy)
    assert proc.returncode == 0 and counts(proc.stdout).get("failed", 0) == 0, proc.stdout[-3000:]


@pytest.mark.exhaustive
@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.key)
def test_each_tasks_marker_selects_its_public_tests(release_copy, task):
    shutil.copy(REPO / "solution" / "rnn_lm.py", release_copy / "rnn_lm.py")
    assert counts(run_public_tests(release_copy, "-m", task.key).stdout).get("passed", 0) >= 2, task


# The mistake at the heart of each task (submission_bank.BUGGY): that task's public tests must fail on it.
# `make test` tries one a task; `make test-all` every one.
CENTRAL_MISTAKES = ["rnn_hidden_reset_every_step", "lstm_state_ignored", "loss_mean_counts_pads",
                    "eval_mean_of_batch_means", "norm_sum_of_norms", "gtt_reversed"]
MORE_CENTRAL_MISTAKES = ["eval_builds_graph", "eval_leaves_eval_mode", "eval_gives_every_submodule_the_model_mode",
                         "rnn_state_made_from_the_ids", "gtt_loss_of_all_steps",
                         "rnn_state_made_on_the_cpu", "loss_gather_on_raw_targets"]


@pytest.mark.parametrize("name", CENTRAL_MISTAKES + [pytest.param(n, marks=pytest.mark.exhaustive)
                                                     for n in MORE_CENTRAL_MISTAKES])
def test_each_tasks_public_tests_catch_its_central_mistake(release_copy, name):
    task, edits = BUGGY[name]
    (release_copy / "rnn_lm.py").write_text(apply_edits(edits))
    proc = run_public_tests(release_copy, "-m", f"task{task}")
    assert counts(proc.stdout).get("failed", 0) >= 1, proc.stdout[-3000:]


def solved_task_only(number: int) -> str:
    """The solution with every task stubbed but Task ``number``."""
    kept, inside = [], False
    for line in SOLUTION.splitlines(keepends=True):
        begin = release.BEGIN.match(line)
        if begin and int(begin["task"]) == number:
            inside = True
        elif inside and release.END.match(line):
            inside = False
        else:
            kept.append(line)
    return release.stub_solution_regions("".join(kept))


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.key)
def test_each_tasks_public_tests_need_no_other_task(release_copy, task):
    """Task 4's points must not wait for Task 1, nor Task 6's for Task 3's lm_loss."""
    (release_copy / "rnn_lm.py").write_text(solved_task_only(task.number))
    proc = run_public_tests(release_copy, "-m", task.key)
    assert proc.returncode == 0 and counts(proc.stdout).get("passed", 0) >= 2, proc.stdout[-3000:]


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
    written = {p.stem for p in (release_copy / "results").glob("*.png")}
    assert len(images) == len(written) + 1, "the notebook shows every figure the run writes, and the sweep's"
    assert not [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})], \
        "progress bars are text, not widgets that a saved notebook shows frozen"
    text = "".join(o.get("text", "") for o in outputs)
    assert "state carries over: True" in text and "vanilla RNN" in text
    assert "train LSTM fb1: 100%" in text, "the progress bars' final state is in the saved notebook"
    assert text.count("At initialisation the default LSTM keeps") == 1, "the claims are printed once"
    assert text.count("HOLDS") + text.count("FAILS") >= 9, "the run's claims and the sweep's"
    tables = [line for o in outputs if o.output_type == "stream" and o.name == "stdout"
              for line in o.text.splitlines() if not line.startswith("LabConfig(")]
    assert max(map(len, tables)) <= 100, "tables and claims fit a notebook cell"
    assert (release_copy / "results" / "summary.json").is_file()
    # What the grader reads from it, saved as a student saves it: every notebook point, the run's numbers
    nbformat.write(nb, release_copy / "lab.ipynb")
    report = read_notebook(release_copy / "lab.ipynb")
    assert report.points == NOTEBOOK_POINTS, report.summary
    assert len(report.claims) == text.count("HOLDS") + text.count("FAILS") - 3, "the run's claims, not the sweep's 3"
    assert set(report.numbers) == {"RNN", "LSTM", "LSTM fb1"} and report.floor
    assert all({"recall", "best val ppl", "vs floor"} <= set(cols) and len(cols) == 5 for cols in report.numbers.values())
    assert {a.state for a in report.answers.values()} == {PLACEHOLDER}


def test_student_notebook_fails_loudly_on_the_stubs(release_copy):
    from nbclient.exceptions import CellExecutionError
    with pytest.raises(CellExecutionError, match="Task 1"):
        execute_notebook(release_copy / "lab.ipynb", release_copy)
