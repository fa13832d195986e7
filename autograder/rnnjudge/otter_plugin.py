"""The judge behind otter: ``otter run``, ``otter grade`` and Gradescope grade with the same checks
as ``rnnlab grade``, and otter's kernel never runs submission code.

otter executes a submission and its test files in one kernel, then, in its own process, reads
what the kernel wrote and calls plugins' ``after_grading``. This plugin

* ``before_grading`` (the first moment a plugin runs, before otter itself reads anything a student
  uploaded, such as a ``.OTTER_LOG`` that otter would unpickle): chooses the file to judge
  (``file_to_judge``: the upload's ``rnn_lm.py``, though otter picks a notebook beside it) and
  deletes every file of the submission folder but that file, otter's choice and otter's own tests;
* ``before_execution``: moves those files out of the folder the kernel starts in, empties that
  folder but for otter's test files, and replaces the notebook with a trusted one-liner, so the
  kernel runs only our generated test files, whose cases all fail unless this plugin scores them;
* ``after_grading``: runs the judge on the file to judge (a sandboxed worker loads it: bwrap
  where it works, else the ``nobody`` user inside Docker, with the autograder's files made
  unreadable to it), sets each test case's result and message from the judge's verdicts (or, with
  no file to judge, a status that says what to upload), and puts the files back where otter left
  them (``otter grade`` copies its submission out of the container after the run, and counts the
  submission failed if it is gone).

Where neither sandbox can start, nothing is graded: every case fails with a status that says why,
unless the zip's plugin configuration says ``"allow_unsandboxed": true`` (``rnnlab release
--allow-unsandboxed``), which lets the submission's code read everything the grading process can,
the course secret included.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import nbformat
from otter.plugins import AbstractOtterPlugin
from otter.test_files.abstract_test import TestCaseResult

from . import secret
from .judge import BUILT_AT_RUN_TIME, judge_submission
from .sandbox import TIME_BUDGET_S, Limits, best_mode, bwrap_problem

NOT_JUDGED = "not judged: the rnnjudge otter plugin did not run"
SANDBOX_NOTES = {"user": "graded with the worker as user nobody (no bubblewrap here)",
                 "none": "graded unsandboxed (no bubblewrap, and user nobody cannot run this Python)"}
NO_SANDBOX = ("not graded: no sandbox can start here ({why}; and the user nobody cannot run this Python, or this "
              "process is not root). Unsandboxed, the submission could read the course secret. Grade where "
              "bubblewrap works, or in otter grade's or Gradescope's container as root; to grade unsandboxed "
              "anyway, build the zip with `rnnlab release --allow-unsandboxed`")
CODE_FILE = "rnn_lm.py"
NOTHING_TO_JUDGE = ("not graded: the upload has no rnn_lm.py. Upload your rnn_lm.py (with lab.ipynb beside it if you "
                    "like): the code's points come from rnn_lm.py alone, never from the notebook")


def protect_from_worker(submission_path: Path) -> None:
    """In ``user`` mode: the autograder's folders (its source with the secret and the tests, the
    submission folder with otter's copy of the tests, results, this package) root-only."""
    autograder_dir = submission_path.resolve().parent.parent
    for path in (autograder_dir / "source", autograder_dir / "submission", autograder_dir / "results",
                 Path(__file__).resolve().parent):
        if path.exists():
            os.chmod(path, 0o700)
    metadata = autograder_dir / "submission_metadata.json"  # on Gradescope: the students' names and e-mails
    if metadata.is_file():
        os.chmod(metadata, 0o600)


def file_to_judge(otter_choice: Path) -> Path | None:
    """The file whose code is graded: a regular ``rnn_lm.py`` in the upload (otter picks any notebook
    beside it: a team folder or a GitHub upload holds ``lab.ipynb`` too, and the notebook's code is
    not the lab's code), else otter's choice if it is a Python file (``otter run alice.py``), else
    none (a notebook alone)."""
    named = otter_choice.parent / CODE_FILE
    if named.is_file() and not named.is_symlink():
        return named
    return otter_choice if otter_choice.suffix == ".py" else None


