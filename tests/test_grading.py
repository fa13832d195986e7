"""`rnnlab grade` on a mixed class (the bank, hostile and attacking submissions), and `otter run`
with the generated autograder zip, which must give the same scores."""

import csv
import hashlib
import json
import os
import socket
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from attack_bank import (assert_wrote_only_its_scratch, attacks, downloads_its_solution, fills_the_scratch,
                         otter_log_payload, recorder, replay_attack, round_two_attacks)
from conftest import COURSE_KEY, RUNS_THE_JUDGE, processes_marked
from rnnjudge.sandbox import RUN_VARIABLE, SANDBOX_SCRATCH, SCRATCH_BYTES, cgroups_of_run
from rnnjudge.judge import BUILT_AT_RUN_TIME, MAX_CODE_BYTES, NO_AUTHORS, judge_submission
from rnnlab.autograder_build import build_autograder_zip
from rnnlab.tasks import NOTEBOOK_POINTS, QUESTIONS, TASKS, TOTAL_POINTS
from submission_bank import BUGGY, CORRECT, HOSTILE, LOUD_SOLUTION, SLOW_SOLUTION, SOLUTION, apply_edits, before_solution

pytestmark = RUNS_THE_JUDGE

REPO = Path(__file__).resolve().parent.parent
RNNLAB = [sys.executable, "-m", "rnnlab.cli"]
MARKER = "rnnlab-attack-marker-7f3a"
TIMEOUT = 45  # per submission: a correct one takes 5-15 s; the endless loop costs one worker this long
RECORDING_KEY = bytes.fromhex("0ff1" * 16)  # another course's secret, or the public kit's tests
EMPTY_AUTHORS = "AUTHORS: list[str] = []\n"
AUTHOR_LISTS = {"pair.py": 'AUTHORS = ["=HYPERLINK(\\"http://evil\\")", "Alan <b>Turing</b>"]\n',
                "alone.py": EMPTY_AUTHORS, "computed.py": 'AUTHORS = [n.title() for n in ("ada", "alan")]\n'}


