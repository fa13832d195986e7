"""``rnnlab release``: generate the student release (``assignment/``) from ``solution/``.

Solution regions in ``solution/rnn_lm.py`` look like::

    # BEGIN SOLUTION Task 3: implement lm_loss
    # TODO: a hint that the student keeps (leading comment lines of the region)
    ...reference code...
    # END SOLUTION

and become the hint plus ``raise NotImplementedError("Task 3: implement lm_loss")``.
Answer regions in the notebook source (``<!-- BEGIN ANSWER -->`` ... ``<!-- END ANSWER -->``)
become an empty answer, rubric regions (``<!-- BEGIN RUBRIC -->`` ... ``<!-- END RUBRIC -->``, for the
TA's answers sheet) are removed, each ``**Qn.**`` gets its points and ``{{GRADING}}`` becomes the
notebook's part of the grade, all from ``rnnlab.tasks``. Everything is generated deterministically, so ``--check`` can
compare byte for byte. The points the user pages state are rewritten from ``rnnlab.tasks`` too
(``rnnlab.points_pages``), and checked with the release.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

from rnnlab import ASSIGNMENT_DIR, DATASETS_REQUIREMENT, PYTHON_VERSION, REPO_ROOT, SOLUTION_DIR, TORCH_REQUIREMENT
from rnnlab import points_pages
from rnnlab.course_runs import stale_course_runs
from rnnlab.questions import QuestionsError, discussion_questions
from rnnlab.tasks import ANSWER_POINTS, GRADE_POINTS, NOTEBOOK_CHECKS, NOTEBOOK_POINTS, QUESTIONS, TASKS, TOTAL_POINTS

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION (?P<label>Task (?P<task>\d+): .+?)\s*$")
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
ANSWER = re.compile(r"<!-- BEGIN ANSWER -->.*?<!-- END ANSWER -->", re.DOTALL)
RUBRIC = re.compile(r"(?:\n#)?\n# <!-- BEGIN RUBRIC -->.*?<!-- END RUBRIC -->", re.DOTALL)  # with the blank line before
ANSWER_PLACEHOLDER = "*Your answer here.*"
GRADING_PLACEHOLDER = "{{GRADING}}"


class ReleaseError(RuntimeError):
    """The solution's markers are malformed; the message names the file and line."""


def stub_solution_regions(source: str, filename: str = "<source>") -> str:
    """Replace every solution region with its hint and a ``NotImplementedError`` naming its task."""
    out, region = [], None
    for lineno, line in enumerate(source.splitlines(keepends=True), 1):
        begin = BEGIN.match(line)
        if region is None:
            if begin:
                region = {"indent": begin["indent"], "label": begin["label"], "hint": True, "line": lineno}
            elif END.match(line):
                raise ReleaseError(f"{filename}:{lineno}: END SOLUTION without BEGIN SOLUTION")
            else:
                out.append(line)
            continue
        if begin:
            raise ReleaseError(f"{filename}:{lineno}: BEGIN SOLUTION inside the region opened at line {region['line']}")
        if END.match(line):
            out.append(f'{region["indent"]}raise NotImplementedError("{region["label"]}")\n')
            region = None
        elif region["hint"] and line.strip().startswith("#"):
            out.append(line)  # the hint the student keeps
        else:
            region["hint"] = False
    if region is not None:
        raise ReleaseError(f"{filename}:{region['line']}: BEGIN SOLUTION is never closed")
    return "".join(out)


def solution_region_labels(source: str) -> list[str]:
    """The task labels of the solution regions, in order."""
    return [m["label"] for m in map(BEGIN.match, source.splitlines()) if m]


def strip_answers(markdown: str) -> str:
    """The reference answers replaced by the placeholder, the rubrics removed."""
    return ANSWER.sub(ANSWER_PLACEHOLDER, RUBRIC.sub("", markdown))


def notebook_grading() -> str:
    """The notebook's paragraph on how it is graded (one markdown paragraph, lines of the percent source)."""
    checks = "; ".join(f"{c.points} if {c.title}" for c in NOTEBOOK_CHECKS)
    each = {q.points for q in QUESTIONS}
    answers = (f"{next(iter(each))} points each" if len(each) == 1
               else ", ".join(f"{q.label} {q.points}" for q in QUESTIONS))
    text = (f"**Grading** ({GRADE_POINTS} points). Your code in `rnn_lm.py`: {TOTAL_POINTS} points (the hidden "
            f"checks; see `README.md`). This notebook as you commit it, read by the grader, never run "
            f"({NOTEBOOK_POINTS} points): {checks}. So run it with Kernel > Restart & Run All, then save and commit it "
            f"with its outputs. Your answers to Q1-Q{len(QUESTIONS)} ({ANSWER_POINTS} points, {answers}), scored "
            "by your TA: write each one in place of the placeholder under its question, and keep the **Qn.** "
            "lines as they are (that is how your answers are found).")
    return "\n".join("# " + line for line in textwrap.wrap(text, 98))[2:]


