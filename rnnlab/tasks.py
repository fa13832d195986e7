"""The lab's graded parts and their points, defined once and used everywhere: the release (GitHub
Classroom workflow, student README, notebook), the autograder (otter test files, batch grader) and
the TA's sheets (answers sheet, manual scores, gradebook).

A grade has three parts:

- the code: ``TASKS``, the hidden checks of ``rnn_lm.py`` (``TOTAL_POINTS``, 100, as before the
  notebook was graded: the Classroom workflow and the otter zip report exactly these);
- the notebook: ``NOTEBOOK_CHECKS``, read from the saved ``lab.ipynb`` without running it;
- the discussion answers: ``QUESTIONS``, scored by a TA in ``manual_scores.csv``.

``GRADE_POINTS`` is the whole: what ``percent_correct`` and the gradebook are out of.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    number: int
    title: str
    points: int

    @property
    def key(self) -> str:
        """File and column name: task1, task2, ..."""
        return f"task{self.number}"


@dataclass(frozen=True)
class NotebookCheck:
    key: str
    title: str  # the condition, as the student reads it: "2 points if <title>"
    points: int


@dataclass(frozen=True)
class Question:
    number: int
    points: int

    @property
    def key(self) -> str:
        """Column name in manual_scores.csv and final_grades.csv: q1, q2, ..."""
        return f"q{self.number}"

    @property
    def label(self) -> str:
        return f"Q{self.number}"


TASKS = (
    Task(1, "VanillaRNNLM", 20),
    Task(2, "LSTMLM", 15),
    Task(3, "lm_loss", 15),
    Task(4, "evaluate (token-weighted perplexity)", 20),
    Task(5, "l2_grad_norm_recurrent", 10),
    Task(6, "gradient_through_time", 20),
)
TOTAL_POINTS = sum(t.points for t in TASKS)  # the code's points: what the hidden checks decide

NOTEBOOK_CHECKS = (
    NotebookCheck("ran_in_order", "it was run top to bottom (execution counts in order, no code cell left unrun "
                                  "before the last run one)", 2),
    NotebookCheck("no_errors", "it was run and no cell stored an error", 1),
    NotebookCheck("claims_printed", "the experiment ran and printed its claims and its results table (every model)", 2),
)
NOTEBOOK_POINTS = sum(c.points for c in NOTEBOOK_CHECKS)

QUESTIONS = tuple(Question(n, 5) for n in range(1, 7))
ANSWER_POINTS = sum(q.points for q in QUESTIONS)

GRADE_POINTS = TOTAL_POINTS + NOTEBOOK_POINTS + ANSWER_POINTS
