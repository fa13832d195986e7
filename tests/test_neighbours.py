"""No submission can slow another one down or hold more than its memory: each is held, with every
process it starts, to one core and to --memory-mb (cgroups, where the grader can make them)."""

import csv
import subprocess
from pathlib import Path

import pytest

from attack_bank import MEMORY_HOG_CHILDREN, MEMORY_HOG_MB, neighbour_attacks
from conftest import RUNS_THE_JUDGE
from rnnjudge.sandbox import RUN_VARIABLE, ProcessGroup, cgroups_of_run, missing_limits, remove_cgroups_of_run
from rnnlab.tasks import TOTAL_POINTS
from submission_bank import SOLUTION

pytestmark = RUNS_THE_JUDGE

REPO = Path(__file__).resolve().parent.parent
RNNLAB = [str(REPO / ".venv" / "bin" / "rnnlab")] if (REPO / ".venv" / "bin" / "rnnlab").exists() else ["rnnlab"]
MARKER = "rnnlab-neighbour-marker-3f9a"
MEMORY_MB = 2048  # less than the children's 6 x 500 MB, more than the solution needs


def marked_processes() -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and MARKER in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(proc.name)
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def graded_with_neighbours(tmp_path_factory):
    if missing_limits():
        pytest.skip("no cgroup can be made here (root outside a container is needed): the per-submission "
                    "limits of this test cannot be set")
    folder, out = tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("out")
    (folder / "solution.py").write_text(SOLUTION)
    for name, source in neighbour_attacks(MARKER).items():
        (folder / f"{name}.py").write_text(source)
    proc = subprocess.run([*RNNLAB, "grade", str(folder), "--out", str(out), "--workers", "2", "--memory-mb",
                           str(MEMORY_MB), "--no-progress"], capture_output=True, text=True, cwd=REPO, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "final_grades.csv") as f:
        rows = {r["file"]: r for r in csv.DictReader(f)}
    return {"rows": rows, "out": out, "left": marked_processes()}


def test_a_run_removes_its_own_cgroups_and_kills_what_is_left_in_them(monkeypatch):
    """What a judge's clean-up could not release, the end of its run does: its cgroups alone."""
    if missing_limits():
        pytest.skip("no cgroup can be made here (root outside a container is needed)")
    monkeypatch.setenv(RUN_VARIABLE, "other-run")
    other = ProcessGroup()
    monkeypatch.setenv(RUN_VARIABLE, "this-run")
    mine = ProcessGroup()
    survivor = subprocess.Popen(["sleep", "600"], preexec_fn=mine.enter)  # a process the judge did not kill
    try:
        assert cgroups_of_run("this-run") == sorted(mine.paths) and cgroups_of_run("other-run") == sorted(other.paths)
        assert remove_cgroups_of_run("this-run", wait_s=30) == []
        assert survivor.wait(timeout=10) == -9
        assert all(path.is_dir() for path in other.paths)
    finally:
        survivor.kill()
        remove_cgroups_of_run("this-run", wait_s=5)
        remove_cgroups_of_run("other-run", wait_s=5)


def test_a_correct_submission_beside_a_cpu_hog_keeps_full_marks(graded_with_neighbours):
    rows = graded_with_neighbours["rows"]
    assert float(rows["solution.py"]["total_points_earned"]) == TOTAL_POINTS, rows["solution.py"]["grading_status"]
    assert float(rows["hogs_the_cpu.py"]["total_points_earned"]) == 0
    assert graded_with_neighbours["left"] == []


def test_memory_is_limited_per_submission_not_per_process(graded_with_neighbours):
    log = (graded_with_neighbours["out"] / "holds_memory_in_children" / "log.txt").read_text()
    held = log.count(f"still holding {MEMORY_HOG_MB} MB")
    assert held * MEMORY_HOG_MB <= MEMORY_MB, f"{held} children held {held * MEMORY_HOG_MB} MB under --memory-mb {MEMORY_MB}"
    assert float(graded_with_neighbours["rows"]["holds_memory_in_children.py"]["total_points_earned"]) == 0
