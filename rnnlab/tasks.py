"""The lab's tasks and their points: defined once, used by the release (GitHub Classroom
workflow, student README) and by the autograder (otter test files, batch grader)."""

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


TASKS = (
    Task(1, "VanillaRNNLM", 20),
    Task(2, "LSTMLM", 15),
    Task(3, "lm_loss", 15),
    Task(4, "evaluate (token-weighted perplexity)", 20),
    Task(5, "l2_grad_norm_recurrent", 10),
    Task(6, "gradient_through_time", 20),
)
TOTAL_POINTS = sum(t.points for t in TASKS)
