"""What a team's saved ``lab.ipynb`` shows, read as JSON and never executed.

``read_notebook(path)`` returns a ``NotebookReport``: whether the notebook was run top to bottom
(execution counts increasing down the notebook, no code cell left unrun before the last run one),
which cells stored an error, the claims ``lab_support.format_claims`` printed for the experiment
(each HOLDS or FAILS on the team's own run), the team's numbers from the printed results table
(recall accuracy, best validation perplexity against the floor, gradient at the name at
initialisation and after training), and the team's answer to each discussion question.

A missing, linked, oversized or broken notebook is a status (``report.status``), never an
exception, and earns none of the notebook's points (``rnnlab.tasks.NOTEBOOK_CHECKS``).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from rnnjudge.session import printable
from rnnlab.release import ANSWER_PLACEHOLDER
from rnnlab.tasks import NOTEBOOK_CHECKS, QUESTIONS

NOTEBOOK_NAME = "lab.ipynb"
MAX_NOTEBOOK_BYTES = 32 << 20  # saved with its outputs (figures), the lab's notebook is 1-2 MB
TEXT_SHOWN = 160  # characters kept of an error message the notebook stored
READ = "read"  # the status of a notebook that could be read
QUESTION_MARKER = re.compile(r"^[ \t]*\*\*Q(\d{1,4})\.\*\*", re.MULTILINE)  # bounded: int() of 5,000 digits raises
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
CLAIM_START = re.compile(r"^(HOLDS|FAILS)  (.*)$")
CLAIM_CONTINUED = "       "  # format_claims indents a claim's further lines by 7 spaces
CELL_SEPARATOR = re.compile(r"\s{2,}")  # the printed tables pad their columns with at least two spaces
SWEEP_HEADER = re.compile(r"^distance\s{2,}model\s{2,}", re.MULTILINE)
FLOOR = re.compile(r"perplexity floor: ([0-9.]+)")
NUMBERS_SHOWN = {"recall acc": "recall", "best val ppl": "best val ppl", "vs floor": "vs floor"}
EXPERIMENT_MODELS = ("RNN", "LSTM", "LSTM fb1")  # the default experiment's rows (lab_support.MODEL_SHORT)
MIN_CLAIMS = 3  # the default experiment prints more; fewer is not its claims
# Bounds on what is kept of one notebook, whatever it holds (the readers are linear in its size).
MAX_CLAIMS = 40  # the experiment prints 6
CLAIM_CHARS = 400
TABLE_ROWS = 20  # rows kept of a printed table (the lab's have 3 models)
CONFIG_CHARS = 2000  # the printed LabConfig is about 400 characters
DEVICE_LINE = re.compile(r"^data: .*, device (\S+)$")  # format_table's first line
RAN_AS_LINE = re.compile(r"^ran as: (.*) \(precision x CPU threads\)$")
RAN_AS_MODEL = re.compile(r"(.{1,40}) (bf16|fp32) x(\d{1,3})")
ANSWER_CHARS = 20_000  # a long answer is a few thousand characters

# Answer states
ANSWERED, EMPTY, PLACEHOLDER, NOT_FOUND = "answered", "empty", "placeholder left unchanged", "question not found"
# What ``rnnlab grade --rerun`` (``rnnlab.rerun``) made of the numbers printed: only REPRODUCED is a
# run the course certified and that printed the same; the others lose the points of the claims.
REPRODUCED, DIFFERS, NOT_CONFIRMED = "numbers reproduced", "numbers differ", "not confirmed"


@dataclass(frozen=True)
class Rerun:
    state: str  # REPRODUCED, DIFFERS or NOT_CONFIRMED
    detail: str = ""  # against what, and what differs (both values), or why not confirmed

    @property
    def line(self) -> str:
        return f"{self.state} {self.detail}" if self.state == REPRODUCED else f"{self.state}: {self.detail}"


@dataclass
class Answer:
    state: str  # ANSWERED, EMPTY, PLACEHOLDER or NOT_FOUND
    text: str = ""  # the team's markdown, the placeholder removed (never rendered: shown escaped)

    @property
    def is_blank(self) -> bool:
        """Nothing to score: pre-filled with 0 in manual_scores.csv."""
        return self.state != ANSWERED


@dataclass
class NotebookReport:
    status: str  # READ, or why the notebook could not be read
    executed: bool = False
    order_problems: list[str] = field(default_factory=list)  # empty when run top to bottom
    errors: list[str] = field(default_factory=list)  # "code cell 7: ValueError: ..."
    claims: list[tuple[bool, str]] = field(default_factory=list)  # the experiment's, as printed: (holds, text)
    numbers: dict[str, dict[str, str]] = field(default_factory=dict)  # model -> column -> value, as printed
    floor: str = ""  # the perplexity floor, as printed
    run: dict = field(default_factory=dict)  # how the printed run ran (``run_record``)
    rerun: Rerun | None = None  # ``rnnlab grade --rerun``'s verdict on the printed numbers, if re-run
    answers: dict[str, Answer] = field(default_factory=dict)  # question key -> answer

    @property
    def ran_in_order(self) -> bool:
        return self.executed and not self.order_problems

    @property
    def passed(self) -> dict[str, bool]:
        """Each notebook check (``NOTEBOOK_CHECKS``) by key: passed or not."""
        return {"ran_in_order": self.ran_in_order, "no_errors": self.executed and not self.errors,
                "claims_printed": self.printed_the_experiment and not self.rerun_withholds}

    @property
    def rerun_withholds(self) -> bool:
        """Under ``--rerun``: the printed numbers were not confirmed by a run the course certified."""
        return self.rerun is not None and self.rerun.state != REPRODUCED

    @property
    def printed_the_experiment(self) -> bool:
        """Claims and the results table of every model of the experiment: one printed line of
        ``HOLDS`` is not a run. (Still self-reported: the notebook is read, not run.)"""
        return len(self.claims) >= MIN_CLAIMS and all(model in self.numbers for model in EXPERIMENT_MODELS)

    @property
    def points(self) -> float:
        return float(sum(c.points for c in NOTEBOOK_CHECKS if self.passed[c.key]))

    @property
    def summary(self) -> str:
        """One line for final_grades.csv: the status, or what the checks found."""
        if self.status != READ:
            return self.status
        if not self.executed:
            return "never run (no code cell has an execution count)"
        parts = ["run top to bottom" if self.ran_in_order else "not run top to bottom: " + "; ".join(self.order_problems),
                 f"{len(self.errors)} error cell{'s' if len(self.errors) != 1 else ''}" if self.errors else "no error",
                 (f"claims printed: {sum(h for h, _ in self.claims)} of {len(self.claims)} hold" if self.claims
                  else "no claims printed")]
        return "; ".join(parts + ([self.rerun.line] if self.rerun else []))


    @property
    def numbers_line(self) -> str:
        """The team's numbers on one line: ``RNN: recall 0.125, ...; LSTM: ...; floor 22.06`` ("" if none)."""
        models = ["{}: {}".format(model, ", ".join(f"{k} {v}" for k, v in cols.items()))
                  for model, cols in self.numbers.items()]
        return "; ".join(models + ([f"floor {self.floor}"] if self.floor and models else []))


