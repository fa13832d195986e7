"""The grading paths TAs really run, run here in Docker (``make test-docker``; CI runs all but the
``docker_only`` tests):

* ``otter grade``: otter's own per-submission container step (``otter.grade.containers.grade_submission``)
  on the grading image built as otter's Dockerfile and the zip's ``setup.sh`` build it
  (``tests/grading_image.py``), networking off, as ``otter grade --no-network`` does;
* Gradescope: the image's ``/autograder/run_autograder`` at Gradescope's default resources (0.5 CPU,
  768 MB), no network, with a submission_metadata.json as Gradescope writes it.

In both the worker runs as the user ``nobody`` (bubblewrap cannot start under Docker's seccomp
profile), with the course secret and the autograder's files out of its reach.
"""

import csv
import json
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from attack_bank import SECRET_HUNT_PREFIX, SKELETON, attacks, outlives_the_cleanup, round_two_attacks, secret_hunt
from conftest import COURSE_KEY, RUNS_THE_JUDGE, TEST_SECRET_HEX
from grading_image import DockerUnavailable, docker, ensure_grading_image, gradescope_run
from rnnlab.autograder_build import build_autograder_zip
from rnnlab.tasks import TASKS, TOTAL_POINTS
from submission_bank import BUGGY, CORRECT, SOLUTION, apply_edits

pytestmark = [RUNS_THE_JUDGE, pytest.mark.docker]

REPO = Path(__file__).resolve().parent.parent
RNNLAB = [str(REPO / ".venv" / "bin" / "rnnlab")] if (REPO / ".venv" / "bin" / "rnnlab").exists() else ["rnnlab"]
TIMEOUT = 120  # the zip's seconds per submission (rnnlab grade's default): the solution takes 13 s in a container here
MARKER = "rnnlab-container-marker-7c1e"
SECRET_PLACES = ["/autograder/source/otter_config.json", "/autograder/submission_metadata.json",
                 "/autograder/run_autograder", "/autograder/results/results.json", "/proc/1/environ"]
@pytest.fixture(scope="module")
def grading_zip(tmp_path_factory) -> Path:
    return build_autograder_zip(COURSE_KEY, tmp_path_factory.mktemp("zip") / "autograder.zip", timeout=TIMEOUT)


@pytest.fixture(scope="module")
def image(grading_zip) -> str:
    try:
        return ensure_grading_image(grading_zip)
    except DockerUnavailable as why:
        pytest.skip(f"Docker cannot run here, so otter grade's and Gradescope's containers are not tested: {why}")


def task_scores(results) -> dict[str, float]:
    """Per-task points of otter's GradingResults."""
    return {name: test_file.score for name, test_file in results.results.items()}


def otter_grade(image: str, sources: dict[str, str], folder: Path) -> dict:
    """Each source graded by otter grade's own container step, two containers at a time."""
    from otter.grade.containers import grade_submission

    folder.mkdir(exist_ok=True)
    for name, source in sources.items():
        (folder / f"{name}.py").write_text(source)
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(grade_submission, str(folder / f"{name}.py"), image, timeout=3 * TIMEOUT,
                                     network=False) for name in sources}
    return {name: future.result() for name, future in futures.items()}


def rnnlab_grade(sources: dict[str, str], folder: Path, out: Path) -> dict[str, dict[str, float]]:
    """The same files under `rnnlab grade` (bubblewrap, on this machine): per-task points."""
    folder.mkdir()
    for name, source in sources.items():
        (folder / f"{name}.py").write_text(source)
    proc = subprocess.run([*RNNLAB, "grade", str(folder), "--out", str(out), "--timeout", str(TIMEOUT),
                           "--no-progress"], capture_output=True, text=True, cwd=REPO, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "final_grades.csv") as f:
        return {Path(r["file"]).stem: {t.key: float(r[t.key]) for t in TASKS} for r in csv.DictReader(f)}


def gradescope_points(results: dict) -> float:
    return round(sum(t["score"] for t in results["tests"] if t["name"] in {k.key for k in TASKS}), 4)


def everything_said(results) -> str:
    """All text otter keeps of one grading: its output and every test case's message, hidden ones included."""
    from otter.run import AutograderConfig

    return json.dumps(results.to_gradescope_dict(AutograderConfig({"show_hidden": True})), default=str)


SAMPLE_BUGGY = ("rnn_state_made_on_the_cpu", "loss_gather_on_raw_targets")


@pytest.fixture(scope="module")
def graded_sample(image, tmp_path_factory):
    """otter grade's containers on the solution, the skeleton, two mistakes and the secret hunt."""
    sources = {"solution": SOLUTION, "skeleton": SKELETON, "secret_hunt": secret_hunt(SECRET_PLACES)}
    sources |= {f"buggy_{n}": apply_edits(BUGGY[n][1]) for n in SAMPLE_BUGGY}
    results = otter_grade(image, sources, tmp_path_factory.mktemp("otter-grade"))
    return {"results": results, "rnnlab": rnnlab_grade(sources, tmp_path_factory.mktemp("class") / "in",
                                                        tmp_path_factory.mktemp("rnnlab-out"))}


def test_otter_grade_gives_the_solution_100_and_the_skeleton_0(graded_sample):
    results = graded_sample["results"]
    for name in ("solution", "skeleton"):
        assert not results[name].has_catastrophic_failure(), (name, str(results[name].catastrophic_error)[:2000])
    assert results["solution"].total == TOTAL_POINTS and results["skeleton"].total == 0
    assert "worker as user nobody" in results["solution"].output, results["solution"].output


