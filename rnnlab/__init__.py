"""Tooling for the RNN-vs-LSTM lab: run the reference experiment, build the release, grade."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTION_DIR = REPO_ROOT / "solution"
ASSIGNMENT_DIR = REPO_ROOT / "assignment"
AUTOGRADER_DIR = REPO_ROOT / "autograder"

# What the release declares for students and what the autograder's image installs: one place for both.
TORCH_REQUIREMENT = "torch>=2.2,<2.14"
DATASETS_REQUIREMENT = "datasets>=2.14"  # only for the optional WikiText-2 download
PYTHON_VERSION = "3.11"