def missing(status: str) -> NotebookReport:
    """The report of a notebook that is not there or cannot be read: every answer not found."""
    return NotebookReport(status=status, answers={q.key: Answer(NOT_FOUND) for q in QUESTIONS})


def read_notebook(path: Path | None) -> NotebookReport:
    """The report of the notebook at ``path`` (None: the submission is a single file, with no notebook).
    Whatever the file holds, this returns a report: a team's notebook cannot stop the class's outputs."""
    try:
        return read_notebook_file(path)
    except Exception as err:  # noqa: BLE001 - a reader's bug or a hostile file: that team's status, not a crash
        return missing(f"{NOTEBOOK_NAME} could not be read ({type(err).__name__}): ask the team to save it again")


def read_notebook_file(path: Path | None) -> NotebookReport:
    if path is None:
        return missing("no notebook: a single-file submission (only a team's folder holds lab.ipynb)")
    if path.is_symlink() or path.parent.is_symlink():  # a classmate's notebook under this team's name
        return missing(f"{NOTEBOOK_NAME} is a symbolic link, not a file: not read")
    if not path.is_file():
        return missing(f"no {NOTEBOOK_NAME} in the team's folder")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return missing(f"{NOTEBOOK_NAME} is {path.stat().st_size / 2**20:.0f} MB, more than a notebook can be "
                       f"({MAX_NOTEBOOK_BYTES >> 20} MB): not read")
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig", errors="replace"))
    except (ValueError, RecursionError) as err:  # RecursionError: nesting deeper than the parser goes
        return missing(f"{NOTEBOOK_NAME} is not valid JSON ({shortened(str(err) or 'nested too deeply')}): "
                       "save it from Jupyter again")
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        return missing(f"{NOTEBOOK_NAME} is not a notebook (no list of cells)")
    return report_of_cells([c for c in cells if isinstance(c, dict)])