def test_otter_grade_scores_as_rnnlab_grade(graded_sample):
    ours = {name: task_scores(r) for name, r in graded_sample["results"].items()}
    assert all(ours[name] == pytest.approx(graded_sample["rnnlab"][name], abs=1e-3) for name in ours), \
        (ours, graded_sample["rnnlab"])


def test_the_secret_never_reaches_otter_grades_feedback(graded_sample):
    hunt = graded_sample["results"]["secret_hunt"]
    said = everything_said(hunt)
    assert SECRET_HUNT_PREFIX in said, "the hunt did not run, so it proves nothing: " + said[:2000]
    assert TEST_SECRET_HEX not in said and hunt.total == 0


def test_gradescope_at_its_default_resources(image, tmp_path):
    """The solution at 0.5 CPU and 768 MB: 100, sandboxed, and no worker process left."""
    run = gradescope_run(image, SOLUTION, tmp_path)
    assert gradescope_points(run["results"]) == TOTAL_POINTS, run["results"].get("output", "")[-2000:]
    assert "worker as user nobody" in run["results"]["output"]
    assert run["left"] == [], run["left"]


def test_gradescope_feedback_holds_no_secret_and_no_process_survives(image, tmp_path):
    hunter = secret_hunt(SECRET_PLACES) + f"""
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import os, time; os.setsid(); time.sleep(600)  # {MARKER}"],
                 start_new_session=True)
""" + outlives_the_cleanup(MARKER)
    run = gradescope_run(image, hunter, tmp_path)
    said = json.dumps(run["results"])
    assert SECRET_HUNT_PREFIX in said, said[:2000]
    assert TEST_SECRET_HEX not in said and TEST_SECRET_HEX not in run["log"]
    assert gradescope_points(run["results"]) == 0
    assert run["left"] == [], run["left"]


def run_without_a_sandbox(image: str, source: str, work: Path, allow: bool) -> dict:
    """run_autograder where nobody cannot run the Python (its folder closed again after the
    container step), the zip's plugin configuration allowing unsandboxed grading or not."""
    name = f"rnnlab-nosandbox-{work.name}"
    (work / "rnn_lm.py").write_text(source)
    step = "python -m rnnjudge.container /autograder"
    allowing = ("sed -i 's|\"secret\"|\"allow_unsandboxed\": true, \"secret\"|' /autograder/source/otter_config.json && "
                if allow else "")
    docker("create", "--name", name, "--network", "none", image, "bash", "-c",
           f"{allowing}sed -i 's|^{step}$|{step} \\&\\& chmod 700 /root/miniforge3|' /autograder/run_autograder && "
           "/autograder/run_autograder")
    try:
        docker("cp", str(work / "rnn_lm.py"), f"{name}:/autograder/submission/rnn_lm.py")
        docker("start", "-a", name, timeout=3 * TIMEOUT)
        docker("cp", f"{name}:/autograder/results/results.json", str(work / "results.json"))
    finally:
        docker("rm", "-f", name, check=False)
    return json.loads((work / "results.json").read_text())


def test_no_sandbox_no_grade(image, tmp_path):
    """Where no sandbox can start, every case fails with a status that says why and what to do."""
    results = run_without_a_sandbox(image, SOLUTION, tmp_path, allow=False)
    assert gradescope_points(results) == 0
    assert "no sandbox can start here" in results["output"] and "--allow-unsandboxed" in results["output"]


def test_the_hunt_finds_the_secret_where_it_is_readable(image, tmp_path):
    """The control of the secret tests: allowed to grade unsandboxed (as root), the same hunt prints
    the secret into its own feedback, which is what --allow-unsandboxed exposes."""
    results = run_without_a_sandbox(image, secret_hunt(SECRET_PLACES), tmp_path, allow=True)
    assert "graded unsandboxed" in results["output"]
    assert TEST_SECRET_HEX in json.dumps(results)


# -- make test-docker only: the whole bank and every attack through otter grade's containers --------

def container_attacks() -> dict[str, str]:
    """The attack bank aimed at the container's layout (its results and submission folders)."""
    escaped = Path(tempfile.gettempdir()) / "rnnlab-container-escape"
    return {f"attack_{n}": s for n, s in [
        *attacks(Path("/autograder/source/files"), Path("/autograder/results"), Path("/autograder/submission"),
                 MARKER).items(), *round_two_attacks(escaped).items()]}


@pytest.mark.docker_only
def test_the_whole_bank_and_every_attack_score_as_under_rnnlab_grade(image, tmp_path):
    sources = {f"buggy_{name}": apply_edits(edits) for name, (_, edits) in BUGGY.items()}
    sources |= {f"correct_{name}": apply_edits(edits) for name, edits in CORRECT.items()}
    sources |= container_attacks()
    results = otter_grade(image, sources, tmp_path / "otter")
    failed = {n: str(r.catastrophic_error)[:300] for n, r in results.items() if r.has_catastrophic_failure()}
    assert not failed, failed
    ours = {name: task_scores(r) for name, r in results.items()}
    theirs = rnnlab_grade(sources, tmp_path / "class", tmp_path / "out")
    differ = {n: (ours[n], theirs[n]) for n in sources if ours[n] != pytest.approx(theirs[n], abs=1e-3)}
    assert not differ, differ
    assert all(results[n].total == TOTAL_POINTS for n in sources if n.startswith("correct_"))
    assert not any(results[n].total > 0 for n in sources if n.startswith("attack_"))
