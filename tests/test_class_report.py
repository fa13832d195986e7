"""The class report (rnnlab.class_report) and its copy detection (rnnlab.similarity).

Grades are built here (``FakeGrade`` has the attributes the report reads); the submissions are
real files made from tests/submission_bank.py, the teams' notebooks real ones as students save them
(tests/student_notebooks.py), read by rnnlab.notebook.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rnnlab import class_report, similarity
from rnnlab.class_report import add_report_arguments, message_key, write_class_report
from rnnlab.notebook import READ, NotebookReport, missing, read_notebook
from rnnlab.tasks import GRADE_POINTS, NOTEBOOK_CHECKS, QUESTIONS, TASKS
from submission_bank import BUGGY, CORRECT, SOLUTION, apply_edits

# ----------------------------------------------------------------------------
# Grades and submissions
# ----------------------------------------------------------------------------

CHECKS = {  # name -> (task, description)
    "task3_reference": (3, "lm_loss: matches a float64 reference (mean and sum, random shapes, padding)"),
    "task4_token_weighted": (4, "evaluate: token-weighted mean loss and exp perplexity over uneven batches"),
    "task4_no_side_effects": (4, "evaluate: no autograd graph; parameters, gradients and mode untouched"),
    "task5_reference": (5, "l2_grad_norm_recurrent: sqrt of summed squares over weight_hh* gradients only"),
}


@dataclass
class FakeGrade:
    """What the report reads of ``rnnlab.grade.Grade``."""

    file: str
    task_points: dict[str, float] = field(default_factory=lambda: {t.key: float(t.points) for t in TASKS})
    status: str = "graded"
    checks: dict = field(default_factory=dict)
    authors: list[str] = field(default_factory=list)
    notebook: NotebookReport = field(default_factory=lambda: missing("not read"))
    manual: dict[str, float | None] = field(default_factory=lambda: {q.key: None for q in QUESTIONS})

    @property
    def total(self) -> float:
        return round(sum(self.task_points.values()), 4)


def make_grade(file: str, failures: dict[str, str] | None = None, status: str = "graded",
               checks: tuple[str, ...] = tuple(CHECKS)) -> FakeGrade:
    """A graded submission that has ``checks`` and fails those in ``failures`` (name -> message);
    task points by otter's rule (a task's points split equally among its checks)."""
    failures = failures or {}
    grade = FakeGrade(file, status=status)
    for name in checks:
        task, description = CHECKS[name]
        grade.checks[name] = {"task": task, "passed": name not in failures, "description": description,
                              "message": failures.get(name, ""), "feedback": ""}
    for t in TASKS:
        mine = [c for c in grade.checks.values() if c["task"] == t.number]
        if mine:
            grade.task_points[t.key] = round(t.points * sum(c["passed"] for c in mine) / len(mine), 4)
    return grade


RENAMES = {"total_loss": "loss_sum", "total_tokens": "n_tok", "states": "hidden_seq", "h": "state",
           "e": "embedded", "hs": "stacked", "captured": "grabbed", "handle": "hook_handle", "norms": "dist_norms",
           "total": "acc", "V": "vocab", "mean_loss": "avg_loss", "was_training": "prev_mode", "grad_e": "g_emb",
           "last_loss": "final_loss", "out": "outputs"}
INDEPENDENT_LINE_SWAPS = [  # (lines, the same lines in another order)
    ("    model.eval()\n    total_loss, total_tokens = 0.0, 0\n",
     "    total_loss, total_tokens = 0.0, 0\n    model.eval()\n"),
    ("        self.hidden_dim = hidden_dim\n        self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)\n"
     "        self.lstm",
     "        self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)\n        self.hidden_dim = hidden_dim\n"
     "        self.lstm"),
]


def disguise(src: str, suffix: str = "") -> str:
    """A copy as a student would hide it: independent lines swapped, trailing comments removed, a
    comment added, local variables renamed (to RENAMES' names, plus ``suffix``)."""
    for lines, swapped in INDEPENDENT_LINE_SWAPS:
        src = src.replace(lines, swapped, 1)
    src = re.sub(r"  # [^\n]*", "", src)
    src = src.replace("    modes = [(module, module.training) for module in model.modules()]\n",
                      "    # remember the modes\n    modes = [(module, module.training) for module in model.modules()]\n")
    for old, new in RENAMES.items():
        src = re.sub(rf"(?<![.\w]){re.escape(old)}\b(?!=)", new + suffix, src)  # not keyword arguments
    return src


def replace_tasks(bodies: dict[str, str]) -> str:
    """The solution with each task region (BEGIN/END SOLUTION) replaced by another body."""
    src = SOLUTION
    for block, label in re.findall(r"( *# BEGIN SOLUTION (Task \d: implement [\w.]+)\n.*?# END SOLUTION\n)", src, re.S):
        indent = re.match(r" *", block).group()
        src = src.replace(block, "".join(f"{indent}{line}\n" if line else "\n" for line in bodies[label].split("\n")))
    return src


# Two implementations written independently, in styles other than the solution's.
STUDENT_X = {
    "Task 1: implement VanillaRNNLM.__init__": """self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
self.rnn_cell = nn.RNNCell(emb_dim, hidden_dim)
self.hidden_dim = hidden_dim
self.fc = nn.Linear(hidden_dim, vocab_size)""",
    "Task 1: implement VanillaRNNLM.forward": """batch, steps = x.size(0), x.size(1)
if h0 is None:
    h0 = torch.zeros(batch, self.hidden_dim, device=x.device)
hidden = h0
outputs = []
embedded = self.emb(x)
for step in range(steps):
    hidden = self.rnn_cell(embedded[:, step, :], hidden)
    outputs.append(self.fc(hidden).unsqueeze(1))
return torch.cat(outputs, dim=1), hidden""",
    "Task 2: implement LSTMLM.__init__": """self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
self.lstm = nn.LSTM(input_size=emb_dim, hidden_size=hidden_dim, num_layers=1, batch_first=True)
self.fc = nn.Linear(hidden_dim, vocab_size)
self.hidden_dim = hidden_dim""",
    "Task 2: implement LSTMLM.forward": """embedded = self.emb(x)
if state is None:
    output, new_state = self.lstm(embedded)
else:
    output, new_state = self.lstm(embedded, state)
logits = self.fc(output)
return logits, new_state""",
    "Task 3: implement lm_loss": """log_probs = torch.log_softmax(logits, dim=2)
picked = log_probs.gather(2, targets.clamp(min=0).unsqueeze(2)).squeeze(2)
mask = (targets != ignore_index).float()
total = -(picked * mask).sum()
if reduction == "sum":
    return total
return total / mask.sum().clamp(min=1)""",
    "Task 4: implement evaluate": """mode = model.training
model.eval()
loss_sum = 0.0
count = 0
with torch.no_grad():
    for inputs, targets in data_loader:
        scores, _ = model(inputs)
        n_real = (targets != pad_id).sum().item()
        loss_sum += lm_loss(scores, targets, ignore_index=pad_id, reduction="sum").item()
        count += n_real
if mode:
    model.train()
if count == 0:
    raise ValueError("no tokens")
avg = loss_sum / count
return avg, math.exp(avg)""",
    "Task 5: implement l2_grad_norm_recurrent": """squares = [p.grad.pow(2).sum() for n, p in model.named_parameters()
           if "weight_hh" in n and p.grad is not None]
if not squares:
    return 0.0
return float(torch.stack(squares).sum().sqrt())""",
    "Task 6: implement gradient_through_time": """store = {}
def hook(module, inp, out):
    store["e"] = out
h = model.emb.register_forward_hook(hook)
logits, _ = model(x)
h.remove()
emb_out = store["e"]
loss_last = lm_loss(logits[:, -1:, :], y[:, -1:], ignore_index=pad_id)
grads = torch.autograd.grad(loss_last, emb_out)[0]
per_step = grads.norm(dim=2).norm(dim=0)
return torch.flip(per_step, dims=[0]).detach()""",
}
STUDENT_Y = {
    "Task 1: implement VanillaRNNLM.__init__": """self.hidden_dim = hidden_dim
self.fc = nn.Linear(hidden_dim, vocab_size)
self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
self.rnn_cell = nn.RNNCell(emb_dim, hidden_dim, nonlinearity="tanh")""",
    "Task 1: implement VanillaRNNLM.forward": """emb = self.emb(x)
h = h0 if h0 is not None else torch.zeros(x.shape[0], self.hidden_dim)
hiddens = []
for t in range(x.shape[1]):
    h = self.rnn_cell(emb[:, t], h)
    hiddens += [h]
logits = self.fc(torch.stack(hiddens, 1))
return logits, h""",
    "Task 2: implement LSTMLM.__init__": """self.hidden_dim = hidden_dim
self.fc = nn.Linear(hidden_dim, vocab_size)
self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)""",
    "Task 2: implement LSTMLM.forward": """out, hc = self.lstm(self.emb(x), state)
return self.fc(out), hc""",
    "Task 3: implement lm_loss": """flat_logits = logits.view(-1, logits.shape[-1])
flat_targets = targets.view(-1)
return F.cross_entropy(flat_logits, flat_targets, ignore_index=ignore_index, reduction=reduction)""",
    "Task 4: implement evaluate": """training = model.training
model.eval()
sums, counts = [], []
with torch.no_grad():
    for batch_x, batch_y in data_loader:
        out, _ = model(batch_x)
        sums.append(lm_loss(out, batch_y, ignore_index=pad_id, reduction="sum").item())
        counts.append((batch_y != pad_id).sum().item())
model.train(training)
mean = sum(sums) / sum(counts)
return mean, math.exp(mean)""",
    "Task 5: implement l2_grad_norm_recurrent": """sq = 0.0
for name, param in model.named_parameters():
    if "weight_hh" not in name or param.grad is None:
        continue
    sq += float((param.grad ** 2).sum())
return sq ** 0.5""",
    "Task 6: implement gradient_through_time": """outs = []
hook = model.emb.register_forward_hook(lambda m, i, o: outs.append(o))
logits, _ = model(x)
hook.remove()
loss = lm_loss(logits[:, -1:], y[:, -1:], ignore_index=pad_id)
g = torch.autograd.grad(loss, outs[0])[0]
norms = torch.sqrt((g ** 2).sum(dim=2).sum(dim=0))
return torch.flip(norms, [0])""",
}


def write_submissions(folder: Path, codes: dict[str, str | bytes]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sources = {}
    for name, code in codes.items():
        path = folder / name
        path.write_bytes(code if isinstance(code, bytes) else code.encode())
        sources[name] = path
    return sources


def bank_codes() -> dict[str, str]:
    """The bank: the solution, the correct alternatives, the buggy variants and a disguised copy of each."""
    codes = {"solution.py": SOLUTION}
    codes.update({f"correct_{name}.py": apply_edits(edits) for name, edits in CORRECT.items()})
    for name, (_, edits) in BUGGY.items():
        codes[f"{name}.py"] = apply_edits(edits)
        codes[f"{name}_copy.py"] = disguise(apply_edits(edits))
    return codes


# ----------------------------------------------------------------------------
# Reading the report
# ----------------------------------------------------------------------------

class PageParser(HTMLParser):
    """The tags of a page, and each table's rows (cell texts) under the id of the section's heading."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.section = ""
        self.cell: list[str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "h2":
            self.section = attrs.get("id", "")
        elif tag == "tr":
            self.tables.setdefault(self.section, []).append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[self.section][-1].append(" ".join(" ".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self.cell is not None:
            self.cell.append(data)


@dataclass
class Report:
    html: str
    page: PageParser
    summary: list[dict]
    pairs: list[dict]

    def flagged(self) -> set[frozenset]:
        return {frozenset((row["file_a"], row["file_b"])) for row in self.pairs}


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def make_report(out: Path, grades: list, sources: dict[str, Path],
                threshold: float | None = similarity.DEFAULT_THRESHOLD) -> Report:
    write_class_report(grades, sources, out, threshold)
    html = (out / "report.html").read_text(encoding="utf-8")
    page = PageParser()
    page.feed(html)
    return Report(html, page, read_csv(out / "class_summary.csv"), read_csv(out / "similarity.csv"))


def graded(codes: dict) -> list[FakeGrade]:
    return [make_grade(name) for name in codes]


# ----------------------------------------------------------------------------
# Checks, messages, statuses
# ----------------------------------------------------------------------------

def loss_message(got: float, want: float) -> str:
    return f"pad_id=0: mean loss {got}, expected {want} = total loss over all non-pad targets / their number"


def test_checks_ranked_by_failures_with_grouped_messages(tmp_path):
    grades = [
        make_grade("a.py", {"task4_token_weighted": loss_message(2.71828, 2.5), "task3_reference": "got 1.0"}),
        make_grade("b.py", {"task4_token_weighted": loss_message(4.06339, 3.8892)}),
        make_grade("c.py", {"task4_token_weighted": loss_message(1.5e-3, 2.0)}),
        make_grade("d.py", {"task4_token_weighted": "perplexity 14.8, expected exp(mean loss) = 48.9 (base 2?)",
                            "task3_reference": "got 3.5"}),
        make_grade("e.py", {"task5_reference": "got 3.55, expected 13.19"},
                   checks=("task4_token_weighted", "task5_reference")),
        make_grade("f.py", {"task5_reference": "got 22.7, expected 13.19"},
                   checks=("task4_token_weighted", "task5_reference")),
    ]
    report = make_report(tmp_path, grades, {}, threshold=None)

    ranking = [(r["check"], int(r["failed"]), int(r["graded"]), float(r["share"])) for r in report.summary
               if r["part"] == "code"]
    assert [r["part"] for r in report.summary] == ["code"] * 4 + ["notebook"] * 3 + ["question"] * 6
    assert ranking == [("task4_token_weighted", 4, 6, 0.6667), ("task3_reference", 2, 4, 0.5),  # ties: higher share
                       ("task5_reference", 2, 6, 0.3333), ("task4_no_side_effects", 0, 4, 0.0)]
    assert report.summary[0]["description"] == CHECKS["task4_token_weighted"][1]
    assert report.summary[0]["task"] == "4"
    assert report.summary[0]["most_frequent_message"] == loss_message(2.71828, 2.5)

    rows = report.page.tables["checks"][1:]
    assert [row[0] for row in rows] == ["1", "2", "3", "4"]
    assert "task4_token_weighted" in rows[0][1] and "4 / 6" in rows[0][3] and "67%" in rows[0][3]
    assert "task3_reference" in rows[1][1] and "task5_reference" in rows[2][1]
    first_cell = rows[0][4]  # three loss messages that differ only in numbers, then the base-2 one
    assert first_cell.startswith("3× " + loss_message(2.71828, 2.5))
    assert "1× perplexity 14.8" in first_cell


def test_failures_that_only_repeat_the_gate_rank_after_real_ones():
    """A gated check failed because its task's value checks failed says nothing new: it ranks after
    checks failed on their own, and its gate message comes after the real ones."""
    from rnnjudge.registry import GATE_MESSAGE

    from rnnlab.class_report import check_statistics

    grades = [make_grade(f"g{i}.py", {"task4_no_side_effects": GATE_MESSAGE, "task4_token_weighted": "per batch"})
              for i in range(3)]
    grades += [make_grade("own.py", {"task4_no_side_effects": "the model ran with gradients enabled"}),
               make_grade("five.py", {"task5_reference": "sum of norms"}),
               make_grade("five2.py", {"task5_reference": "sum of norms"})]
    stats = {s.name: s for s in check_statistics(grades)}
    order = [s.name for s in check_statistics(grades)]
    assert order.index("task4_token_weighted") < order.index("task5_reference") < order.index("task4_no_side_effects")
    side = stats["task4_no_side_effects"]
    assert (side.failed, side.gated_out) == (4, 3)
    assert [g.example for g in side.messages] == ["the model ran with gradients enabled", GATE_MESSAGE]


def test_message_key_ignores_numbers_and_shapes_only():
    assert message_key(loss_message(2.71828, 2.5)) == message_key(loss_message(-1e-05, 3))
    assert message_key("logits shape (2, 3, 4), expected (B, T, V) = (2, 3, 7)") == \
        message_key("logits shape (5, 1), expected (B, T, V) = (5, 1, 9)")
    assert message_key("RuntimeError: Expected hidden[0] size (1, 5, 6), got [1, 3, 6]") == \
        message_key("RuntimeError: Expected hidden[0] size (1, 2, 2), got [1, 4, 2]")
    assert message_key("seed 3: at 0x7f3a12 weight_hh_l0") == message_key("seed 11: at 0x55aa01 weight_hh_l0")
    assert message_key("weight_hh_l0 missing") != message_key("weight_hh_l1 missing")
    assert message_key("the RNN cell must use tanh") != message_key("the LSTM must be batch_first=True")


def test_submissions_not_graded_normally_are_listed_with_their_status(tmp_path):
    odd = {"loop.py": "timed out after 120s (endless loop or very slow code): no points",
           "stubs.py": "graded with problems: nothing implemented (untouched stubs)",
           "plain.py": "graded (graded unsandboxed)"}
    grades = [make_grade("fine.py"), FakeGrade("loop.py", {t.key: 0.0 for t in TASKS}, odd["loop.py"]),
              make_grade("stubs.py", dict.fromkeys(CHECKS, "not implemented"), odd["stubs.py"]),
              make_grade("plain.py", status=odd["plain.py"])]
    report = make_report(tmp_path, grades, {}, threshold=None)
    rows = report.page.tables["not-graded"][1:]
    assert [(r[0], r[1]) for r in rows] == sorted(odd.items())
    assert all(int(r["graded"]) == 3 for r in report.summary if r["part"] == "code")  # the timed-out one has no checks
    assert all(int(r["graded"]) == 4 for r in report.summary if r["part"] != "code")  # but a notebook, read or not


# ----------------------------------------------------------------------------
# The notebook and the answers
# ----------------------------------------------------------------------------

SINGLE_FILE = "no notebook: a single-file submission (only a team's folder holds lab.ipynb)"
OUT_OF_ORDER = "code cell 5 (In [5]) ran before code cell 4 (In [6]) above it"
NO_CLAIM = "no claim printed: the experiment's claims cell was not run"
NEVER_RUN = "never run (no code cell has an execution count)"


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory) -> dict[str, NotebookReport]:
    """Teams' lab.ipynb as students save them, read as the grader reads them: name -> report."""
    import student_notebooks as sn  # imports solution/lab_support (on the path in the tests)

    folder = tmp_path_factory.mktemp("notebooks")
    counts = list(range(1, len(sn.code_cells(sn.template())) + 1))
    swapped_3_5, swapped_1_2 = list(counts), list(counts)
    swapped_3_5[3], swapped_3_5[5] = counts[5], counts[3]
    swapped_1_2[1], swapped_1_2[2] = counts[2], counts[1]
    saved = {
        "full": sn.answered(sn.run(sn.template())),  # every check passed, every question answered
        "no_q3": sn.answered(sn.run(sn.template()), {n: sn.ANSWERS[n] for n in (1, 2, 4, 5, 6)}),
        "out_of_order": sn.answered(sn.run(sn.template(), swapped_3_5)),
        "out_of_order_2": sn.answered(sn.run(sn.template(), swapped_1_2)),
        "error_3": sn.answered(sn.run(sn.template(), error_in=3), {1: "Half done."}),
        "error_5": sn.answered(sn.run(sn.template(), error_in=5), {1: "Half done."}),
        "never_run": sn.template(),
    }
    reports = {name: read_notebook(sn.write(nb, folder / name)) for name, nb in saved.items()}
    (folder / "broken").mkdir()
    (folder / "broken" / "lab.ipynb").write_text('{"cells": [')  # a merge conflict, say
    reports["broken"] = read_notebook(folder / "broken" / "lab.ipynb")
    reports["single_file"] = read_notebook(None)
    assert reports["single_file"].status == SINGLE_FILE and "not valid JSON" in reports["broken"].status
    assert reports["out_of_order"].order_problems == [OUT_OF_ORDER]
    return reports


def team(name: str, notebook: NotebookReport, scores: tuple | None = None) -> FakeGrade:
    """A team with full code points, this notebook and the TA's points for Q1..Q6 (None: not merged)."""
    grade = make_grade(f"{name}/rnn_lm.py")
    grade.notebook = notebook
    if scores is not None:
        grade.manual = {q.key: points for q, points in zip(QUESTIONS, scores, strict=True)}
    return grade


def rows_of_part(report: Report, part: str) -> dict[str, dict]:
    return {r["check"]: r for r in report.summary if r["part"] == part}


@pytest.fixture
def figures(monkeypatch) -> dict[str, list]:
    """What the page's two figures plot: each histogram of the score figure (title, percents) and
    each bar chart of the per-part figure (title, points)."""
    drawn: dict[str, list] = {"histograms": [], "bars": []}
    histogram, points_bars = class_report.histogram, class_report.points_bars

    def recording_histogram(ax, percents, title):
        drawn["histograms"].append((title, [round(p, 2) for p in percents]))
        histogram(ax, percents, title)

    def recording_bars(ax, values, points, title):
        drawn["bars"].append((title, list(values)))
        points_bars(ax, values, points, title)

    monkeypatch.setattr(class_report, "histogram", recording_histogram)
    monkeypatch.setattr(class_report, "points_bars", recording_bars)
    return drawn


def test_notebook_checks_count_the_teams_that_passed_with_the_common_findings(tmp_path, notebooks):
    grades = [team(name, nb) for name, nb in notebooks.items()]
    report = make_report(tmp_path, grades, {}, threshold=None)

    rows = rows_of_part(report, "notebook")
    assert [r["check"] for r in report.summary if r["part"] == "notebook"] == [c.key for c in NOTEBOOK_CHECKS]
    counts = {key: (int(r["passed"]), int(r["failed"]), int(r["graded"]), r["share"], r["max_points"])
              for key, r in rows.items()}
    # 9 teams: full and no_q3 pass everything; run out of order: only ran_in_order fails; an error
    # cell: no_errors and claims_printed fail; never run, not JSON, a single file: everything fails.
    assert counts == {"ran_in_order": (4, 5, 9, "0.5556", "2"), "no_errors": (4, 5, 9, "0.5556", "1"),
                      "claims_printed": (4, 5, 9, "0.5556", "2")}
    assert rows["ran_in_order"]["most_frequent_message"] == OUT_OF_ORDER  # 2 teams, cells differ
    assert rows["no_errors"]["most_frequent_message"] == \
        "code cell 3: NotImplementedError: Task 1: implement VanillaRNNLM"
    assert rows["claims_printed"]["most_frequent_message"] == NO_CLAIM
    assert rows["claims_printed"]["description"] == NOTEBOOK_CHECKS[2].title and rows["claims_printed"]["task"] == ""

    table = report.page.tables["notebook"]
    assert table[0] == ["#", "Check", "Points", "Failed", "Passed", "Most frequent findings"]
    first = table[1]
    assert first[:5] == ["1", f"{NOTEBOOK_CHECKS[0].title} ran_in_order", "2", "5 / 9 56%", "4"]
    # the 2 runs out of order (other cells, one group), then the rest (3 groups shown a check)
    assert first[5] == (f"2× {OUT_OF_ORDER} 1× {notebooks['broken'].status} 1× {NEVER_RUN} "
                        "and 1 other failure (1 other message)")
    assert table[3][5].startswith(f"2× {NO_CLAIM}")


def test_questions_worst_answered_first_with_the_tas_scores(tmp_path, notebooks, figures):
    # The TA's points for Q1..Q6; an answer left as the placeholder or not found was pre-filled with 0.
    grades = [team("t1", notebooks["full"], (5, 4, 1, 3, 5, 4)),
              team("t2", notebooks["no_q3"], (5, 4, 0, 3, 5, 5)),  # Q3 left as the placeholder
              team("t3", notebooks["full"], (5, 5, 2, 3, None, 5)),  # Q5 not scored yet
              team("t4", notebooks["single_file"], (0, 0, 0, 0, 0, 0))]  # no notebook: no answer
    report = make_report(tmp_path, grades, {}, threshold=None)

    # Mean share of the points: Q1 15/20, Q2 13/20, Q3 3/20, Q4 9/20, Q5 10/15, Q6 14/20.
    table = report.page.tables["questions"]
    assert table[0] == ["#", "Question", "Max points", "Mean score", "Median", "Answered", "Unanswered", "Scored",
                        "Not scored yet"]
    assert [row[1].split()[0] for row in table[1:]] == ["Q3", "Q4", "Q2", "Q5", "Q6", "Q1"]
    q3 = table[1]
    assert q3[0] == "1" and q3[1].startswith("Q3 The original version of this lab")
    assert q3[2:] == ["5", "15% 0.75 / 5", "0.5 / 5", "2", "2 placeholder left unchanged: 1; question not found: 1",
                      "4", "0"]
    assert table[4][2:] == ["5", "67% 3.33 / 5", "5 / 5", "3", "1 question not found", "3", "1"]  # Q5
    assert "1 answer not scored yet" in "".join(report.page.text)

    rows = rows_of_part(report, "question")
    assert [r["check"] for r in report.summary if r["part"] == "question"] == ["q3", "q4", "q2", "q5", "q6", "q1"]
    numbers = ("graded", "max_points", "answered", "unanswered", "scored", "not_scored", "mean_points",
               "median_points", "mean_share_of_max", "median_share_of_max")
    assert [rows["q3"][k] for k in numbers] == ["4", "5", "2", "2", "4", "0", "0.75", "0.5", "0.15", "0.1"]
    assert [rows["q5"][k] for k in numbers] == ["4", "5", "3", "1", "3", "1", "3.3333", "5", "0.6667", "1"]
    assert [rows["q1"][k] for k in numbers] == ["4", "5", "3", "1", "4", "0", "3.75", "5", "0.75", "1"]
    assert rows["q3"]["description"].startswith("Q3: The original version")
    assert all(rows[q][k] == "" for q in rows for k in ("failed", "share", "most_frequent_message", "passed"))

    # The distributions cover the whole grade: answers t1 22, t2 22, t3 20, t4 0 of 30; notebooks 5, 5, 5, 0.
    histograms = dict(figures["histograms"])
    assert list(histograms) == ["Code (100 pts, 4 submissions)", "Notebook (5 pts)",
                                "Answers (30 pts; answers not scored yet count 0: 1 team)",
                                "Whole grade (135 pts) (answers not scored yet count 0)"]
    assert histograms["Notebook (5 pts)"] == [100, 100, 100, 0]
    assert histograms["Answers (30 pts; answers not scored yet count 0: 1 team)"] == [73.33, 73.33, 66.67, 0]
    whole = [round(100 * p / GRADE_POINTS, 2) for p in (127, 127, 125, 100)]
    assert histograms["Whole grade (135 pts) (answers not scored yet count 0)"] == whole
    bars = dict(figures["bars"])
    assert len(bars) == len(TASKS) + 1 + len(QUESTIONS)
    assert bars["Notebook (5 pts, 3 checks)"] == [5, 5, 5, 0]
    assert bars["Q3 (5 pts): 2 of 4 answered"] == [1, 0, 2, 0]
    assert bars["Q5 (5 pts): 3 of 4 answered"] == [5, 5, None, 0]
    boxes = "".join(report.page.text)
    assert "16.0 / 30mean answers score (1 team not fully scored)" in boxes
    assert "119.8 / 135mean grade (answers not scored yet count 0)" in boxes


def test_without_manual_scores_the_questions_are_not_scored_yet(tmp_path, notebooks, figures):
    grades = [team("full", notebooks["full"]), team("no_q3", notebooks["no_q3"]),
              team("never_run", notebooks["never_run"]), team("single", notebooks["single_file"])]
    report = make_report(tmp_path, grades, {}, threshold=None)

    section = report.html.split('<h2 id="questions">')[1].split("<h2")[0]
    assert "The questions are not scored yet: no TA scores were merged" in section
    table = report.page.tables["questions"]
    # Listed by how many left them unanswered: Q3 by 3 teams, every other question by 2.
    assert [row[1].split()[0] for row in table[1:]] == ["Q3", "Q1", "Q2", "Q4", "Q5", "Q6"]
    assert table[1][2:] == ["5", "not scored yet", "–", "1", "3 placeholder left unchanged: 2; question not found: 1",
                            "0", "4"]
    assert all(row[3] == "not scored yet" and row[5] == "2" and row[7:] == ["0", "4"] for row in table[2:])

    rows = rows_of_part(report, "question")
    assert {q: (r["answered"], r["unanswered"], r["scored"], r["not_scored"], r["mean_points"], r["mean_share_of_max"])
            for q, r in rows.items()} == {"q3": ("1", "3", "0", "4", "", ""),
                                          **{q.key: ("2", "2", "0", "4", "", "") for q in QUESTIONS if q.key != "q3"}}
    assert "not scored yetmean answers score" in "".join(report.page.text)
    assert "Answers" not in "".join(title for title, _ in figures["histograms"])  # its panel says not scored
    assert dict(figures["bars"])["Q3 (5 pts): 1 of 4 answered"] == [None] * 4


# ----------------------------------------------------------------------------
# Copy detection
# ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bank_report(tmp_path_factory) -> Report:
    folder = tmp_path_factory.mktemp("bank")
    codes = bank_codes()
    return make_report(folder / "out", graded(codes), write_submissions(folder / "subs", codes))


def test_renamed_reordered_copies_are_flagged(bank_report):
    flagged = bank_report.flagged()
    # eval_builds_graph's only own code is `if True:` right below two lines the copy swaps: the
    # copy keeps one of its 4 fingerprints (score 0.25, below MIN_SHARED at any threshold);
    # eval_never_calls_eval only deletes a line of the solution, and rnn_state_made_from_the_ids only
    # changes one name of it (e.new_zeros -> x.new_zeros): neither has code of its own to share.
    for name in set(BUGGY) - {"eval_builds_graph", "eval_never_calls_eval", "rnn_state_made_from_the_ids"}:
        assert frozenset((f"{name}.py", f"{name}_copy.py")) in flagged, name
    scores = {frozenset((r["file_a"], r["file_b"])): float(r["score"]) for r in bank_report.pairs}
    assert scores[frozenset(("loss_no_pad_mask.py", "loss_no_pad_mask_copy.py"))] == 1.0


def test_correct_alternatives_and_solution_are_not_flagged(bank_report):
    correct = {"solution.py"} | {f"correct_{name}.py" for name in CORRECT}
    assert not [pair for pair in bank_report.flagged() if pair <= correct]


def test_flagged_pairs_are_shown_side_by_side_with_the_shared_lines_highlighted(bank_report):
    pair = {"loss_no_pad_mask.py", "loss_no_pad_mask_copy.py"}
    row = next(r for r in bank_report.pairs if {r["file_a"], r["file_b"]} == pair)
    assert row["shared_lines_a"] and row["shared_lines_b"]
    assert "loss_no_pad_mask.py &harr; loss_no_pad_mask_copy.py" in bank_report.html \
        or "loss_no_pad_mask_copy.py &harr; loss_no_pad_mask.py" in bank_report.html
    highlighted = re.findall(r'<div class="hit"><i>\d+</i>([^<]*)</div>', bank_report.html)
    assert "    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction=reduction)" in highlighted


def test_team_names_are_not_code(tmp_path):
    """Every team fills AUTHORS with a list of strings alike but for the names: that list is not
    compared, or teams that kept the reference's lines would all look like copies of each other."""
    empty = "AUTHORS: list[str] = []\n"
    team = 'AUTHORS: list[str] = [\n    "Student {0}a (@s{0}a)",\n    "Student {0}b (@s{0}b)"]\n'
    codes = {f"team{i}.py": SOLUTION.replace(empty, team.format(i)) for i in range(3)}
    assert all(code != SOLUTION for code in codes.values())
    report = make_report(tmp_path / "out", graded(codes), write_submissions(tmp_path / "subs", codes))
    assert report.pairs == []


def test_independently_written_code_is_not_flagged_but_copies_of_it_are(tmp_path):
    mixed = {**STUDENT_X, **{task: body for task, body in STUDENT_Y.items() if task.startswith(("Task 4", "Task 6"))}}
    students = {"x.py": replace_tasks(STUDENT_X), "y.py": replace_tasks(STUDENT_Y),
                "x_copy.py": disguise(replace_tasks(STUDENT_X)), "x_with_tasks_4_6_of_y.py": replace_tasks(mixed)}
    bank = {"solution.py": SOLUTION, **{f"correct_{name}.py": apply_edits(edits) for name, edits in CORRECT.items()},
            **{f"{name}.py": apply_edits(edits) for name, (_, edits) in BUGGY.items()}}
    for code in students.values():
        compile(code, "submission", "exec")
    codes = {**students, **bank}
    report = make_report(tmp_path, graded(codes), write_submissions(tmp_path / "subs", codes))
    copies = {frozenset(("x.py", "x_copy.py")), frozenset(("x.py", "x_with_tasks_4_6_of_y.py")),
              frozenset(("x_copy.py", "x_with_tasks_4_6_of_y.py"))}
    assert {pair for pair in report.flagged() if pair & set(students)} == copies


def dead_code(lines: int, seed: int = 0) -> str:
    """Unique, valid, never-called code, as a student pads a copy with: built-ins and operators
    (which the fingerprints keep, unlike names and numbers) in a different order in every line."""
    import random

    rng = random.Random(seed)
    calls = ["abs", "len", "sorted", "min", "max", "sum", "round", "hex", "ord", "chr", "list", "tuple", "set",
             "reversed", "enumerate", "zip", "range", "int", "float", "str", "bool", "any", "all", "divmod", "pow"]
    ops = ["+", "-", "*", "//", "%", "|", "&", "^", "<", ">", "==", "!=", "and", "or", "in", "is"]
    out = []
    for i in range(lines // 4):
        body = [f"    v = {rng.choice(calls)}({rng.choice(calls)}(v) {rng.choice(ops)} {rng.choice(calls)}(w))"
                for _ in range(3)]
        out.append(f"def _pad_{i}(v, w):\n" + "\n".join(body))
    return "\n".join(out) + "\n"


def test_a_copy_padded_with_dead_code_is_flagged(tmp_path):
    """A verbatim copy of a classmate's file plus 1,500 lines of unique dead code: what it shares is
    a small share of its own size, but more than any two honest submissions share."""
    x = replace_tasks(STUDENT_X)
    codes = {"x.py": x, "x_padded.py": x + "\n\n" + dead_code(1500), "y.py": replace_tasks(STUDENT_Y),
             **{f"correct_{name}.py": apply_edits(edits) for name, edits in CORRECT.items()},
             **{f"{name}.py": apply_edits(edits) for name, (_, edits) in BUGGY.items()}, "solution.py": SOLUTION}
    compile(codes["x_padded.py"], "x_padded.py", "exec")
    report = make_report(tmp_path, graded(codes), write_submissions(tmp_path / "subs", codes))
    assert frozenset(("x.py", "x_padded.py")) in report.flagged()
    boilerplate = similarity.boilerplate_hashes()
    prints = [similarity.fingerprint(n, c, boilerplate) for n, c in sorted(codes.items()) if n != "x_padded.py"]
    pairs, _ = similarity.shared_counts(prints)
    assert max(pairs.values()) < similarity.MIN_SHARED_ANY_SIZE, "an honest pair shares as much as a padded copy"


def test_a_copy_run_through_exec_is_named_as_not_comparable(tmp_path):
    """A classmate's file compressed, encoded and run with exec shows no fingerprint of what it runs:
    the report names it for the TA to read; honest code (the solution's model.eval()) is not named."""
    import base64
    import zlib

    x = replace_tasks(STUDENT_X)
    blob = base64.b64encode(zlib.compress(x.encode())).decode()
    codes = {"x.py": x, "x_exec.py": f"import base64, zlib\nexec(compile(zlib.decompress(base64.b64decode({blob!r})), "
                                     "'x', 'exec'))\n", "solution.py": SOLUTION}
    report = make_report(tmp_path, graded(codes), write_submissions(tmp_path / "subs", codes))
    assert "Not comparable" in report.html and "b64decode, compile, decompress, exec)" in report.html
    assert "x_exec.py (" in report.html
    assert "solution.py (" not in report.html and "x.py (" not in report.html


def test_threshold_can_be_changed_and_detection_switched_off(tmp_path):
    codes = {"gtt_leaves_param_grads.py": apply_edits(BUGGY["gtt_leaves_param_grads"][1]),
             "correct_gtt_backward_with_inputs.py": apply_edits(CORRECT["gtt_backward_with_inputs"]),
             "eval_mean_of_batch_means.py": apply_edits(BUGGY["eval_mean_of_batch_means"][1]),
             "correct_eval_mean_times_count.py": apply_edits(CORRECT["eval_mean_times_count"])}
    sources = write_submissions(tmp_path / "subs", codes)
    # .backward() vs .backward(inputs=[e]): three lines, the same but for one argument: score 0.75
    near_identical = frozenset(("gtt_leaves_param_grads.py", "correct_gtt_backward_with_inputs.py"))
    # both edit the same two lines of evaluate, differently: score 0.4
    same_lines_edited = frozenset(("eval_mean_of_batch_means.py", "correct_eval_mean_times_count.py"))
    by_threshold = {threshold: make_report(tmp_path / str(threshold), graded(codes), sources, threshold)
                    for threshold in (similarity.DEFAULT_THRESHOLD, 0.9, 0.3, None)}
    assert by_threshold[similarity.DEFAULT_THRESHOLD].flagged() == {near_identical}
    assert by_threshold[0.9].flagged() == set()
    assert by_threshold[0.3].flagged() == {near_identical, same_lines_edited}
    off = by_threshold[None]
    assert off.pairs == [] and (tmp_path / "None" / "similarity.csv").read_text().startswith("file_a,file_b,score")
    assert "Copy detection was off" in off.html


def test_command_line_options():
    parser = argparse.ArgumentParser()
    add_report_arguments(parser)
    assert parser.parse_args([]).similarity_threshold == similarity.DEFAULT_THRESHOLD
    assert parser.parse_args(["--similarity-threshold", "0.9"]).similarity_threshold == 0.9
    assert parser.parse_args(["--no-similarity"]).similarity_threshold is None
    for wrong in (["--similarity-threshold", "0"], ["--similarity-threshold", "1.5"],
                  ["--no-similarity", "--similarity-threshold", "0.9"]):
        with pytest.raises(SystemExit):
            parser.parse_args(wrong)
    assert f"default {similarity.DEFAULT_THRESHOLD}" in parser.format_help()


# ----------------------------------------------------------------------------
# Bad input, escaping, a self-contained page, scale
# ----------------------------------------------------------------------------

def test_no_grades_gives_a_page_that_says_so(tmp_path):
    report = make_report(tmp_path, [], {})
    assert "nothing to report" in report.html
    assert report.summary == [] and report.pairs == []


def test_odd_files_never_break_the_report(tmp_path):
    notebook_without_code = {"cells": [{"cell_type": "markdown", "source": ["# only text"]}], "metadata": {},
                             "nbformat": 4, "nbformat_minor": 5}
    latin1 = apply_edits(BUGGY["loss_no_pad_mask"][1]).replace("Shapes:", "Gr\u00f6\u00dfen:")
    codes = {"latin1.py": latin1.encode("latin-1"), "latin1_copy.py": latin1.encode("latin-1"),
             "text_only.ipynb": json.dumps(notebook_without_code), "broken.ipynb": "{not json",
             "not_a_dict.ipynb": "[1, 2]", "bad_indent.py": "def f():\n        x = 1\n    y = '''open\n",
             "empty.py": ""}
    sources = write_submissions(tmp_path / "subs", codes)
    sources["missing.py"] = tmp_path / "subs" / "missing.py"
    grades = graded(codes) + [make_grade("missing.py"), make_grade("no_source.py")]
    report = make_report(tmp_path / "out", grades, sources)
    assert report.flagged() == {frozenset(("latin1.py", "latin1_copy.py"))}
    not_compared = next(t for t in report.page.text if t.startswith("Not compared"))
    for name in ("text_only.ipynb", "broken.ipynb", "not_a_dict.ipynb", "empty.py", "missing.py"):
        assert name in not_compared


def test_one_submission(tmp_path):
    sources = write_submissions(tmp_path / "subs", {"alone.py": SOLUTION})
    report = make_report(tmp_path / "out", [make_grade("alone.py", {"task5_reference": "got 1"})], sources)
    assert report.pairs == [] and report.summary[0]["check"] == "task5_reference"
    assert "No pair reaches the threshold" in report.html


def test_submission_text_is_escaped(tmp_path):
    evil = apply_edits(BUGGY["loss_always_sum"][1]) + "\nBANNER = '<script>alert(1)</script>'\n"
    sources = write_submissions(tmp_path / "subs", {"<script>x.py": evil, "copy.py": evil})
    grades = [make_grade("<script>x.py", {"task5_reference": "got <script>alert(2)</script>"},
                         status="crashed while loading: <script>alert(3)</script>"), make_grade("copy.py")]
    grades[0].authors, grades[1].authors = ["<script>alert(4)</script>", "Ada"], ["Bob"]
    # What a notebook stored (an error's text) and a status quoting the file reach the page and the CSV.
    grades[0].notebook = NotebookReport(status=READ, executed=True,
                                        errors=["code cell 2: ValueError: <script>alert(5)</script>"])
    grades[1].notebook = missing('=HYPERLINK("x") <script>alert(6)</script>')
    report = make_report(tmp_path / "out", grades, sources)
    assert len(report.pairs) == 1
    assert "<script" not in report.html.lower()
    assert not [tag for tag, _ in report.page.tags if tag in ("script", "iframe", "object", "embed")]
    text = "".join(report.page.text)
    for shown in ("<script>alert(1)</script>", "<script>alert(2)</script>", "<script>alert(3)</script>",
                  "<script>x.py", "<script>alert(4)</script>; Ada", "ValueError: <script>alert(5)</script>",
                  '=HYPERLINK("x") <script>alert(6)</script>'):
        assert shown in text
    assert rows_of_part(report, "notebook")["no_errors"]["most_frequent_message"] == \
        '\'=HYPERLINK("x") <script>alert(6)</script>'
    # The authors stand next to each submission of a similar pair, and of the not graded normally.
    assert '<h3>copy.py</h3><div class="muted">Bob</div>' in report.html
    assert report.html.count("&lt;script&gt;alert(4)&lt;/script&gt;; Ada") == 2


def test_page_is_self_contained(bank_report):
    links = [value for _, attrs in bank_report.page.tags for name, value in attrs.items()
             if name in ("src", "href") and value]
    assert links and all(v.startswith(("data:image/png;base64,", "#")) for v in links)
    assert not re.search(r"https?://", bank_report.html)
    assert sum(v.startswith("data:image/png") for v in links) == 2


def test_five_hundred_submissions(tmp_path):
    variants = list(bank_codes().values())
    codes = {f"student{i:03d}.py": disguise(variants[i % len(variants)], suffix=f"_{i}") for i in range(500)}
    grades = [make_grade(name, {"task3_reference": "got 1.5"} if i % 3 else {}) for i, name in enumerate(codes)]
    report = make_report(tmp_path / "out", grades, write_submissions(tmp_path / "subs", codes))
    assert report.summary[0]["failed"] == str(333)
    assert len(report.pairs) > 100
    assert len(re.findall(r'<details class="pair"', report.html)) == 40