def repo_fingerprint() -> str:
    """Every file of the repository that grading could touch (tracked or not, outside .venv/.git)."""
    digest = hashlib.sha256()
    for path in sorted(REPO.rglob("*")):
        rel = path.relative_to(REPO)
        if rel.parts[0] in (".git", ".venv") or "__pycache__" in rel.parts or ".hypothesis" in rel.parts \
                or rel.parts[:2] == ("autograder", "dist") or not path.is_file():
            continue
        digest.update(str(rel).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def replay_table(tmp_path_factory) -> Path:
    """3. What an attacker records offline: every request and reply of the judge on a correct file,
    under a secret that is not the course's (with inputs from the secret alone: the replay's control)."""
    folder = tmp_path_factory.mktemp("recording")
    table = folder / "table.jsonl"
    result = judge_submission(_write(folder / "recorder.py", recorder(table)), RECORDING_KEY, mode="none",
                              inputs_per_submission=False)
    assert all(c["passed"] for c in result["checks"].values()), result["problems"]
    assert table.stat().st_size < (8 << 20)
    return table


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, replay_table):
    folder = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("grades")
    escaped = tmp_path_factory.mktemp("escape") / "ran-outside-the-sandbox"
    sources = {"good.py": SOLUTION, "victim.py": SOLUTION, "loud.py": LOUD_SOLUTION,
               "untouched.py": (REPO / "assignment" / "rnn_lm.py").read_text(),
               "buggy_loss.py": apply_edits(BUGGY["loss_no_pad_mask"][1]),
               "buggy_loss_again.py": apply_edits(BUGGY["loss_no_pad_mask"][1])}
    sources |= {f"{name}.py": source for name, (source, _) in HOSTILE.items()}
    sources |= {f"attack_{name}.py": source for name, source in attacks(REPO, out, folder, MARKER).items()}
    sources |= {f"attack_{name}.py": source for name, source in round_two_attacks(escaped).items()}
    sources["attack_replays_recorded_answers.py"] = replay_attack(replay_table)
    # 9. A team that names a classmate (spelled differently) as its author, next to the classmate's own team.
    sources["team_grace.py"] = SOLUTION.replace("AUTHORS: list[str] = []", 'AUTHORS = ["Grace Hopper", "Ada"]')
    sources["impersonator.py"] = SOLUTION.replace("AUTHORS: list[str] = []", 'AUTHORS = ["grace  hopper"]')
    sources["correct_parameters_created_in_another_order.py"] = apply_edits(CORRECT["parameters_created_in_another_order"])
    # Teams as they write AUTHORS: a name that looks like a formula or markup, nobody, a computed list.
    skeleton = (REPO / "assignment" / "rnn_lm.py").read_text()
    sources |= {name: skeleton.replace(EMPTY_AUTHORS, authors) for name, authors in AUTHOR_LISTS.items()}
    # Names that would aim the output at other places: "..", the class's own files.
    sources |= {name: (REPO / "assignment" / "rnn_lm.py").read_text()
                for name in ("...py", "report.html.py", "final_grades.csv.py")}
    for name, source in sources.items():
        (folder / name).write_text(source)
    (folder / "symlink_to_victim.py").symlink_to(folder / "victim.py")  # a grade stolen through a link
    (folder / "linked_folder").mkdir()  # 7. a Classroom-style folder whose rnn_lm.py links to a classmate's
    (folder / "linked_folder" / "rnn_lm.py").symlink_to(folder / "victim.py")
    for student, source in (("alice", SOLUTION), ("bob", skeleton)):  # GitHub Classroom clones: a folder each
        (folder / student).mkdir()
        (folder / student / "rnn_lm.py").write_text(source)
        (folder / student / "README.md").write_text("not a submission")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%matplotlib inline\n" + SOLUTION)])
    nbformat.write(notebook, folder / "notebook.ipynb")
    (folder / "broken.ipynb").write_text("{ this is not json")
    # Found by a red team: nesting deeper than the JSON parser goes, and 400 KB of code (parsing a
    # file costs the grader ~500 bytes of memory a byte): refused before anything parses them.
    (folder / "nested.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "huge.py").write_text("x = [" + "1," * 200_000 + "]\n" + SOLUTION)
    around_out = sorted(p.name for p in out.parent.iterdir())
    before = repo_fingerprint()
    with socket.create_server(("127.0.0.1", 0)) as server:  # a server the class's netprobe.py tries to reach
        port = server.getsockname()[1]
        probe = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
                 "    print('NETWORK-REACHED')\nexcept OSError:\n    print('NETWORK-BLOCKED')\n")
        _write(folder / "netprobe.py", before_solution(probe))
        # Four judges: four files (the endless loop, the fork bomb, the forged and the stalled channel)
        # run out the time limit, three of them asleep; two judges took 170 s here (idle), four 119 s.
        run = f"class{uuid.uuid4().hex[:8]}"  # names the run's cgroups: this run's alone are looked for
        proc = subprocess.run([*RNNLAB, "grade", str(folder), "--out", str(out), "--workers", "4", "--timeout",
                               str(TIMEOUT), "--no-progress"], capture_output=True, text=True, cwd=REPO, timeout=1800,
                              env={**os.environ, RUN_VARIABLE: run})
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "final_grades.csv") as f:
        rows = {r["file"]: r for r in csv.DictReader(f)}
    return {"folder": folder, "out": out, "rows": rows, "sources": sources, "repo_before": before,
            "repo_after": repo_fingerprint(), "marked": processes_marked(MARKER), "around_out": around_out,
            "around_out_after": sorted(p.name for p in out.parent.iterdir()), "cgroups": [str(p) for p in cgroups_of_run(run)],
            "escaped": escaped}


def total(row) -> float:
    return float(row["total_points_earned"])


def test_one_row_per_submission_with_otter_columns(graded_class):
    assert set(graded_class["rows"]) == {p.name for p in graded_class["folder"].iterdir() if p.is_file()} | {
        "linked_folder/rnn_lm.py", "alice/rnn_lm.py", "bob/rnn_lm.py"}
    with open(graded_class["out"] / "final_grades.csv") as f:
        header = next(csv.reader(f))
    assert header == ["file", *(t.key for t in TASKS), "notebook", *(q.key for q in QUESTIONS), "total_points_earned",
                      "percent_correct", "grading_status", "notebook_status", "notebook_numbers", "authors"]
    assert (graded_class["out"] / "score_distribution.png").stat().st_size > 5000