def with_points(percent_source: str) -> str:
    """``{{GRADING}}`` filled in and each ``**Qn.**`` followed by its points."""
    points = {q.number: q.points for q in QUESTIONS}
    marked = re.sub(r"^# \*\*Q(\d+)\.\*\*", lambda m: f"{m[0]} *({points[int(m[1])]} points)*", percent_source,
                    flags=re.MULTILINE)
    return marked.replace(GRADING_PLACEHOLDER, notebook_grading())


def build_notebook(percent_source: str) -> str:
    """The student notebook (.ipynb JSON text) from the jupytext percent source: answers and rubrics
    removed, points added."""
    import jupytext
    import nbformat

    try:
        discussion_questions(percent_source)
    except QuestionsError as err:
        raise ReleaseError(f"solution/lab.py: {err}") from None
    if percent_source.count(GRADING_PLACEHOLDER) != 1:
        raise ReleaseError(f"solution/lab.py must hold {GRADING_PLACEHOLDER} once (where the notebook says how it "
                           "is graded)")
    nb = jupytext.reads(with_points(strip_answers(percent_source)), fmt="py:percent")
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"  # stable ids: the release must be byte-identical run to run
        cell.metadata = {}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nbformat.writes(nb) + "\n"


def points_table() -> str:
    rows = ["| Task | What you implement | Points |", "| --- | --- | --- |"]
    rows += [f"| {t.number} | `{t.title}` | {t.points} |" for t in TASKS]
    rows.append(f"| | Code (`rnn_lm.py`, hidden checks) | {TOTAL_POINTS} |")
    rows += [f"| Notebook | `lab.ipynb`: {c.title} | {c.points} |" for c in NOTEBOOK_CHECKS]
    rows += [f"| {q.label} | your answer in `lab.ipynb`, scored by your TA | {q.points} |" for q in QUESTIONS]
    rows.append(f"| | **Total** | **{GRADE_POINTS}** |")
    return "\n".join(rows)


def classroom_workflow() -> str:
    """GitHub Classroom autograding: one command-grader step per task, points from ``TASKS``."""
    steps = []
    for t in TASKS:
        steps.append(f"""\
      - name: Task {t.number} ({t.title})
        id: {t.key}
        uses: classroom-resources/autograding-command-grader@v1
        with:
          test-name: Task {t.number} {t.title}
          setup-command: ""
          command: python -m pytest -q tests/test_public.py -m {t.key}
          timeout: 10
          max-score: {t.points}
""")
    env = "".join(f'          {t.key.upper()}_RESULTS: "${{{{steps.{t.key}.outputs.result}}}}"\n' for t in TASKS)
    runners = ",".join(t.key for t in TASKS)
    return f"""\
# Generated from the course's source; do not edit. It grades each push: the public tests of each task.
name: Autograding Tests
"on":
  - push
  - repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    steps:
      - name: Checkout code
        uses: actions/checkout@v5
      - name: Set up Python
        uses: actions/setup-python@v6
        with:
          python-version: "{PYTHON_VERSION}"
      - name: Install CPU-only PyTorch and what the public tests need
        run: |
          python -m pip install --index-url https://download.pytorch.org/whl/cpu "{TORCH_REQUIREMENT}"
          python -m pip install "numpy>=1.24" "pytest>=7"
{"".join(steps)}\
      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
{env}\
        with:
          runners: {runners}
"""


def requirements_txt() -> str:
    return f"""\
# CPU is enough for this lab. To avoid a multi-GB CUDA build of torch, install it first with
#   pip install --index-url https://download.pytorch.org/whl/cpu "{TORCH_REQUIREMENT}"
{TORCH_REQUIREMENT}
numpy>=1.24
tqdm>=4.60
matplotlib>=3.7
pytest>=7
jupyter
"""


def requirements_wikitext_txt() -> str:
    """What only the optional ``LabConfig(data="wikitext")`` needs, on top of requirements.txt."""
    return f"""\
# Only for LabConfig(data="wikitext"), which downloads WikiText-2: pip install -r requirements-wikitext.txt
{DATASETS_REQUIREMENT}
"""


def public_tests_conftest() -> str:
    markers = "".join(f'    config.addinivalue_line("markers", "{t.key}: Task {t.number} ({t.title})")\n'
                      for t in TASKS)
    return f'''"""Generated from the course's source; do not edit. Makes `rnn_lm` importable and declares one
marker per task (`python -m pytest tests -m task3` runs Task 3's checks)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pytest_configure(config):
{markers}'''


