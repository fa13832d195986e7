"""Shared fixtures: the reference modules are imported from solution/."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WIKITEXT = REPO / "tests" / "data" / "wikitext-2"
sys.path.insert(0, str(REPO / "solution"))


@pytest.fixture(scope="session")
def wikitext_dir() -> Path:
    """Real WikiText-2 text shipped with the repository: test.txt's first 2000 lines, valid.txt's first 500."""
    if not (WIKITEXT / "test.txt").is_file() or not (WIKITEXT / "valid.txt").is_file():
        pytest.fail(f"{WIKITEXT} should hold test.txt and valid.txt (see its README.md): restore them from git.")
    return WIKITEXT