def shortened(text: str) -> str:
    return text if len(text) <= TEXT_SHOWN else text[:TEXT_SHOWN] + " [...]"


def text_of(value) -> str:
    """A notebook's multi-line string: a string, or a list of strings (nbformat allows both)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return printable("".join(s for s in value if isinstance(s, str)))
    return ""


def report_of_cells(cells: list[dict]) -> NotebookReport:
    report = NotebookReport(status=READ)
    code = [c for c in cells if c.get("cell_type") == "code"]
    counts = [c.get("execution_count") if isinstance(c.get("execution_count"), int) else None for c in code]
    report.executed = any(n is not None for n in counts)
    if report.executed:
        report.order_problems = order_problems(counts, [bool(text_of(c.get("source")).strip()) for c in code])
    outputs = [[o for o in c.get("outputs", []) if isinstance(o, dict)] if isinstance(c.get("outputs"), list) else []
               for c in code]
    for number, cell_outputs in enumerate(outputs, start=1):
        for o in cell_outputs:
            if o.get("output_type") == "error":
                what = f"{text_of(o.get('ename')) or 'error'}: {text_of(o.get('evalue'))}".rstrip(": ")
                report.errors.append(f"code cell {number}: {shortened(what)}")
    printed = ["".join(text_of(o.get("text")) for o in cell_outputs if o.get("output_type") == "stream")
               for cell_outputs in outputs]
    report.claims = experiment_claims(printed)
    report.numbers, report.floor, report.run = team_numbers(printed)
    report.answers = answers_of("\n\n".join(text_of(c.get("source")) for c in cells
                                           if c.get("cell_type") in ("markdown", "raw")))
    return report


def order_problems(counts: list[int | None], has_code: list[bool]) -> list[str]:
    """What keeps the code cells' execution counts from being a run top to bottom ([] when they are)."""
    problems = []
    ran = [(i, n) for i, n in enumerate(counts) if n is not None]
    for (i, a), (j, b) in zip(ran, ran[1:]):
        if b <= a:
            problems.append(f"code cell {j + 1} (In [{b}]) ran before code cell {i + 1} (In [{a}]) above it")
            break
    last_run = ran[-1][0]
    unrun = [i + 1 for i in range(last_run) if counts[i] is None and has_code[i]]
    if unrun:
        problems.append(f"code cell{'s' if len(unrun) > 1 else ''} {', '.join(map(str, unrun))} never run before "
                        f"code cell {last_run + 1}")
    return problems


def claims_in(text: str) -> list[tuple[bool, str]]:
    """The claims ``format_claims`` printed in ``text``: (holds, the claim's text on one line); at
    most ``MAX_CLAIMS`` (the last ones), each cut at ``CLAIM_CHARS``."""
    claims: list[tuple[bool, list[str], int]] = []  # holds, parts, characters so far
    for line in text.splitlines():
        start = CLAIM_START.match(line)
        if start:
            claims.append((start[1] == "HOLDS", [start[2].strip()], len(start[2])))
            del claims[:-MAX_CLAIMS]
        elif claims and line.startswith(CLAIM_CONTINUED) and line.strip() and claims[-1][2] < CLAIM_CHARS:
            holds, parts, size = claims[-1]
            parts.append(line.strip())
            claims[-1] = (holds, parts, size + len(parts[-1]) + 1)
    return [(holds, " ".join(parts)[:CLAIM_CHARS]) for holds, parts, _ in claims]


def experiment_claims(printed: list[str]) -> list[tuple[bool, str]]:
    """The claims of the last cell that printed the experiment's (the sweep's, printed under the
    sweep's table from the course's sweep.json, are not the team's run)."""
    found = [claims_in(text) for text in printed if not SWEEP_HEADER.search(text)]
    found = [claims for claims in found if claims]
    return found[-1] if found else []


