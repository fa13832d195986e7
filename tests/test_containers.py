"""The grading paths TAs really run, run here in Docker (``make test-docker``; CI runs all but the
``docker_only`` tests):

* ``otter grade``: otter's own per-submission container step (``otter.grade.containers.grade_submission``)
  on the grading image built as otter's Dockerfile and the zip's ``setup.sh`` build it
  (``tests/grading_image.py``), with the network on, as ``otter grade`` has it by default;
* Gradescope: the image's ``/autograder/run_autograder`` at Gradescope's default resources (0.5 CPU,
  768 MB), the network on, with a submission_metadata.json as Gradescope writes it.

In both the worker runs as the user ``nobody`` (bubblewrap cannot start under Docker's seccomp
profile), with the course secret and the autograder's files out of its reach, and gives up the
network itself: a server on this machine that a container reaches through Docker's bridge (the
control shows it) hands a correct file to no submission.
"""

import csv
import http.server
import ipaddress
import json
import re
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from attack_bank import (SCRATCH_FILLER_PREFIX, SECRET_HUNT_PREFIX, SKELETON, assert_wrote_only_its_scratch, attacks,
                         downloads_its_solution, fills_the_scratch, outlives_the_cleanup, round_two_attacks, secret_hunt)
from conftest import COURSE_KEY, RUNS_THE_JUDGE, TEST_SECRET_HEX
from grading_image import DockerUnavailable, docker, ensure_grading_image, gradescope_run
from rnnjudge.judge import BUILT_AT_RUN_TIME
from rnnjudge.otter_plugin import NOTHING_TO_JUDGE
from rnnjudge.sandbox import SANDBOX_SCRATCH, SCRATCH_BYTES, SCRATCH_PREFIX, TIME_BUDGET_S
from rnnlab.autograder_build import build_autograder_zip
from rnnlab.tasks import TASKS, TOTAL_POINTS
from submission_bank import BUGGY, CORRECT, SLOW_SOLUTION, SOLUTION, apply_edits

pytestmark = [RUNS_THE_JUDGE, pytest.mark.docker]

REPO = Path(__file__).resolve().parent.parent
RNNLAB = [str(REPO / ".venv" / "bin" / "rnnlab")] if (REPO / ".venv" / "bin" / "rnnlab").exists() else ["rnnlab"]
TIMEOUT = TIME_BUDGET_S  # the zip's seconds per submission, as the release writes it and rnnlab grade's default
MARKER = "rnnlab-container-marker-7c1e"
SECRET_PLACES = ["/autograder/source/otter_config.json", "/autograder/submission_metadata.json",
                 "/autograder/run_autograder", "/autograder/results/results.json", "/proc/1/environ"]
@pytest.fixture(scope="module")
def grading_zip(tmp_path_factory) -> Path:
    return build_autograder_zip(COURSE_KEY, tmp_path_factory.mktemp("zip") / "autograder.zip")


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
    """Each source graded by otter grade's own container step, two containers at a time, with the
    network on (otter grade's default)."""
    from otter.grade.containers import grade_submission

    folder.mkdir(exist_ok=True)
    for name, source in sources.items():
        (folder / f"{name}.py").write_text(source)
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(grade_submission, str(folder / f"{name}.py"), image, timeout=3 * TIMEOUT,
                                     network=True) for name in sources}
    return {name: future.result() for name, future in futures.items()}


def rnnlab_grade(sources: dict[str, str], folder: Path, out: Path) -> dict[str, dict[str, float]]:
    """The same files under `rnnlab grade` (bubblewrap, on this machine): per-task points."""
    folder.mkdir()
    for name, source in sources.items():
        (folder / f"{name}.py").write_text(source)
    proc = subprocess.run([*RNNLAB, "grade", str(folder), "--out", str(out), "--no-progress"],  # its default budget
                          capture_output=True, text=True, cwd=REPO, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "final_grades.csv") as f:
        return {Path(r["file"]).stem: {t.key: float(r[t.key]) for t in TASKS} for r in csv.DictReader(f)}


def gradescope_task_scores(results: dict) -> dict[str, float]:
    """Per-task points of a Gradescope results.json."""
    return {t["name"]: t["score"] for t in results["tests"] if t["name"] in {k.key for k in TASKS}}


def gradescope_points(results: dict) -> float:
    return round(sum(gradescope_task_scores(results).values()), 4)


def everything_said(results) -> str:
    """All text otter keeps of one grading: its output and every test case's message, hidden ones included."""
    from otter.run import AutograderConfig

    return json.dumps(results.to_gradescope_dict(AutograderConfig({"show_hidden": True})), default=str)


SAMPLE_BUGGY = ("rnn_state_made_on_the_cpu", "loss_gather_on_raw_targets")
OUTSIDE = "http://151.101.2.132/rnn_lm.py"  # an address on the internet (deb.debian.org's CDN)


