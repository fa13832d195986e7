"""The Docker path (`otter grade`, Gradescope): bubblewrap is blocked there, so the worker runs as
the unprivileged user ``nobody``. Exercised here for real, as root, with a Python that user can
run: a venv of the system's interpreter (same version) whose .pth file points at this
environment's packages (this environment's own Python lives under /root, which nobody cannot
enter), named by ``$RNNJUDGE_WORKER_PYTHON``."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from attack_bank import SKELETON, attacks, otter_log_payload, round_two_attacks
from conftest import COURSE_KEY, RUNS_THE_JUDGE
from rnnjudge import sandbox
from rnnjudge.judge import judge_submission
from rnnlab.autograder_build import build_autograder_zip
from rnnlab.tasks import TASKS, TOTAL_POINTS
from submission_bank import SOLUTION

pytestmark = RUNS_THE_JUDGE

REPO = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
MARKER = "rnnlab-docker-marker-51c2"

if os.geteuid() != 0:  # honest: this path needs root (to become nobody), as in Docker
    pytest.skip("the nobody fallback needs root, as in otter's Docker image", allow_module_level=True)


@pytest.fixture(scope="module")
def nobody_python():
    """A Python the user nobody can run, with this environment's torch and numpy."""
    if not SYSTEM_PYTHON.is_file():
        pytest.fail(f"{SYSTEM_PYTHON} is missing: install the system's python3 (Debian: apt-get install python3 "
                    "python3-venv) to test the Docker path")
    folder = Path(tempfile.mkdtemp(prefix="rnnjudge-nobody-python-"))
    folder.chmod(0o755)
    subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(folder)], check=True)
    (site,) = folder.glob("lib/python*/site-packages")
    import sysconfig

    (site / "this_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = folder / "bin" / "python"
    old = os.environ.get(sandbox.WORKER_PYTHON_ENV)
    os.environ[sandbox.WORKER_PYTHON_ENV] = str(python)
    sandbox.nobody_can_run_python.cache_clear()
    try:
        assert sandbox.nobody_can_run_python(), "nobody cannot run the venv's Python"
        yield python
    finally:
        if old is None:
            os.environ.pop(sandbox.WORKER_PYTHON_ENV, None)
        else:
            os.environ[sandbox.WORKER_PYTHON_ENV] = old
        sandbox.nobody_can_run_python.cache_clear()
        shutil.rmtree(folder, ignore_errors=True)


def nobody_processes() -> list[str]:
    """Live processes of nobody (a killed one that no parent has reaped yet, a zombie, runs nothing)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and proc.stat().st_uid == sandbox.NOBODY \
                    and (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass
    return found


def points(result: dict) -> float:
    from rnnjudge.registry import split_points

    total = 0.0
    for t in TASKS:
        checks = {n: c for n, c in result["checks"].items() if c["task"] == t.number}
        share = split_points(t.points, {n: c["weight"] for n, c in checks.items()})
        total += sum(share[n] for n, c in checks.items() if c["passed"])
    return round(total, 4)


def judge_as_nobody(sources: dict[str, str], folder: Path, out: Path, escaped: Path) -> dict:
    """Each submission judged with the worker as nobody (one at a time: in this mode the clean-up
    kills every process of nobody)."""
    folder.chmod(0o755)
    for name, source in sources.items():
        (folder / f"{name}.py").write_text(source)
    results = {name: judge_submission(folder / f"{name}.py", COURSE_KEY, mode="user", timeout=45)
               for name in sources}
    return {"results": results, "sources": sources, "folder": folder, "out": out, "escaped": escaped,
            "left": nobody_processes()}


def all_attacks(out: Path, folder: Path, escaped: Path) -> dict[str, str]:
    return {f"attack_{n}": s for n, s in [*attacks(REPO, out, folder, MARKER).items(),
                                          *round_two_attacks(escaped).items()]}


CORE = ("attack_leaves_processes", "attack_hostile_first_message", "attack_reads_and_writes_files")


@pytest.fixture(scope="module")
def judged_as_nobody(nobody_python, tmp_path_factory):
    """The solution, the skeleton and the attacks on processes, files and the channel."""
    folder, out = tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("out")
    escaped = Path(tempfile.mkdtemp(prefix="rnnjudge-escape-")) / "ran"
    chosen = {n: s for n, s in all_attacks(out, folder, escaped).items() if n in CORE}
    return judge_as_nobody({"solution": SOLUTION, "skeleton": SKELETON, "victim": SOLUTION} | chosen,
                           folder, out, escaped)


@pytest.fixture(scope="module")
def every_attack_as_nobody(nobody_python, tmp_path_factory):
    folder, out = tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("out")
    escaped = Path(tempfile.mkdtemp(prefix="rnnjudge-escape-")) / "ran"
    (folder / "victim.py").write_text(SOLUTION)
    return judge_as_nobody(all_attacks(out, folder, escaped), folder, out, escaped)


def test_solution_keeps_full_marks_and_the_skeleton_gets_none(judged_as_nobody):
    results = judged_as_nobody["results"]
    assert points(results["solution"]) == TOTAL_POINTS and results["solution"]["problems"] == []
    assert results["solution"]["sandbox"] == "user"
    assert points(results["skeleton"]) == 0


def attacks_earn_nothing_and_harm_no_one(judged: dict) -> None:
    results, folder = judged["results"], judged["folder"]
    earned = {name: points(r) for name, r in results.items() if name.startswith("attack_") and points(r) > 0}
    assert not earned, earned
    for name, source in judged["sources"].items():
        assert (folder / f"{name}.py").read_text() == source, f"{name}.py was changed"
    assert not (judged["out"] / "final_grades.csv").exists()
    assert judged["left"] == [], "processes of nobody outlived their grading"
    assert not judged["escaped"].exists()


def test_attacks_on_processes_files_and_the_channel_fail(judged_as_nobody):
    attacks_earn_nothing_and_harm_no_one(judged_as_nobody)
    assert "not a reply" in judged_as_nobody["results"]["attack_hostile_first_message"]["problems"][0]


@pytest.mark.exhaustive
def test_every_attack_earns_nothing_and_harms_no_one(every_attack_as_nobody):
    attacks_earn_nothing_and_harm_no_one(every_attack_as_nobody)


@pytest.mark.exhaustive
def test_otter_without_bubblewrap_grades_as_nobody_and_reads_no_planted_log(nobody_python, tmp_path):
    """`otter run` where bwrap cannot start (PATH without it, as in Docker): the plugin picks the
    nobody worker, says so, keeps the solution's marks and never unpickles a planted log."""
    zip_path = build_autograder_zip(COURSE_KEY, tmp_path / "autograder.zip", timeout=120)
    marker = tmp_path / "otter-unpickled-the-log"
    marker.parent.chmod(0o755)
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))  # the venv's bin only: no bwrap
    plugin_dir = Path(sandbox.__file__).resolve().parent
    mode = plugin_dir.stat().st_mode
    scores = {}
    try:
        for name in ("solution", "with_log"):
            work = tmp_path / name
            work.mkdir()
            if name == "solution":
                (work / "rnn_lm.py").write_text(SOLUTION)
                submission = work / "rnn_lm.py"
            else:
                submission = work / "submission.zip"
                with zipfile.ZipFile(submission, "w") as z:
                    z.writestr("rnn_lm.py", SKELETON)
                    z.writestr(".OTTER_LOG", otter_log_payload(marker))
            proc = subprocess.run([str(Path(sys.executable).parent / "otter"), "run", "-a", str(zip_path), "-o",
                                   str(work), str(submission)], capture_output=True, text=True, cwd=work, env=env,
                                  timeout=900)
            assert (work / "results.json").is_file(), proc.stdout[-2000:] + proc.stderr[-2000:]
            results = json.loads((work / "results.json").read_text())
            scores[name] = sum(t["score"] for t in results["tests"] if t["name"] in {k.key for k in TASKS})
            assert "worker as user nobody" in results["output"], results["output"][-500:]
    finally:
        plugin_dir.chmod(mode)  # the plugin makes its own package root-only against the worker
    assert scores == {"solution": TOTAL_POINTS, "with_log": 0}
    assert not marker.exists()