def clear_submission_folder(folder: Path, keep: tuple[Path, ...] = ()) -> None:
    """Delete everything in otter's submission folder but otter's own ``tests`` (just copied from the
    autograder), ``__init__.py`` and ``keep``: a planted ``.OTTER_LOG``, pickle, module (``otter/``,
    ``otter.py``) or folder is gone before otter or its kernel could read it."""
    for entry in folder.iterdir():
        if entry in keep or entry.name in ("tests", "__init__.py") and not entry.is_symlink():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def move_files_away(files: tuple[Path, ...]) -> Path:
    """Move ``files`` (of otter's submission folder, where the kernel starts with the folder first on
    its path) into a private folder of their own, keeping their names, and clear otter's folder."""
    private = Path(tempfile.mkdtemp(prefix="rnnjudge-submission-"))
    for path in files:
        shutil.move(str(path), private / path.name)
    clear_submission_folder(files[0].parent)
    return private


def fail_every_case(results, status: str) -> None:
    for test_file in results.results.values():
        test_file.test_case_results = [TestCaseResult(test_case=case, message=status, passed=False)
                                       for case in test_file.test_cases]
    results.set_output(f"Status: {status}")


class JudgePlugin(AbstractOtterPlugin):

    def before_grading(self, autograder_config):
        """Before otter loads the submission's log or starts its kernel."""
        otter_choice = Path(self.submission_path)
        self.to_judge = file_to_judge(otter_choice)
        self.kept = tuple(dict.fromkeys(p for p in (otter_choice, self.to_judge) if p is not None))
        clear_submission_folder(otter_choice.parent, keep=self.kept)

    def before_execution(self, submission):
        """After otter has read the submission, before its kernel starts."""
        self.private = move_files_away(self.kept)
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            "# The submission is judged by the rnnjudge plugin after this kernel has exited.")])

    def after_grading(self, results):
        config = self.plugin_config or {}
        try:
            if self.to_judge is None:
                fail_every_case(results, NOTHING_TO_JUDGE)
            else:
                self.judge_into(results, config, self.private / self.to_judge.name)
        finally:
            for path in self.kept:
                shutil.copy(self.private / path.name, path)
            shutil.rmtree(self.private, ignore_errors=True)

    def judge_into(self, results, config: dict, judged_path: Path) -> None:
        mode = best_mode()
        if mode == "none" and config.get("allow_unsandboxed") is not True:
            return fail_every_case(results, NO_SANDBOX.format(why=bwrap_problem()))
        if mode == "user":
            protect_from_worker(Path(self.submission_path))
        timeout = float(config.get("timeout", TIME_BUDGET_S))  # the release writes it into the zip
        try:
            key = secret.parse(str(config.get("secret", "")), "the autograder zip's plugin configuration")
            verdict = judge_submission(judged_path, key, mode, Limits(cpu_seconds=int(timeout) + 5), timeout)
        except secret.NoSecret as err:  # a zip built without one: no check can run, and the status says why
            return fail_every_case(results, f"not graded: {err}")
        except Exception as err:  # noqa: BLE001 - the grader's own trouble still gives a results.json
            return fail_every_case(results, f"grader error: {type(err).__name__}: {err}")
        # Only our test files count: one whose cases are not all checks (planted by a submission) is dropped.
        results.results = {name: test_file for name, test_file in results.results.items()
                           if all(case.name in verdict["checks"] for case in test_file.test_cases)}
        for test_file in results.results.values():
            test_file.test_case_results = [
                TestCaseResult(test_case=case, message=verdict["checks"][case.name]["feedback"],
                               passed=verdict["checks"][case.name]["passed"])
                for case in test_file.test_cases]
        problems = list(verdict["problems"]) + ([SANDBOX_NOTES[mode]] if mode in SANDBOX_NOTES else [])
        # Of the judge's notes, only this one concerns the code otter grades (AUTHORS is not read here).
        notes = [note for note in verdict["notes"] if note.startswith(BUILT_AT_RUN_TIME)]
        results.set_output("Status: " + "; ".join([("graded with problems: " + "; ".join(problems) if problems
                                                    else "graded"), *notes]))
