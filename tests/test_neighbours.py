"""A grading run's cgroups: each submission is held, with every process it starts, to one core, to
--memory-mb and to a process count (where the grader can make cgroups); what a judge's clean-up
could not release, the end of its run removes. A class with the neighbours that try to slow the
others down is graded in test_class_under_attack."""

import subprocess

import pytest

from conftest import RUNS_THE_JUDGE
from rnnjudge.sandbox import RUN_VARIABLE, ProcessGroup, cgroups_of_run, missing_limits, remove_cgroups_of_run

pytestmark = RUNS_THE_JUDGE


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
