"""``rnnlab grade --deadline``: each cloned repository graded as its last commit before the deadline.

A team folder that is a git repository (``gh classroom clone`` makes one per team) is graded as its
last commit (reachable from ``HEAD``) whose committer date is at or before the deadline: its
``rnn_lm.py`` and ``lab.ipynb`` are read from that commit with ``git cat-file`` into a folder of the
grader's own, so the student's folder is never checked out over or changed. The commits after the
deadline are named in the row's status. Commit dates are what the students' machines (or the
students) wrote, not when GitHub received a push: the status says so, and a TA who doubts a date
checks it against the repository's push times on GitHub.

A folder that is not a git repository, or a single file, is graded as it is, and its status says so.
A repository with no commit before the deadline, or none holding ``rnn_lm.py``, is not graded.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rnnlab.class_report import plural
from rnnlab.notebook import NOTEBOOK_NAME

CODE_NAME = "rnn_lm.py"
SYMLINK_MODE = "120000"  # git's mode for a symbolic link: staged as one, so the judge refuses it as usual


def deadline_time(text: str) -> datetime:
    """``--deadline``: an ISO 8601 date-time; one without a time zone is the grading machine's local time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r} (e.g. 2026-12-04T23:59:00+01:00)")
    return moment if moment.tzinfo else moment.astimezone()


@dataclass
class AtDeadline:
    submissions: dict[str, Path]  # what to grade: a repository's files as of its commit, the rest as given
    notes: dict[str, list[str]] = field(default_factory=dict)  # submission -> what its status says of the deadline
    not_submitted: dict[str, str] = field(default_factory=dict)  # submission -> why there is nothing to grade


class GitError(RuntimeError):
    pass


def git(repository: Path, *args: str) -> bytes:
    proc = subprocess.run(["git", "-C", str(repository), *args], capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise GitError(proc.stderr.decode(errors="replace").strip()[:300])
    return proc.stdout


def commits(repository: Path) -> list[tuple[str, datetime]]:
    """Every commit reachable from HEAD with its committer date, newest first as git lists them."""
    lines = git(repository, "log", "--format=%H %ct", "HEAD").decode().split()
    return [(sha, datetime.fromtimestamp(int(stamp), timezone.utc)) for sha, stamp in zip(lines[::2], lines[1::2])]


def stage_file(repository: Path, commit: str, name: str, into: Path) -> bool:
    """Copies ``name`` as of ``commit`` into the folder ``into``; False when the commit has no such file."""
    entry = git(repository, "ls-tree", commit, "--", name).decode().split()
    if not entry:
        return False
    mode, _, blob = entry[:3]
    content = git(repository, "cat-file", "blob", blob)
    if mode == SYMLINK_MODE:
        os.symlink(content.decode(errors="replace"), into / name)
    else:
        (into / name).write_bytes(content)
    return True


def when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def stage(submissions: dict[str, Path], deadline: datetime, staging: Path) -> AtDeadline:
    """Each team folder that is a git repository, as of its last commit before ``deadline``, copied
    under ``staging``; every other submission as given."""
    result = AtDeadline({})
    for name, path in submissions.items():
        repository = path.parent
        if "/" not in name or not (repository / ".git").exists():
            result.submissions[name] = path
            result.notes[name] = [f"not a git repository: graded as it is, not as of the deadline {when(deadline)}"]
            continue
        try:
            history = commits(repository)
            on_time = [(sha, at) for sha, at in history if at <= deadline]
            late = [(sha, at) for sha, at in history if at > deadline]
            if not on_time:
                result.not_submitted[name] = f"no commit before the deadline {when(deadline)} (commit dates are the students' own)"
                continue
            graded, graded_at = max(on_time, key=lambda c: c[1])
            copy = staging / name.split("/")[0]
            copy.mkdir(parents=True)
            if not stage_file(repository, graded, CODE_NAME, copy):
                result.not_submitted[name] = f"no {CODE_NAME} in commit {graded[:7]}, the last before the deadline"
                continue
            stage_file(repository, graded, NOTEBOOK_NAME, copy)
        except (GitError, subprocess.TimeoutExpired, OSError) as err:
            result.submissions[name] = path
            result.notes[name] = [f"git could not read this repository ({err}): graded as it is, not as of the deadline"]
            continue
        result.submissions[name] = copy / CODE_NAME
        notes = [f"graded as of commit {graded[:7]} ({when(graded_at)}), the last before the deadline {when(deadline)}"]
        if late:
            shown = ", ".join(f"{sha[:7]} ({when(at)})" for sha, at in late[:5]) + (", ..." if len(late) > 5 else "")
            notes.append(f"{plural(len(late), 'late commit')} not graded: {shown} (commit dates are the students' own: check "
                         "doubtful ones against the repository's push times on GitHub)")
        result.notes[name] = notes
    return result