@pytest.fixture(scope="module")
def solution_url(image) -> str:
    """A correct rnn_lm.py served by this machine on Docker's bridge, where a container reaches it."""
    ipam = json.loads(docker("network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}").stdout)[0]
    # Where the config names no gateway, Docker's bridge has the subnet's first address.
    gateway = ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))
    folder = Path(tempfile.mkdtemp(prefix="rnnlab-served-"))
    (folder / "rnn_lm.py").write_text(SOLUTION)
    server = http.server.ThreadingHTTPServer(
        (gateway, 0), lambda *args: http.server.SimpleHTTPRequestHandler(*args, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{gateway}:{server.server_address[1]}/rnn_lm.py"
    server.shutdown()


def round_four(solution_url: str) -> dict[str, str]:
    """A stub that downloads its solution (from this machine, the container's loopback, the outside),
    a correct but slow file, and one that fills /tmp and its scratch folder."""
    loopback = re.sub(r"//[^:/]+", "//127.0.0.1", solution_url, count=1)
    return {"downloads_its_solution": downloads_its_solution([solution_url, loopback, OUTSIDE]),
            "slow_but_correct": SLOW_SOLUTION, "fills_the_scratch": fills_the_scratch()}


def test_the_served_solution_is_reachable_from_a_container(image, solution_url):
    """The control of the network tests: a container's root process, without the worker's filter,
    downloads the correct file the stub asks for."""
    fetched = docker("run", "--rm", image, "python3", "-c",
                     f"import urllib.request; print(len(urllib.request.urlopen({solution_url!r}, timeout=20).read()))")
    assert fetched.stdout.strip() == str(len(SOLUTION.encode())), fetched.stderr


@pytest.fixture(scope="module")
def graded_sample(image, solution_url, tmp_path_factory):
    """otter grade's containers on the solution, the skeleton, two mistakes, the secret hunt and this
    round's files (a downloader, a slow correct file, a scratch filler), with the network on."""
    sources = {"solution": SOLUTION, "skeleton": SKELETON, "secret_hunt": secret_hunt(SECRET_PLACES)}
    sources |= {f"buggy_{n}": apply_edits(BUGGY[n][1]) for n in SAMPLE_BUGGY} | round_four(solution_url)
    results = otter_grade(image, sources, tmp_path_factory.mktemp("otter-grade"))
    out = tmp_path_factory.mktemp("rnnlab-out")
    return {"results": results, "rnnlab": rnnlab_grade(sources, tmp_path_factory.mktemp("class") / "in", out),
            "filler_feedback": (out / "teams" / "fills_the_scratch" / "feedback.txt").read_text()}


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


def test_otter_grade_with_the_network_on_gives_the_downloader_nothing_and_the_slow_file_everything(graded_sample):
    results = graded_sample["results"]
    assert results["downloads_its_solution"].total == 0
    assert f"{BUILT_AT_RUN_TIME} (compile, exec)" in results["downloads_its_solution"].output
    assert results["slow_but_correct"].total == TOTAL_POINTS, results["slow_but_correct"].output


def test_the_scratch_is_capped_in_otter_grades_container_as_under_bubblewrap(graded_sample):
    """/tmp closed to the worker; its $TMPDIR, on /dev/shm, held to the tmpfs's 64 MB: what
    `rnnlab grade` gives the same file under bubblewrap (its feedback, written beside the grades)."""
    assert_wrote_only_its_scratch(everything_said(graded_sample["results"]["fills_the_scratch"]), "Permission denied",
                                  f"/dev/shm/{SCRATCH_PREFIX}", SCRATCH_BYTES >> 20)
    assert_wrote_only_its_scratch(graded_sample["filler_feedback"], "Read-only file system", SANDBOX_SCRATCH,
                                  SCRATCH_BYTES >> 20)


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


TEAM_FOLDER = {"lab.ipynb": (REPO / "assignment" / "lab.ipynb").read_text(), "AUTHORS": "Ada Lovelace\n",
               "README.md": "# Our lab\n"}


def test_gradescope_grades_the_rnn_lm_py_of_a_whole_team_folder(image, tmp_path):
    """A folder (or GitHub) upload: rnn_lm.py with the notebook, AUTHORS and a README beside it."""
    run = gradescope_run(image, SOLUTION, tmp_path, uploads=TEAM_FOLDER)
    assert gradescope_points(run["results"]) == TOTAL_POINTS, run["results"].get("output", "")[-2000:]


def test_gradescope_tells_an_upload_without_rnn_lm_py_what_to_upload(image, tmp_path):
    run = gradescope_run(image, None, tmp_path, uploads=TEAM_FOLDER)
    assert gradescope_points(run["results"]) == 0 and NOTHING_TO_JUDGE in run["results"]["output"], run["results"]


def test_gradescope_with_the_network_on_gives_the_downloader_nothing(image, solution_url, tmp_path):
    run = gradescope_run(image, round_four(solution_url)["downloads_its_solution"], tmp_path)
    assert gradescope_points(run["results"]) == 0, run["results"].get("output", "")[-2000:]
    assert f"{BUILT_AT_RUN_TIME} (compile, exec)" in run["results"]["output"]


def test_gradescope_gives_the_slow_correct_file_full_marks(image, tmp_path):
    """A correct file that waits 5 s in every check, at Gradescope's 0.5 CPU: full marks within the
    budget every route shares, as otter grade and `rnnlab grade` give it (``graded_sample``)."""
    run = gradescope_run(image, SLOW_SOLUTION, tmp_path)
    assert gradescope_points(run["results"]) == TOTAL_POINTS, (run["wall_s"], run["results"].get("output", "")[-2000:])


def test_gradescope_leaves_no_file_of_the_submission_behind(image, tmp_path):
    """720 MB written to /tmp and to $TMPDIR: refused and capped, and nothing of it left after grading."""
    run = gradescope_run(image, fills_the_scratch(), tmp_path)
    said = json.dumps(run["results"])
    assert SCRATCH_FILLER_PREFIX in said and gradescope_points(run["results"]) == 0, said[:2000]
    assert run["files_of_nobody"] == [] and run["left"] == [], (run["files_of_nobody"], run["left"])


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
    docker("create", "--name", name, image, "bash", "-c",
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


# -- make test-docker only: the whole bank and every attack through otter grade's containers and Gradescope

def container_attacks() -> dict[str, str]:
    """The attack bank aimed at the container's layout (its results and submission folders)."""
    escaped = Path(tempfile.gettempdir()) / "rnnlab-container-escape"
    return {f"attack_{n}": s for n, s in [
        *attacks(Path("/autograder/source/files"), Path("/autograder/results"), Path("/autograder/submission"),
                 MARKER).items(), *round_two_attacks(escaped).items()]}


def whole_bank(solution_url: str) -> dict[str, str]:
    """Every buggy and correct file of the bank, the slow correct file and every attack."""
    sources = {f"buggy_{name}": apply_edits(edits) for name, (_, edits) in BUGGY.items()}
    sources |= {f"correct_{name}": apply_edits(edits) for name, edits in CORRECT.items()}
    sources |= container_attacks() | {f"attack_{name}": source for name, source in round_four(solution_url).items()
                                      if name != "slow_but_correct"}
    sources["correct_slow"] = SLOW_SOLUTION
    return sources


@pytest.fixture(scope="module")
def bank_under_rnnlab_grade(solution_url, tmp_path_factory) -> tuple[dict[str, str], dict[str, dict[str, float]]]:
    """The whole bank, and its per-task points under `rnnlab grade` (bubblewrap), graded once for both routes."""
    sources = whole_bank(solution_url)
    return sources, rnnlab_grade(sources, tmp_path_factory.mktemp("bank") / "in", tmp_path_factory.mktemp("bank-out"))


def assert_same_scores_as_rnnlab_grade(ours: dict[str, dict[str, float]], theirs: dict[str, dict[str, float]]):
    differ = {n: (ours[n], theirs[n]) for n in theirs if ours[n] != pytest.approx(theirs[n], abs=1e-3)}
    assert not differ, differ
    assert all(sum(ours[n].values()) == pytest.approx(TOTAL_POINTS) for n in ours if n.startswith("correct_"))
    assert not any(sum(ours[n].values()) > 0 for n in ours if n.startswith("attack_"))


@pytest.mark.docker_only
def test_the_whole_bank_and_every_attack_score_in_otter_grade_as_under_rnnlab_grade(image, bank_under_rnnlab_grade,
                                                                                     tmp_path):
    sources, theirs = bank_under_rnnlab_grade
    results = otter_grade(image, sources, tmp_path / "otter")
    failed = {n: str(r.catastrophic_error)[:300] for n, r in results.items() if r.has_catastrophic_failure()}
    assert not failed, failed
    assert_same_scores_as_rnnlab_grade({name: task_scores(r) for name, r in results.items()}, theirs)


@pytest.mark.docker_only
def test_the_whole_bank_and_every_attack_score_on_gradescope_as_under_rnnlab_grade(image, bank_under_rnnlab_grade,
                                                                                    tmp_path):
    """At Gradescope's 0.5 CPU and 768 MB, four containers at a time (two cores' worth)."""
    sources, theirs = bank_under_rnnlab_grade
    for name in sources:
        (tmp_path / name).mkdir()
    with ThreadPoolExecutor(4) as pool:
        futures = {name: pool.submit(gradescope_run, image, source, tmp_path / name, 3 * TIMEOUT)
                   for name, source in sources.items()}
    assert_same_scores_as_rnnlab_grade({name: gradescope_task_scores(future.result()["results"])
                                        for name, future in futures.items()}, theirs)