def printed_tables(text: str) -> list[dict[str, dict[str, str]]]:
    """Every table ``lab_support.text_table`` printed in ``text`` whose first column is ``model``:
    model -> column -> cell."""
    lines = text.splitlines()
    tables = []
    i = 0
    while i < len(lines) - 1:  # each line is read once: a table's rows are not read again as headers
        header = CELL_SEPARATOR.split(lines[i].strip())
        i += 1
        if header[0] != "model" or len(header) < 2 or not set(lines[i].replace(" ", "")) <= {"-"}:
            continue
        rows = {}
        i += 1
        while i < len(lines):
            cells = CELL_SEPARATOR.split(lines[i].strip())
            if len(cells) != len(header) or cells[0] == "model" or set(lines[i].replace(" ", "")) <= {"-"}:
                break
            if len(rows) < TABLE_ROWS:
                rows[cells[0][:CLAIM_CHARS]] = {k[:CLAIM_CHARS]: v[:CLAIM_CHARS] for k, v in zip(header[1:], cells[1:])}
            i += 1
        tables.append(rows)
    return tables


def team_numbers(printed: list[str]) -> tuple[dict[str, dict[str, str]], str, dict]:
    """The numbers the answers rest on, from the last results table printed (``format_table``): per
    model its recall accuracy, best validation perplexity and distance above the floor, and the
    gradient that reaches the probed distance at initialisation and after training; the floor; and
    how that run ran (``run_record``)."""
    numbers: dict[str, dict[str, str]] = {}
    floor, run = "", {}
    for text in printed:
        if SWEEP_HEADER.search(text):
            continue
        found = FLOOR.findall(text)
        floor = found[-1].rstrip(".") if found else floor
        tables = printed_tables(text)
        training = [t for t in tables if any("recall acc" in cols for cols in t.values())]
        gradients = [t for t in tables if any(any(k.startswith("grad@") for k in cols) for cols in t.values())]
        if training and gradients:
            numbers = {}
            for model, cols in training[-1].items():
                numbers[model] = {shown: cols[column] for column, shown in NUMBERS_SHOWN.items() if column in cols}
            for model, cols in gradients[-1].items():
                for column, value in cols.items():
                    if column.startswith("grad@"):
                        numbers.setdefault(model, {})[column] = value
            run = run_record(text)
    return numbers, floor, run


def run_record(text: str) -> dict:
    """What a re-run needs, from the cell that printed the results: the configuration (``print(cfg)``:
    its fields as literals, or absent), the device, and each model's precision and CPU threads
    (``lab_support.ran_as_line``): {"config": {...}, "device": "cpu", "ran_as": {model: (bf16, threads)}}."""
    run: dict = {}
    for line in text.splitlines():
        if line.startswith("LabConfig(") and len(line) <= CONFIG_CHARS:
            config = literal_fields(line)
            if config is not None:
                run["config"] = config
        elif (device := DEVICE_LINE.match(line)):
            run["device"] = device[1]
        elif (ran_as := RAN_AS_LINE.match(line)):
            models = [RAN_AS_MODEL.fullmatch(part) for part in ran_as[1].split(", ")]
            if all(models):
                run["ran_as"] = {m[1]: (m[2] == "bf16", int(m[3])) for m in models}
    return run


def literal_fields(call: str) -> dict | None:
    """``Name(a=1, b='x', ...)`` -> {"a": 1, "b": "x"}: literals only (a printed dataclass), else None."""
    try:
        tree = ast.parse(call, mode="eval").body
        if not isinstance(tree, ast.Call) or tree.args:
            return None
        return {kw.arg: ast.literal_eval(kw.value) for kw in tree.keywords if kw.arg}
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return None


def answers_of(markdown: str) -> dict[str, Answer]:
    """Each question's answer: the text after the question's paragraph (``**Q1.** ...``) up to the next
    question, with the release's placeholder removed."""
    marks = list(QUESTION_MARKER.finditer(markdown))
    starts: dict[int, int] = {}
    for m in marks:
        starts.setdefault(int(m[1]), m.start())
    answers = {}
    for q in QUESTIONS:
        if q.number not in starts:
            answers[q.key] = Answer(NOT_FOUND)
            continue
        begin = starts[q.number]
        end = min((m.start() for m in marks if m.start() > begin), default=len(markdown))
        segment = markdown[begin:end]
        paragraph_end = PARAGRAPH_BREAK.search(segment)
        body = segment[paragraph_end.end():] if paragraph_end else ""
        text = body.replace(ANSWER_PLACEHOLDER, "").strip()
        if len(text) > ANSWER_CHARS:
            text = text[:ANSWER_CHARS] + f"\n[... {len(text) - ANSWER_CHARS} more characters not shown]"
        if text:
            answers[q.key] = Answer(ANSWERED, text)
        else:
            answers[q.key] = Answer(PLACEHOLDER if ANSWER_PLACEHOLDER in body else EMPTY)
    return answers