def test_correct_submissions_keep_full_marks_next_to_hostile_ones(graded_class):
    rows = graded_class["rows"]
    for name in ("good.py", "victim.py", "loud.py", "notebook.ipynb", "correct_parameters_created_in_another_order.py"):
        assert total(rows[name]) == TOTAL_POINTS, rows[name]
        assert rows[name]["grading_status"] == f"graded; {NO_AUTHORS}"  # the bank's AUTHORS is empty


def test_printing_goes_to_the_ta_log_not_to_feedback(graded_class):
    out = graded_class["out"]
    assert "spam" in (out / "teams" / "loud" / "log.txt").read_text()
    assert "spam" not in (out / "teams" / "loud" / "feedback.txt").read_text()
    assert "spam" not in (out / "teams" / "loud" / "results.json").read_text()


def test_untouched_stubs_and_buggy_code(graded_class):
    rows, out = graded_class["rows"], graded_class["out"]
    assert total(rows["untouched.py"]) == 0 and "untouched stubs" in rows["untouched.py"]["grading_status"]
    buggy = rows["buggy_loss.py"]
    assert dict(rows["buggy_loss_again.py"], file="buggy_loss.py") == buggy  # same code, same row
    assert float(buggy["task3"]) < 15 and all(float(buggy[t.key]) == t.points for t in TASKS if t.number != 3)
    feedback = (out / "teams" / "buggy_loss" / "feedback.txt").read_text()
    assert "[FAIL] lm_loss" in feedback and "Failing test case" in feedback
    results = json.loads((out / "teams" / "buggy_loss" / "results.json").read_text())
    assert results["score"] == total(buggy)
    assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(TOTAL_POINTS + NOTEBOOK_POINTS)
    assert "single-file submission" in buggy["notebook_status"] and buggy["notebook"] == "0"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_broken_submission_gets_no_points_and_a_status(graded_class, name):
    row = graded_class["rows"][f"{name}.py"]
    assert HOSTILE[name][1] in row["grading_status"], row["grading_status"]
    assert total(row) == 0, row


def test_symbolic_link_earns_nothing_and_says_why(graded_class):
    row = graded_class["rows"]["symlink_to_victim.py"]
    assert total(row) == 0 and "symbolic link" in row["grading_status"]


def test_invalid_notebook_is_named_as_such(graded_class):
    for name in ("broken.ipynb", "nested.ipynb"):
        row = graded_class["rows"][name]
        assert "not a valid notebook" in row["grading_status"] and total(row) == 0


def test_oversized_file_is_refused_before_it_is_parsed(graded_class):
    row = graded_class["rows"]["huge.py"]
    assert "more than a submission can be" in row["grading_status"] and total(row) == 0


@pytest.mark.parametrize("name", sorted([*attacks(REPO, REPO, REPO, MARKER), *round_two_attacks(REPO),
                                         "replays_recorded_answers"]))
def test_attack_earns_nothing(graded_class, name):
    row = graded_class["rows"][f"attack_{name}.py"]
    assert total(row) == 0, row


def test_a_slow_correct_file_gets_full_marks_in_the_default_time_budget(tmp_path):
    """A correct file that waits 5 s in every check (about 200 s in all) under `rnnlab grade`'s
    default --timeout, the budget the autograder zip carries: full marks, no time-out."""
    (tmp_path / "in").mkdir()
    _write(tmp_path / "in" / "slow.py", SLOW_SOLUTION)
    proc = subprocess.run([*RNNLAB, "grade", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--workers", "1",
                           "--no-progress"], capture_output=True, text=True, cwd=REPO, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / "out" / "final_grades.csv") as f:
        row = next(csv.DictReader(f))
    assert total(row) == TOTAL_POINTS and "timed out" not in row["grading_status"], row


