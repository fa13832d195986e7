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
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path


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


def prepare(autograder_dir: Path) -> list[Path]:
    ensure_metadata(autograder_dir)
    return [*open_path_to(Path(sys.prefix)), *open_path_to(Path(os.path.realpath(sys.executable)).parent)]


if __name__ == "__main__":
    opened = prepare(Path(sys.argv[1] if len(sys.argv) > 1 else "/autograder"))
    if opened:
        print("rnnjudge: folders opened (o+x) for the sandboxed worker's Python:", ", ".join(map(str, opened)))
