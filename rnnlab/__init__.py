"""Tooling for the RNN-vs-LSTM lab: run the reference experiment, build the release, grade."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTION_DIR = REPO_ROOT / "solution"
ASSIGNMENT_DIR = REPO_ROOT / "assignment"
AUTOGRADER_DIR = REPO_ROOT / "autograder"