def test_replayed_answers_score_nothing_even_under_the_secret_they_were_recorded_with(replay_table, tmp_path):
    """3. The replay is a real attack where inputs came from the secret alone (full marks but for
    what the table cannot carry, under the recording's secret); as graded, the inputs also derive
    from the file's own code, so the table (recorded on another file) answers nothing, under that
    secret too."""
    attack = _write(tmp_path / "replay.py", replay_attack(replay_table))
    assert attack.stat().st_size < MAX_CODE_BYTES  # a file the grader takes
    control = judge_submission(attack, RECORDING_KEY, mode="bwrap", timeout=TIMEOUT, inputs_per_submission=False)
    failed = sorted(name for name, c in control["checks"].items() if not c["passed"])
    assert failed == ["task1_vanishing", "task2_vanishing"], failed  # all but what the table could not carry
    graded = judge_submission(attack, RECORDING_KEY, mode="bwrap", timeout=TIMEOUT)
    passed = [name for name, c in graded["checks"].items() if c["passed"]]
    assert passed == [], passed


def test_a_stalled_or_garbled_channel_is_one_status(graded_class):
    """2 and 6: a worker that stops reading, or whose first message is deep nesting or an absurd
    shape, gets a row that names the problem; nothing it started survives, no cgroup is left."""
    rows = graded_class["rows"]
    stalled = rows["attack_stalls_the_pipe.py"]["grading_status"]
    assert "timed out" in stalled or "stopped reading" in stalled or "did not answer in time" in stalled, stalled
    garbled = rows["attack_hostile_first_message.py"]["grading_status"]
    assert "not a reply" in garbled, garbled
    assert graded_class["cgroups"] == []
    assert not graded_class["escaped"].exists()


def test_refused_symlinks_never_reach_copy_detection(graded_class):
    """7. A linked file or folder is refused, and its target's code is not shown or compared under its name."""
    rows, out = graded_class["rows"], graded_class["out"]
    for name in ("symlink_to_victim.py", "linked_folder/rnn_lm.py"):
        assert total(rows[name]) == 0 and "symbolic link" in rows[name]["grading_status"]
    similar = (out / "similarity.csv").read_text()
    assert "symlink_to_victim" not in similar and "linked_folder" not in similar
    report = (out / "report.html").read_text()
    assert "<h3>linked_folder/rnn_lm.py</h3>" not in report and "<h3>symlink_to_victim.py</h3>" not in report


def test_a_name_in_two_teams_is_noted_on_both_rows_and_in_the_report(graded_class):
    """9. No points lost, but neither row is silent about it."""
    rows = graded_class["rows"]
    assert total(rows["impersonator.py"]) == TOTAL_POINTS
    assert "hopper' is also in impersonator.py" in rows["team_grace.py"]["grading_status"].lower()
    assert "is also in team_grace.py" in rows["impersonator.py"]["grading_status"]
    assert "Ada" not in rows["impersonator.py"]["grading_status"]
    report = (graded_class["out"] / "report.html").read_text()
    assert "Names in more than one submission" in report and "impersonator.py, team_grace.py" in report


def test_attacks_change_no_file_no_row_and_leave_no_process(graded_class):
    folder, out = graded_class["folder"], graded_class["out"]
    assert graded_class["repo_after"] == graded_class["repo_before"], "grading changed the repository"
    for name, source in graded_class["sources"].items():
        assert (folder / name).read_text() == source, f"{name} was changed"
    assert graded_class["around_out_after"] == graded_class["around_out"], "something was written beside --out"
    for name in ("final_grades.csv", "report.html", "class_summary.csv", "similarity.csv"):
        assert (out / name).is_file(), f"{name} is missing or not a file"
    assert all(p.is_dir() for p in out.iterdir() if p.suffix not in (".csv", ".html", ".png"))
    assert graded_class["marked"] == [], "processes started by a submission outlived grading"
    # Writes land in the sandbox's private /tmp at most (the fingerprint above shows the repository
    # unchanged); reads of the check library and of a classmate find nothing.
    log = (out / "teams" / "attack_reads_and_writes_files" / "log.txt").read_text()
    assert "BLOCKED" in log and "READ /" not in log
    feedback = (out / "teams" / "attack_reads_and_writes_files" / "feedback.txt").read_text()
    assert "def vanishing_check" not in feedback and "BLOCKED" not in feedback


