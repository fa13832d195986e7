"""Shared fixtures: the reference modules are imported from solution/."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_WIKITEXT = REPO.parent / "shared" / "data" / "wikitext-2"
sys.path.insert(0, str(REPO / "solution"))


@pytest.fixture(scope="session")
def wikitext_dir() -> Path:
    """The real WikiText-2 text that developer machines and CI have beside the repo."""
    if not (SHARED_WIKITEXT / "valid.txt").is_file():
        pytest.fail(f"{SHARED_WIKITEXT} is missing: this integration test needs the shared WikiText-2 "
                    "text (see ../shared/data/README.md); it is present on developer machines and in CI.")
    return SHARED_WIKITEXT
