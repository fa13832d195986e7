"""The judge behind otter: ``otter run``, ``otter grade`` and Gradescope grade with the same checks
as ``rnnlab grade``, and otter's kernel never runs submission code.

otter executes a submission and its test files in one kernel, then, in its own process, reads
what the kernel wrote and calls plugins' ``after_grading``. This plugin

* ``before_grading`` (the first moment a plugin runs, before otter itself reads anything a student
  uploaded, such as a ``.OTTER_LOG`` that otter would unpickle): deletes every file of the
  submission folder but the submission and otter's own tests;
* ``before_execution``: moves the submission out of the folder the kernel starts in, empties that
  folder but for otter's test files, and replaces the notebook with a trusted one-liner, so the
  kernel runs only our generated test files, whose cases all fail unless this plugin scores them;
* ``after_grading``: runs the judge on the submission file (a sandboxed worker loads it: bwrap
  where it works, else the ``nobody`` user inside Docker, with the autograder's files made
  unreadable to it), sets each test case's result and message from the judge's verdicts, and puts
  the submission back where otter left it (``otter grade`` copies it out of the container after the
  run, and counts the submission failed if it is gone).

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
from .judge import judge_submission
from .sandbox import Limits, best_mode, bwrap_problem

NOT_JUDGED = "not judged: the rnnjudge otter plugin did not run"
SANDBOX_NOTES = {"user": "graded with the worker as user nobody (no bubblewrap here)",
                 "none": "graded unsandboxed (no bubblewrap, and user nobody cannot run this Python)"}
NO_SANDBOX = ("not graded: no sandbox can start here ({why}; and the user nobody cannot run this Python, or this "
              "process is not root). Unsandboxed, the submission could read the course secret. Grade where "
              "bubblewrap works, or in otter grade's or Gradescope's container as root; to grade unsandboxed "
              "anyway, build the zip with `rnnlab release --allow-unsandboxed`")
TIMEOUT = 300.0  # seconds per submission; the zip's otter_config.json may set {"timeout": ...}


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


def clear_submission_folder(folder: Path, keep: Path | None = None) -> None:
    """Delete everything in otter's submission folder but otter's own ``tests`` (just copied from the
    autograder), ``__init__.py`` and ``keep``: a planted ``.OTTER_LOG``, pickle, module (``otter/``,
    ``otter.py``) or folder is gone before otter or its kernel could read it."""
    for entry in folder.iterdir():
        if entry == keep or entry.name in ("tests", "__init__.py") and not entry.is_symlink():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def move_submission_away(submission_path: Path) -> Path:
    """Move the submission out of otter's submission folder, where the kernel starts with the folder
    first on its path, and clear that folder."""
    private = Path(tempfile.mkdtemp(prefix="rnnjudge-submission-"))
    kept = private / submission_path.name
    shutil.move(str(submission_path), kept)
    clear_submission_folder(submission_path.parent)
    return kept


def fail_every_case(results, status: str) -> None:
    for test_file in results.results.values():
        test_file.test_case_results = [TestCaseResult(test_case=case, message=status, passed=False)
                                       for case in test_file.test_cases]
    results.set_output(f"Status: {status}")


class JudgePlugin(AbstractOtterPlugin):

    def before_grading(self, autograder_config):
        """Before otter loads the submission's log or starts its kernel."""
        path = Path(self.submission_path)
        clear_submission_folder(path.parent, keep=path)

    def before_execution(self, submission):
        """After otter has read the submission, before its kernel starts."""
        self.judged_path = move_submission_away(Path(self.submission_path))
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            "# The submission is judged by the rnnjudge plugin after this kernel has exited.")])

    def after_grading(self, results):
        config = self.plugin_config or {}
        try:
            self.judge_into(results, config)
        finally:
            shutil.copy(self.judged_path, self.submission_path)
            shutil.rmtree(self.judged_path.parent, ignore_errors=True)

    def judge_into(self, results, config: dict) -> None:
        mode = best_mode()
        if mode == "none" and config.get("allow_unsandboxed") is not True:
            return fail_every_case(results, NO_SANDBOX.format(why=bwrap_problem()))
        if mode == "user":
            protect_from_worker(Path(self.submission_path))
        timeout = float(config.get("timeout", TIMEOUT))
        try:
            key = secret.parse(str(config.get("secret", "")), "the autograder zip's plugin configuration")
            verdict = judge_submission(self.judged_path, key, mode, Limits(cpu_seconds=int(timeout) + 5), timeout)
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
        results.set_output("Status: " + ("graded with problems: " + "; ".join(problems) if problems else "graded"))