def test_authors_reach_every_output_as_text(graded_class):
    """AUTHORS, read without running the submission, goes next to the grade: names, or a note that
    costs nothing; a name that looks like a formula or markup stays text."""
    rows, out = graded_class["rows"], graded_class["out"]
    pair, alone, computed = rows["pair.py"], rows["alone.py"], rows["computed.py"]
    assert pair["authors"] == "'=HYPERLINK(\"http://evil\"); Alan <b>Turing</b>"
    assert "AUTHORS" not in pair["grading_status"]
    assert alone["authors"] == "" and alone["grading_status"].endswith(f"; {NO_AUTHORS}")
    assert computed["authors"] == "" and "AUTHORS not read" in computed["grading_status"]
    assert all(r["total_points_earned"] == "0" and "untouched stubs" in r["grading_status"]
               for r in (pair, alone, computed))
    feedback = (out / "teams" / "pair" / "feedback.txt").read_text()
    assert 'Authors: =HYPERLINK("http://evil"); Alan <b>Turing</b>\n' in feedback
    assert json.loads((out / "teams" / "alone" / "results.json").read_text())["output"].startswith(
        f"Authors: none named\nStatus: graded with problems: nothing implemented (untouched stubs); {NO_AUTHORS}")
    report = (out / "report.html").read_text()
    assert "Alan &lt;b&gt;Turing&lt;/b&gt;" in report and "<b>Turing" not in report