def generate() -> dict[str, str]:
    """Every file of the release: relative path -> text."""
    rnn_lm = (SOLUTION_DIR / "rnn_lm.py").read_text()
    lab_support = (SOLUTION_DIR / "lab_support.py").read_text()
    if solution_region_labels(lab_support):
        raise ReleaseError("solution/lab_support.py is given code and must not hold solution regions")
    readme = (SOLUTION_DIR / "student_README.md").read_text().replace("{{POINTS_TABLE}}", points_table())
    return {
        "rnn_lm.py": stub_solution_regions(rnn_lm, "solution/rnn_lm.py"),
        "lab_support.py": lab_support,
        "lab.ipynb": build_notebook((SOLUTION_DIR / "lab.py").read_text()),
        "tests/test_public.py": (SOLUTION_DIR / "public_tests.py").read_text(),
        "tests/conftest.py": public_tests_conftest(),
        "requirements.txt": requirements_txt(),
        "requirements-wikitext.txt": requirements_wikitext_txt(),
        "sweep.json": (SOLUTION_DIR / "sweep" / "sweep.json").read_text(),  # the notebook's precomputed sweep
        "seeds.json": (SOLUTION_DIR / "seeds" / "seeds.json").read_text(),  # the claims over the course's seeds
        "README.md": readme,
        ".github/workflows/classroom.yml": classroom_workflow(),
        ".gitignore": ".venv/\n__pycache__/\n.pytest_cache/\n.ipynb_checkpoints/\nresults/\n",
    }


def stale_files(files: dict[str, str], target: Path) -> list[str]:
    """Paths that differ from what would be generated, are missing, or should not be there."""
    stale = [rel for rel, text in files.items()
             if not (target / rel).is_file() or (target / rel).read_text() != text]
    present = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()
               and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts}
    return sorted(stale + [p for p in present - set(files)])


def write_release(files: dict[str, str], target: Path) -> list[str]:
    """Write what differs; return the paths written or removed."""
    stale = stale_files(files, target)
    for rel in stale:
        path = target / rel
        if rel in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[rel])
        else:
            path.unlink()
    return stale


def cmd_release(args: argparse.Namespace) -> int:
    target = Path(args.target)
    try:
        files = generate()
        stale_pages = points_pages.stale_pages(REPO_ROOT)
    except (ReleaseError, points_pages.PointsPageError) as err:
        print(f"rnnlab release: {err}", file=sys.stderr)
        return 2
    if args.check:
        stale = stale_files(files, target)
        if stale:
            print(f"rnnlab release --check: {target} is out of sync with solution/; stale files:", file=sys.stderr)
            for rel in stale:
                print(f"  {rel}", file=sys.stderr)
        if stale_pages:
            print("rnnlab release --check: pages whose points differ from rnnlab/tasks.py: "
                  + ", ".join(stale_pages), file=sys.stderr)
        if stale or stale_pages:
            print("Run `rnnlab release` (or `make release`) and commit the result.", file=sys.stderr)
        if old_runs := stale_course_runs():
            print("rnnlab release --check: the course's runs that the release ships no longer match LabConfig:\n  "
                  + "\n  ".join(old_runs) + "\nthen `rnnlab release`, and commit the result.", file=sys.stderr)
        if stale or stale_pages or old_runs:
            return 1
        print(f"{target} is in sync with solution/ ({len(files)} files), the pages' points with rnnlab/tasks.py, "
              "and the course's runs with LabConfig")
        return 0
    changed = write_release(files, target)
    print(f"{target}: {len(changed)} of {len(files)} files updated" + (f" ({', '.join(changed)})" if changed else ""))
    if rewritten := points_pages.write_pages(REPO_ROOT):
        print(f"the points of {', '.join(rewritten)} rewritten from rnnlab/tasks.py")
    if not args.no_autograder:
        from rnnlab import course_secret
        from rnnlab.autograder_build import build_autograder_zip

        key, what = course_secret.ensure(rotate=args.new_secret)
        print(what)
        print(f"wrote {build_autograder_zip(key, allow_unsandboxed=args.allow_unsandboxed)}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("release", help="generate assignment/ (and the otter autograder zip) from solution/",
                       description="Generate the student release from solution/; --check only compares.")
    p.add_argument("--check", action="store_true", help="exit 1 and name the stale files if the release is out of sync")
    p.add_argument("--target", default=str(ASSIGNMENT_DIR), help="release folder (default: assignment/)")
    p.add_argument("--no-autograder", action="store_true", help="skip building autograder/dist/autograder.zip")
    p.add_argument("--new-secret", action="store_true",
                   help="replace autograder/course.secret with a new one (new hidden inputs) before building the zip")
    p.add_argument("--allow-unsandboxed", action="store_true",
                   help="let the zip grade where no sandbox can start (the submission can then read the course "
                        "secret); without it such a grading fails every case and says why")
    p.set_defaults(func=cmd_release)
