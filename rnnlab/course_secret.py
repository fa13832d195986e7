"""The course secret on the instructor's side: where it lives, how it is made and rotated.

``autograder/course.secret`` (ignored by git, never part of the student release) holds 64 hex
digits. ``rnnlab release`` creates it when it is missing and carries it into ``autograder.zip``;
``rnnlab grade`` reads it (or ``--secret FILE``, or ``$RNNJUDGE_SECRET``). Every hidden input
derives from it (``rnnjudge.secret``).
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnjudge import secret
from rnnlab import AUTOGRADER_DIR

SECRET_PATH = AUTOGRADER_DIR / "course.secret"


def create(path: Path = SECRET_PATH) -> Path:
    """Write a new secret (readable by its owner only), replacing any old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret.new_key() + "\n")
    return path


def ensure(path: Path = SECRET_PATH, rotate: bool = False) -> tuple[bytes, str]:
    """The course secret, created if missing (or replaced with ``rotate``); and what was done."""
    if rotate or not path.exists():
        create(path)
        return secret.read_file(path), f"created a new course secret in {path} (keep it; never commit it)"
    return secret.read_file(path), f"kept the course secret in {path}"


def load(path: Path | None = None) -> bytes:
    """For grading: ``path``, else ``$RNNJUDGE_SECRET``, else ``autograder/course.secret``."""
    return secret.find(path, default=SECRET_PATH)