def test_missing_input_is_a_clear_error(tmp_path):
    proc = subprocess.run([*RNNLAB, "grade", str(tmp_path / "nope"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "no such file or folder" in proc.stderr and "Traceback" not in proc.stderr


def test_refuses_without_a_sandbox_unless_told(tmp_path):
    """With no bwrap on PATH the grader refuses and says how to install it; --no-sandbox says so per row."""
    sub = _write(tmp_path / "good.py", SOLUTION)
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))  # the venv's bin only: no bwrap
    proc = subprocess.run([*RNNLAB, "grade", str(sub), "--out", str(tmp_path / "o")], capture_output=True,
                          text=True, cwd=REPO, env=env)
    assert proc.returncode == 2 and "apt-get install bubblewrap" in proc.stderr and "--no-sandbox" in proc.stderr
    proc = subprocess.run([*RNNLAB, "grade", str(sub), "--out", str(tmp_path / "o"), "--no-sandbox",
                           "--no-progress"], capture_output=True, text=True, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "o" / "final_grades.csv") as f:
        row = next(csv.DictReader(f))
    assert total(row) == TOTAL_POINTS and "unsandboxed" in row["grading_status"]


def test_no_course_secret_no_grading(tmp_path, monkeypatch, capsys):
    """Without a secret the hidden inputs would be the public kit's: refused, with what to do."""
    from rnnlab import course_secret
    from rnnlab.cli import main

    monkeypatch.delenv("RNNJUDGE_SECRET")
    monkeypatch.setattr(course_secret, "SECRET_PATH", tmp_path / "course.secret")
    sub = _write(tmp_path / "good.py", SOLUTION)
    assert main(["grade", str(sub), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "no course secret" in capsys.readouterr().err and not (tmp_path / "o").exists()
    _write(tmp_path / "typo.secret", "not hex\n")
    assert main(["grade", str(sub), "--out", str(tmp_path / "o"), "--secret", str(tmp_path / "typo.secret")]) == 2
    assert "64 hex digits" in capsys.readouterr().err
    course_secret.create(tmp_path / "course.secret")
    assert (tmp_path / "course.secret").stat().st_mode & 0o077 == 0  # the owner's only
    assert course_secret.load() == bytes.fromhex((tmp_path / "course.secret").read_text())


def test_submission_code_has_no_network(graded_class):
    """Even loopback is unreachable from a submission: the class's netprobe.py tried a server the
    test held open while grading."""
    log = (graded_class["out"] / "teams" / "netprobe" / "log.txt").read_text()
    assert "NETWORK-BLOCKED" in log and "NETWORK-REACHED" not in log
    assert total(graded_class["rows"]["netprobe.py"]) == TOTAL_POINTS


def test_classroom_layout_one_folder_per_student(graded_class):
    rows = graded_class["rows"]
    assert total(rows["alice/rnn_lm.py"]) == TOTAL_POINTS and total(rows["bob/rnn_lm.py"]) == 0
    assert (graded_class["out"] / "teams" / "alice" / "feedback.txt").is_file()


def test_two_submissions_with_one_name_are_refused(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "rnn_lm.py").write_text(SOLUTION)
    proc = subprocess.run([*RNNLAB, "grade", str(tmp_path / "a" / "rnn_lm.py"), str(tmp_path / "b" / "rnn_lm.py"),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "both called rnn_lm.py" in proc.stderr


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- otter ---------------------------------------------------------------------------------

def otter_scores(zip_path: Path, source: str, workdir: Path) -> dict:
    workdir.mkdir()
    sub = _write(workdir / "rnn_lm.py", source)
    otter = Path(sys.executable).parent / "otter"
    proc = subprocess.run([str(otter), "run", "-a", str(zip_path), "-o", str(workdir), str(sub)],
                          capture_output=True, text=True, cwd=workdir, timeout=900)
    results = json.loads((workdir / "results.json").read_text())
    scored = otter_task_scores(results)
    assert set(scored) == {t.key for t in TASKS}, (results, proc.stdout[-2000:])
    return scored


@pytest.fixture(scope="module")
def otter_zip(tmp_path_factory) -> Path:
    return build_autograder_zip(COURSE_KEY, tmp_path_factory.mktemp("zip") / "autograder.zip", timeout=TIMEOUT)


def otter_task_scores(results: dict) -> dict[str, float]:
    return {t["name"]: t["score"] for t in results["tests"] if t["name"] in {task.key for task in TASKS}}


@pytest.mark.parametrize("layout", ["zip", pytest.param("folder", marks=pytest.mark.exhaustive)])
def test_otter_never_unpickles_a_planted_log(otter_zip, tmp_path, layout):
    """1. A `.OTTER_LOG` beside the untouched skeleton, in a zip or uploaded as a second file: otter
    would unpickle it in its own process before any plugin runs. It is deleted first: 0 points."""
    marker = tmp_path / "otter-unpickled-the-log"
    work = tmp_path / "work"
    work.mkdir()
    skeleton = (REPO / "assignment" / "rnn_lm.py").read_text()
    if layout == "zip":
        import zipfile

        with zipfile.ZipFile(work / "submission.zip", "w") as z:
            z.writestr("rnn_lm.py", skeleton)
            z.writestr(".OTTER_LOG", otter_log_payload(marker))
        argv = [str(Path(sys.executable).parent / "otter"), "run", "-a", str(otter_zip), "-o", str(work),
                str(work / "submission.zip")]
    else:  # Gradescope's upload of several files: otter copies the extra ones next to the submission
        _write(work / "rnn_lm.py", skeleton)
        (work / ".OTTER_LOG").write_bytes(otter_log_payload(marker))
        argv = [sys.executable, "-c", "from otter.run import main; main('rnn_lm.py', autograder="
                f"{str(otter_zip)!r}, output_dir='.', extra_submission_files=['.OTTER_LOG'])"]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=work, timeout=900)
    assert (work / "results.json").is_file(), proc.stdout[-2000:] + proc.stderr[-2000:]
    scores = otter_task_scores(json.loads((work / "results.json").read_text()))
    assert set(scores) == {t.key for t in TASKS} and sum(scores.values()) == 0, scores
    assert not marker.exists(), "otter unpickled the submission's .OTTER_LOG"


def otter_differences(zip_path: Path, sources: dict[str, str], rows: dict, tmp_path: Path) -> dict:
    """The files whose per-task scores under `otter run` differ from their `rnnlab grade` row."""
    names = sorted(sources)
    with ThreadPoolExecutor(2) as pool:
        theirs = dict(zip(names, pool.map(lambda i: otter_scores(zip_path, sources[names[i]], tmp_path / f"s{i}"),
                                          range(len(names)))))
    return {n: (theirs[n], {t.key: rows[n][t.key] for t in TASKS}) for n in names
            if any(abs(float(rows[n][t.key]) - theirs[n][t.key]) > 1e-3 for t in TASKS)}


OTTER_SAMPLE = ("good.py", "untouched.py", "buggy_loss.py", "crash_at_import.py", "attack_patches_worker_functions.py",
                "attack_answers_evaluate_from_the_question.py")


def test_otter_run_gives_the_judges_scores(graded_class, otter_zip, tmp_path):
    """A sample of the class (correct, untouched, buggy, broken, attacking) scores under `otter run`
    as under `rnnlab grade`; `make test-all` runs every file."""
    sources = {n: graded_class["sources"][n] for n in OTTER_SAMPLE}
    assert not otter_differences(otter_zip, sources, graded_class["rows"], tmp_path)


@pytest.mark.exhaustive
def test_otter_run_gives_the_judges_scores_on_every_file(graded_class, otter_zip, tmp_path):
    """Every .py of the class (correct, broken, attacks) under `otter run` scores as under `rnnlab grade`."""
    sources = {n: s for n, s in graded_class["sources"].items() if n not in OTTER_SAMPLE}
    assert not otter_differences(otter_zip, sources, graded_class["rows"], tmp_path)


@pytest.mark.exhaustive
def test_the_whole_bank_scores_alike_under_rnnlab_grade_and_otter(otter_zip, tmp_path):
    """Every buggy and correct variant of the bank: `rnnlab grade` as a class, then `otter run` on each."""
    folder = tmp_path / "bank"
    folder.mkdir()
    sources = {f"buggy_{name}.py": apply_edits(edits) for name, (_, edits) in BUGGY.items()}
    sources |= {f"correct_{name}.py": apply_edits(edits) for name, edits in CORRECT.items()}
    for name, source in sources.items():
        _write(folder / name, source)
    proc = subprocess.run([*RNNLAB, "grade", str(folder), "--out", str(tmp_path / "out"), "--timeout", str(TIMEOUT),
                           "--no-progress"], capture_output=True, text=True, cwd=REPO, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / "out" / "final_grades.csv") as f:
        rows = {r["file"]: r for r in csv.DictReader(f)}
    assert all(total(rows[n]) == TOTAL_POINTS for n in sources if n.startswith("correct_"))
    assert all(total(rows[n]) < TOTAL_POINTS for n in sources if n.startswith("buggy_"))
    assert not otter_differences(otter_zip, sources, rows, tmp_path)


def otter_run_upload(zip_path: Path, files: dict[str, str], work: Path) -> dict:
    """``files`` uploaded together, as Gradescope's upload of a folder or a GitHub repository puts
    them in the submission folder, graded by ``otter run``: its results.json."""
    work.mkdir()
    for name, text in files.items():
        _write(work / name, text)
    first, *extra = files
    proc = subprocess.run([sys.executable, "-c", f"from otter.run import main; main({first!r}, autograder="
                           f"{str(zip_path)!r}, output_dir='.', extra_submission_files={extra!r})"],
                          capture_output=True, text=True, cwd=work, timeout=900)
    assert (work / "results.json").is_file(), proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads((work / "results.json").read_text())


TEAM_FOLDER = {"rnn_lm.py": SOLUTION, "lab.ipynb": (REPO / "assignment" / "lab.ipynb").read_text(),
               "AUTHORS": "Ada Lovelace\n", "README.md": "# Our lab\n"}


def test_otter_grades_the_rnn_lm_py_of_a_team_folder_not_its_notebook(otter_zip, tmp_path):
    """otter picks the notebook whenever one is uploaded; the code's points come from rnn_lm.py."""
    results = otter_run_upload(otter_zip, TEAM_FOLDER, tmp_path / "team")
    assert sum(otter_task_scores(results).values()) == pytest.approx(TOTAL_POINTS), results["tests"][0]
    assert (tmp_path / "team" / "lab.ipynb").is_file()


def test_an_upload_without_rnn_lm_py_is_told_what_to_upload(otter_zip, tmp_path):
    files = {name: text for name, text in TEAM_FOLDER.items() if name != "rnn_lm.py"}
    results = otter_run_upload(otter_zip, files, tmp_path / "notebook-only")
    assert sum(otter_task_scores(results).values()) == 0
    assert "the upload has no rnn_lm.py. Upload your rnn_lm.py" in results["output"], results["output"]


def test_otter_names_code_built_at_run_time_in_its_status(otter_zip, tmp_path):
    """As the class report names it under `rnnlab grade`: a file that downloads and exec()s its code."""
    results = otter_run_upload(otter_zip, {"rnn_lm.py": downloads_its_solution(["http://127.0.0.1:9/rnn_lm.py"])},
                               tmp_path / "downloader")
    assert sum(otter_task_scores(results).values()) == 0
    assert f"{BUILT_AT_RUN_TIME} (compile, exec): read it" in results["output"], results["output"]


def test_the_container_step_leaves_only_rnn_lm_py_for_otter_to_choose(tmp_path):
    """In the grading container: otter's runner would choose a notebook beside rnn_lm.py (and stop on
    an invalid one, or on two Python files); the other notebooks and Python files are deleted first."""
    from rnnjudge.container import leave_only_the_code

    for name in ("rnn_lm.py", "lab.ipynb", "lab-Copy1.ipynb", "lab_support.py", "__init__.py", "README.md"):
        (tmp_path / name).write_text("{ not json")
    assert leave_only_the_code(tmp_path) == ["lab-Copy1.ipynb", "lab.ipynb", "lab_support.py"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "__init__.py", "rnn_lm.py"]
    (tmp_path / "rnn_lm.py").unlink()
    (tmp_path / "lab.ipynb").write_text("{}")
    assert leave_only_the_code(tmp_path) == [] and (tmp_path / "lab.ipynb").is_file()


def test_the_container_step_closes_the_shared_folders_to_others(tmp_path):
    """What every user may write is closed to others (the worker as nobody) in the grading container;
    the sticky bit and the owner's rights stay, a link is left alone."""
    from rnnjudge.container import close_shared_folders

    shared, private = tmp_path / "tmp", tmp_path / "private"
    shared.mkdir(mode=0o777)
    private.mkdir(mode=0o700)
    shared.chmod(0o1777)
    (tmp_path / "lock").symlink_to(shared)
    assert close_shared_folders([shared, private, tmp_path / "lock", tmp_path / "missing"]) == [str(shared)]
    assert oct(shared.stat().st_mode & 0o7777) == oct(0o1775) and oct(private.stat().st_mode & 0o7777) == oct(0o700)


def test_otter_kernel_runs_no_file_of_a_zip_submission(otter_zip, tmp_path):
    """A zip with an `otter/` package beside the skeleton: otter's kernel would import it unsandboxed."""
    import zipfile

    marker = tmp_path / "kernel-ran-student-code"
    zip_path = otter_zip
    submission = tmp_path / "submission.zip"
    with zipfile.ZipFile(submission, "w") as z:
        z.writestr("rnn_lm.py", (REPO / "assignment" / "rnn_lm.py").read_text())
        z.writestr("otter/__init__.py", f"open({str(marker)!r}, 'w').write('ran')\n")
    work = tmp_path / "otter"
    work.mkdir()
    otter = Path(sys.executable).parent / "otter"
    subprocess.run([str(otter), "run", "-a", str(zip_path), "-o", str(work), str(submission)],
                   capture_output=True, text=True, cwd=work, timeout=900)
    results = json.loads((work / "results.json").read_text())
    assert not marker.exists(), "otter's kernel imported the submission's otter/ package"
    scores = otter_task_scores(results)
    assert set(scores) == {t.key for t in TASKS} and sum(scores.values()) == 0, results


def test_compare_lists_submissions_graded_differently(graded_class, tmp_path):
    otter_csv = tmp_path / "otter_grades.csv"
    with open(graded_class["out"] / "final_grades.csv") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["file"] == "untouched.py":
            row["task1"], row["total_points_earned"] = "20", "20"  # an old zip that gave the skeleton points
    with open(otter_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    proc = subprocess.run([*RNNLAB, "grade", str(graded_class["folder"] / "untouched.py"),
                           str(graded_class["folder"] / "good.py"), "--out", str(tmp_path / "o"), "--no-progress",
                           "--compare", str(otter_csv)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "1 submissions graded differently" in proc.stdout and "untouched.py: otter 20, judge 0" in proc.stdout


def test_under_bubblewrap_a_submission_writes_only_its_scratch_folder(tmp_path):
    """As in the grading containers (tests/test_containers.py): a hard-coded /tmp path is refused, and
    what it writes to its $TMPDIR is held to the scratch folder's 64 MB and gone with the sandbox."""
    result = judge_submission(_write(tmp_path / "filler.py", fills_the_scratch()), COURSE_KEY, timeout=TIMEOUT)
    assert_wrote_only_its_scratch(json.dumps(result["checks"]), "Read-only file system", SANDBOX_SCRATCH,
                                  SCRATCH_BYTES >> 20)
    assert not any(c["passed"] for c in result["checks"].values())
