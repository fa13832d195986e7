"""The output folder of ``rnnlab grade``, replaced whole by each grading.

A grading writes into a new hidden sibling of ``--out`` and, once every output is written, swaps it
in: no file of an earlier grading is left beside the new ones (a team gone from the class, a
gradebook file no longer needed), and until the new outputs are complete the earlier ones stay as
they were. One file is carried over: the TA's ``manual_scores.csv``, which may hold points typed by
hand and which a grading never overwrites.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rnnlab.manual_scores import SHEET_NAME

GRADING_MARK = "final_grades.csv"  # every grading writes it: a folder holding it is a grading's outputs


def refusal(out: Path, inputs: Iterable[Path]) -> str | None:
    """Why ``out`` must not be replaced whole, or None: it is not a folder, it holds files that are not
    a grading's outputs (``--out .`` by mistake), or it holds a submission."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file, not a folder"
    if out.is_dir() and any(out.iterdir()) and not (out / GRADING_MARK).is_file():
        return (f"--out {out} holds files that are not the outputs of an earlier grading (no {GRADING_MARK}), and "
                "a grading replaces its output folder whole: give a new or empty folder")
    where = Path(os.path.abspath(out))
    inside = [p for p in inputs if Path(os.path.abspath(p)).is_relative_to(where)]
    if inside:
        return f"--out {out} holds the submission {inside[0]}, and a grading replaces its output folder whole"
    return None


@contextmanager
def replacing(out: Path) -> Iterator[Path]:
    """Yields an empty folder beside ``out`` (holding only the TA's sheet of the earlier grading) to write
    the outputs into; when the block ends without an error, that folder becomes ``out`` and the earlier
    one is removed. On an error, the new folder is removed and ``out`` is left as it was."""
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
