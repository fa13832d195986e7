"""The output folder of ``rnnlab grade``, replaced whole by each grading.

A grading writes into a new hidden sibling of ``--out`` and, once every output is written, swaps it
in: no file of an earlier grading is left beside the new ones (a team gone from the class, a
gradebook file no longer needed), and until the new outputs are complete the earlier ones stay as
they were. One file is carried over: the TA's ``manual_scores.csv``, which may hold points typed by
hand and which a grading never overwrites.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rnnlab.manual_scores import SHEET_NAME

# What a grading writes (and a TA adds: the PDFs printed from the answers pages); anything else in
# --out is someone's own file, which replacing the folder would delete.
CLASS_FILES = ("final_grades.csv", "score_distribution.png", "report.html", "class_summary.csv", "similarity.csv",
               "answers.html", SHEET_NAME, "answers.pdf", "gradebook_*.csv")
TEAM_FILES = ("results.json", "feedback.txt", "log.txt", "answers.html", "answers.pdf")
TEAMS_FOLDER = "teams"  # the per-team outputs, apart from the class's own files whatever a team is called


def is_team_folder(folder: Path) -> bool:
    return folder.is_dir() and all(f.is_file() and f.name in TEAM_FILES for f in folder.iterdir())


def foreign_entries(out: Path) -> list[str]:
    """What in ``out`` no grading wrote. A team's folder of the layout before ``teams/`` counts as written."""
    foreign = []
    for entry in sorted(out.iterdir()):
        if entry.is_file() and any(fnmatch.fnmatch(entry.name, pattern) for pattern in CLASS_FILES):
            continue
        if entry.name == TEAMS_FOLDER and entry.is_dir():
            foreign += [f"{TEAMS_FOLDER}/{team.name}" for team in sorted(entry.iterdir()) if not is_team_folder(team)]
        elif not is_team_folder(entry):
            foreign.append(entry.name)
    return foreign


def refusal(out: Path) -> str | None:
    """Why ``out`` must not be replaced whole, or None: it is not a folder, or it holds what no grading
    wrote (``--out .`` by mistake, a folder of submissions)."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file, not a folder"
    if out.is_dir() and (foreign := foreign_entries(out)):
        return (f"--out {out} holds what no grading wrote ({', '.join(foreign[:5])}), and a grading replaces its "
                "output folder whole: move those away, or give a new or empty folder")
    return None


@contextmanager
def replacing(out: Path) -> Iterator[Path]:
    """Yields an empty folder beside ``out`` (holding only the TA's sheet of the earlier grading) to write
    the outputs into; when the block ends without an error, that folder becomes ``out`` and the earlier
    one is removed. On an error, the new folder is removed and ``out`` is left as it was."""
    out = Path(os.path.abspath(out))  # `--out .` too has a name and a parent to put the new folder in
    out.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{out.name}.grading-", dir=out.parent))
    umask = os.umask(0o022)
    os.umask(umask)
    new.chmod(0o777 & ~umask)  # as a folder made by mkdir: mkdtemp's are private to their owner
    try:
        if (out / SHEET_NAME).is_file():
            shutil.copy2(out / SHEET_NAME, new / SHEET_NAME)
        yield new
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    earlier = out.with_name(f".{out.name}.replaced-{uuid.uuid4().hex[:8]}") if out.exists() else None
    if earlier is not None:
        out.rename(earlier)
    try:
        new.rename(out)
    except OSError:
        if earlier is not None:
            earlier.rename(out)
        raise
    if earlier is not None:
        shutil.rmtree(earlier)
