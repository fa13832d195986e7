"""`rnnlab grade` on a mixed class, and `otter run` with the generated autograder zip."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from rnnlab.autograder_build import build_autograder_zip
from rnnlab.tasks import TASKS, TOTAL_POINTS
from submission_bank import BUGGY, HOSTILE, LOUD_SOLUTION, SOLUTION, apply_edits

REPO = Path(__file__).resolve().parent.parent
RNNLAB = [sys.executable, "-m", "rnnlab.cli"]


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    (folder / "good.py").write_text(SOLUTION)
    (folder / "loud.py").write_text(LOUD_SOLUTION)
    (folder / "untouched.py").write_text((REPO / "assignment" / "rnn_lm.py").read_text())
    (folder / "buggy_loss.py").write_text(apply_edits(BUGGY["loss_no_pad_mask"][1]))
    (folder / "buggy_loss_again.py").write_text(apply_edits(BUGGY["loss_no_pad_mask"][1]))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%matplotlib inline\n" + SOLUTION)])
    nbformat.write(notebook, folder / "notebook.ipynb")
    for name, (source, _) in HOSTILE.items():
        (folder / f"{name}.py").write_text(source)
    out = tmp_path_factory.mktemp("grades")
    proc = subprocess.run([*RNNLAB, "grade", str(folder), "--out", str(out), "--workers", "2", "--timeout", "45",
                           "--no-progress"], capture_output=True, text=True, cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "final_grades.csv") as f:
        rows = {r["file"]: r for r in csv.DictReader(f)}
    return folder, out, rows


def test_one_row_per_submission_with_otter_columns(graded_class):
    folder, out, rows = graded_class
    assert set(rows) == {p.name for p in folder.iterdir()}
    with open(out / "final_grades.csv") as f:
        header = next(csv.reader(f))
    assert header == ["file", *(t.key for t in TASKS), "total_points_earned", "percent_correct", "grading_status"]
    assert (out / "score_distribution.png").stat().st_size > 5000


def test_correct_submissions_keep_full_marks_next_to_hostile_ones(graded_class):
    _, _, rows = graded_class
    assert float(rows["good.py"]["total_points_earned"]) == TOTAL_POINTS
    assert float(rows["loud.py"]["total_points_earned"]) == TOTAL_POINTS  # megabytes of printing, still graded
    assert float(rows["notebook.ipynb"]["total_points_earned"]) == TOTAL_POINTS


def test_untouched_stubs_and_buggy_code(graded_class):
    _, out, rows = graded_class
    assert float(rows["untouched.py"]["total_points_earned"]) == 0
    assert "untouched stubs" in rows["untouched.py"]["grading_status"]
    buggy = rows["buggy_loss.py"]
    again = dict(rows["buggy_loss_again.py"], file="buggy_loss.py")
    assert again == buggy  # the same code gets the same row, status included
    assert float(buggy["task3"]) < 15 and all(float(buggy[t.key]) == t.points for t in TASKS if t.number != 3)
    feedback = (out / "buggy_loss" / "feedback.txt").read_text()
    assert "[FAIL] lm_loss" in feedback and "Failing test case" in feedback
    results = json.loads((out / "buggy_loss" / "results.json").read_text())
    assert results["score"] == float(buggy["total_points_earned"])
    assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(TOTAL_POINTS)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_submission_gets_no_points_and_a_status(graded_class, name):
    _, _, rows = graded_class
    row = rows[f"{name}.py"]
    expected = HOSTILE[name][1]
    assert expected in row["grading_status"], row["grading_status"]
    assert float(row["total_points_earned"]) == 0, row


def test_missing_input_is_a_clear_error(tmp_path):
    proc = subprocess.run([*RNNLAB, "grade", str(tmp_path / "nope"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "no such file or folder" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    return build_autograder_zip(tmp_path_factory.mktemp("zip") / "autograder.zip")


def otter_scores(zip_path: Path, submission_source: str, workdir: Path) -> dict:
    sub = workdir / "rnn_lm.py"
    sub.write_text(submission_source)
    otter = Path(sys.executable).parent / "otter"
    proc = subprocess.run([str(otter), "run", "-a", str(zip_path), "-o", str(workdir), str(sub)],
                          capture_output=True, text=True, cwd=workdir, timeout=600)
    results = json.loads((workdir / "results.json").read_text())
    scored = {test["name"]: test["score"] for test in results["tests"] if "score" in test}  # one entry a task
    assert set(scored) == {t.key for t in TASKS}, (results, proc.stdout[-2000:])
    return scored


@pytest.mark.parametrize("source_name", ["solution", "loss_no_pad_mask", "eval_base2_perplexity", "patches_allclose"])
def test_otter_run_gives_the_same_scores(autograder_zip, graded_class, tmp_path, source_name):
    source = {"solution": SOLUTION, "patches_allclose": HOSTILE["patches_allclose"][0]}.get(source_name)
    source = source or apply_edits(BUGGY[source_name][1])
    ours = subprocess.run([*RNNLAB, "grade", "--out", str(tmp_path / "ours"), "--no-progress",
                           str(_write(tmp_path / "mine.py", source))], capture_output=True, text=True, cwd=REPO)
    assert ours.returncode == 0, ours.stderr
    with open(tmp_path / "ours" / "final_grades.csv") as f:
        row = next(csv.DictReader(f))
    work = tmp_path / "otter"
    work.mkdir()
    theirs = otter_scores(autograder_zip, source, work)
    for t in TASKS:
        assert float(row[t.key]) == pytest.approx(theirs[t.key], abs=1e-3), (t.key, row, theirs)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_submission_code_has_no_network(tmp_path):
    """Even loopback is unreachable from a submission (grading runs it under `unshare -n`)."""
    import socket

    from rnnlab.grade import network_isolation
    from submission_bank import before_solution

    assert network_isolation(), "this machine should allow `unshare -n` (root or user namespaces)"
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    probe = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
             "    print('NETWORK-REACHED')\nexcept OSError:\n    print('NETWORK-BLOCKED')\n")
    try:
        proc = subprocess.run([*RNNLAB, "grade", "--out", str(tmp_path / "o"), "--no-progress",
                               str(_write(tmp_path / "netprobe.py", before_solution(probe)))],
                              capture_output=True, text=True, cwd=REPO)
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr
    feedback = (tmp_path / "o" / "netprobe" / "feedback.txt").read_text()
    assert "NETWORK-BLOCKED" in feedback and "NETWORK-REACHED" not in feedback
    assert "Score: 100 / 100" in feedback


def test_classroom_layout_one_folder_per_student(tmp_path):
    classroom = tmp_path / "classroom"
    for student, source in (("alice", SOLUTION), ("bob", (REPO / "assignment" / "rnn_lm.py").read_text())):
        (classroom / student).mkdir(parents=True)
        (classroom / student / "rnn_lm.py").write_text(source)
        (classroom / student / "README.md").write_text("not a submission")
    proc = subprocess.run([*RNNLAB, "grade", str(classroom), "--out", str(tmp_path / "o"), "--no-progress"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "o" / "final_grades.csv") as f:
        totals = {r["file"]: float(r["total_points_earned"]) for r in csv.DictReader(f)}
    assert totals == {"alice/rnn_lm.py": TOTAL_POINTS, "bob/rnn_lm.py": 0}
    assert (tmp_path / "o" / "alice" / "feedback.txt").is_file()


def test_two_submissions_with_one_name_are_refused(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "rnn_lm.py").write_text(SOLUTION)
    proc = subprocess.run([*RNNLAB, "grade", str(tmp_path / "a" / "rnn_lm.py"), str(tmp_path / "b" / "rnn_lm.py"),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "both called rnn_lm.py" in proc.stderr
