"""The judge behind otter: ``otter run``, ``otter grade`` and Gradescope grade with the same checks
as ``rnnlab grade``, and otter's kernel never runs submission code.

otter executes a submission and its test files in one kernel, then, in its own process, reads
what the kernel wrote and calls plugins' ``after_grading``. This plugin

* ``before_execution``: replaces the submission with a trusted one-line notebook, so the kernel
  runs only our generated test files, whose cases all fail unless this plugin scores them;
* ``after_grading``: runs the judge on the submission file (a sandboxed worker loads it: bwrap
  where it works, else the ``nobody`` user inside Docker, with the autograder's files made
  unreadable to it), and sets each test case's result and message from the judge's verdicts.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from otter.plugins import AbstractOtterPlugin
from otter.test_files.abstract_test import TestCaseResult

from .judge import judge_submission
from .sandbox import Limits, best_mode

NOT_JUDGED = "not judged: the rnnjudge otter plugin did not run"
TIMEOUT = 300.0  # seconds per submission; the zip's otter_config.json may set {"timeout": ...}


def protect_from_worker(submission_path: Path) -> None:
    """In ``user`` mode: the autograder's folders (tests, this package, results) root-only."""
    autograder_dir = submission_path.resolve().parent.parent
    for path in (autograder_dir / "source", autograder_dir / "results", Path(__file__).resolve().parent):
        if path.exists():
            os.chmod(path, 0o700)


class JudgePlugin(AbstractOtterPlugin):

    def before_execution(self, submission):
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            "# The submission is judged by the rnnjudge plugin after this kernel has exited.")])

    def after_grading(self, results):
        mode = best_mode()
        if mode == "user":
            protect_from_worker(Path(self.submission_path))
        timeout = float((self.plugin_config or {}).get("timeout", TIMEOUT))
        verdict = judge_submission(Path(self.submission_path), mode, Limits(cpu_seconds=int(timeout) + 5), timeout)
        for test_file in results.results.values():
            test_file.test_case_results = [
                TestCaseResult(test_case=case, message=verdict["checks"][case.name]["feedback"],
                               passed=verdict["checks"][case.name]["passed"])
                for case in test_file.test_cases]
        problems = list(verdict["problems"]) + ([] if mode == "bwrap" else [f"worker sandbox: {mode}"])
        results.set_output("Status: " + ("graded with problems: " + "; ".join(problems) if problems else "graded"))
