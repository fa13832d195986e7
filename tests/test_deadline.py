"""`rnnlab grade --deadline`: each cloned repository graded as its last commit before the deadline,
read with git into the grader's own folder; late commits named; the student's folder untouched."""

import argparse
import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from rnnlab.deadline import deadline_time, stage

DEADLINE = datetime(2026, 12, 4, 23, 59, tzinfo=timezone.utc)


def commit(repository: Path, files: dict[str, str], date: str) -> str:
    for name, text in files.items():
        (repository / name).write_text(text)
    env = {**os.environ, "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@uni.edu", "GIT_COMMITTER_NAME": "Ada",
           "GIT_COMMITTER_EMAIL": "ada@uni.edu", "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", "-C", str(repository), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(repository), "commit", "-qm", "work"], check=True, env=env)
    return subprocess.run(["git", "-C", str(repository), "rev-parse", "HEAD"], check=True, env=env,
                          capture_output=True, text=True).stdout.strip()


def repository(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def test_the_last_commit_before_the_deadline_is_graded_and_later_ones_named(tmp_path):
    ada = repository(tmp_path / "class", "rnn-lab-ada")
    on_time = commit(ada, {"rnn_lm.py": "on time", "lab.ipynb": "{}"}, "2026-12-04T20:00:00+00:00")
    late = commit(ada, {"rnn_lm.py": "late"}, "2026-12-05T09:30:00+00:00")
    staged = stage({"rnn-lab-ada/rnn_lm.py": ada / "rnn_lm.py"}, DEADLINE, tmp_path / "staging")
    path = staged.submissions["rnn-lab-ada/rnn_lm.py"]
    assert path.read_text() == "on time" and (path.parent / "lab.ipynb").read_text() == "{}"
    assert not path.is_relative_to(ada)
    notes = staged.notes["rnn-lab-ada/rnn_lm.py"]
    assert notes[0] == (f"graded as of commit {on_time[:7]} (2026-12-04 20:00 UTC), the last before the deadline "
                        "2026-12-04 23:59 UTC")
    assert notes[1].startswith(f"1 late commit not graded: {late[:7]} (2026-12-05 09:30 UTC) (commit dates are the "
                               "students' own")
    assert (ada / "rnn_lm.py").read_text() == "late", "the student's folder is never checked out over"
    assert subprocess.run(["git", "-C", str(ada), "status", "--porcelain"], capture_output=True,
                          text=True).stdout == ""


def test_a_repository_with_nothing_before_the_deadline_is_not_graded_and_a_plain_folder_is_graded_as_it_is(tmp_path):
    grace = repository(tmp_path / "class", "rnn-lab-grace")
    commit(grace, {"rnn_lm.py": "late"}, "2026-12-06T10:00:00+00:00")
    plain = tmp_path / "class" / "rnn-lab-alan"
    plain.mkdir()
    (plain / "rnn_lm.py").write_text("as it is")
    staged = stage({"rnn-lab-grace/rnn_lm.py": grace / "rnn_lm.py", "rnn-lab-alan/rnn_lm.py": plain / "rnn_lm.py"},
                   DEADLINE, tmp_path / "staging")
    assert staged.not_submitted == {"rnn-lab-grace/rnn_lm.py": "no commit before the deadline 2026-12-04 23:59 UTC "
                                                               "(commit dates are the students' own)"}
    assert staged.submissions == {"rnn-lab-alan/rnn_lm.py": plain / "rnn_lm.py"}
    assert staged.notes["rnn-lab-alan/rnn_lm.py"][0].startswith("not a git repository: graded as it is")


def test_a_deadline_is_an_iso_date_time():
    assert deadline_time("2026-12-05T00:59:00+01:00") == DEADLINE
    assert deadline_time("2026-12-04T23:59").tzinfo is not None  # the grading machine's time zone
    with pytest.raises(argparse.ArgumentTypeError, match="ISO 8601"):
        deadline_time("Friday")
