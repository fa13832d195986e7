"""Readies otter's grading container (``otter grade``'s image, Gradescope's) for the judge.

The zip's ``run_autograder`` runs this as root, before otter starts, in every grading container:

    python -m rnnjudge.container /autograder

* ``submission_metadata.json``: otter grade's image holds an empty one, and otter's runner
  ``json.load``s it whenever the zip configures a plugin; an empty or missing file becomes ``{}``
  (Gradescope writes a real one, which is left as it is).
* The Python environment: otter's ``setup.sh`` installs it under ``/root`` (mode 700 on Ubuntu and
  Debian), where the unprivileged user the worker runs as (``nobody``) cannot reach its interpreter,
  so no sandbox could be had. Each folder above the environment gets the search bit for others
  (``o+x``: enter a named path, not list the folder); nothing in those folders becomes more readable
  than it was. The autograder's own files are made unreadable to the worker by the plugin
  (``otter_plugin.protect_from_worker``), just before it starts one.
* The folders every user may write (``SHARED_WRITABLE``: /tmp, /var/tmp, /dev/shm, ...) are closed
  to others (``o-w``) for the container's life, one grading: the worker, as ``nobody``, then writes
  only its own scratch folder, on /dev/shm's tmpfs (``sandbox.make_scratch``), capped at its size and
  removed after it. otter and the judge run as root, which the closed folders do not stop.
* The upload: beside a regular ``rnn_lm.py`` (a team folder, a GitHub upload), every other
  top-level notebook and Python file is deleted. Only the code is graded on this route, from
  ``rnn_lm.py``; otter's runner would otherwise choose the notebook, and stop before any plugin
  runs on a notebook that is not valid JSON (a merge conflict) or on two notebooks, or on two Python
  files (``lab_support.py``) without a notebook. The plugin deletes the rest of the folder anyway.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

# The folders a Linux system (and Docker) lets every user write: uncapped, on the container's disk
# (but /dev/shm), and left as they are after grading.
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock", "/var/lock")


def ensure_metadata(autograder_dir: Path) -> None:
    path = autograder_dir / "submission_metadata.json"
    if not path.is_file() or not path.read_text(encoding="utf-8", errors="replace").strip():
        path.write_text("{}\n", encoding="utf-8")


def folders_above(path: Path) -> list[Path]:
    """``path``'s folders from ``/`` down to and including ``path`` itself."""
    path = Path(os.path.realpath(path))
    return [*reversed(path.parents), path]


def open_path_to(path: Path) -> list[Path]:
    """Give others the search bit on every folder leading to ``path``; returns the folders changed."""
    changed = []
    for folder in folders_above(path):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
            changed.append(folder)
    return changed


def leave_only_the_code(submission_dir: Path) -> list[str]:
    """Beside a regular ``rnn_lm.py``, delete the other top-level ``.ipynb`` and ``.py`` files
    (``__init__.py`` is otter's); returns their names."""
    code = submission_dir / "rnn_lm.py"
    if not code.is_file() or code.is_symlink():
        return []
    others = sorted(p for p in submission_dir.iterdir() if p.suffix in (".ipynb", ".py") and p != code
                    and p.name != "__init__.py" and (p.is_symlink() or p.is_file()))
    for path in others:
        path.unlink()
    return [p.name for p in others]


def close_shared_folders(folders=SHARED_WRITABLE) -> list[str]:
    """Take the write bit for others off each of ``folders`` that has it; returns those changed."""
    closed = []
    for folder in map(Path, folders):
        if folder.is_dir() and not folder.is_symlink() and (mode := folder.stat().st_mode) & stat.S_IWOTH:
            try:
                folder.chmod(stat.S_IMODE(mode) & ~stat.S_IWOTH)
            except OSError as err:  # a read-only mount, say: grading goes on, and the log says what stayed open
                print(f"rnnjudge: {folder} stays open to the worker ({err.strerror})")
                continue
            closed.append(str(folder))
    return closed


def prepare(autograder_dir: Path) -> list[Path]:
    ensure_metadata(autograder_dir)
    closed = close_shared_folders()
    if closed:
        print("rnnjudge: closed to the sandboxed worker (o-w):", ", ".join(closed))
    left_out = leave_only_the_code(autograder_dir / "submission")
    if left_out:
        print("rnnjudge: graded from rnn_lm.py; not read:", ", ".join(left_out))
    return [*open_path_to(Path(sys.prefix)), *open_path_to(Path(os.path.realpath(sys.executable)).parent)]


if __name__ == "__main__":
    opened = prepare(Path(sys.argv[1] if len(sys.argv) > 1 else "/autograder"))
    if opened:
        print("rnnjudge: folders opened (o+x) for the sandboxed worker's Python:", ", ".join(map(str, opened)))
