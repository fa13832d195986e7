"""Mutation score of the hidden checks: how many small mistakes in the reference solution they catch.

    .venv/bin/python benchmarks/bench_mutation.py [--workers 2] [--task N] [--json FILE]   (make mutation)

Every mutant changes one thing inside one task region (between `BEGIN SOLUTION` and `END
SOLUTION`) of `solution/rnn_lm.py`, made by cosmic-ray's core operators (arithmetic, comparisons,
numbers, booleans, `not`, loops with no iterations) and by this project's operators for the
mistakes PyTorch code invites (a keyword argument left out, a call or method call left out, a
wrong string, and shortcuts that keep only the easy case: a mode put back on the top module alone,
a `finally` run on success only, a tensor made from the int64 ids: `benchmarks/mutation_operators.py`). Each mutant is graded by the judge with the
hidden checks, as a student's file is, without the sandbox (these are our own files):

- killed: some check fails; timed out: the judge's time limit ends it (counted as killed: the
  student loses points);
- survived: full marks. A survivor is either equivalent (it changes nothing a check can observe;
  reviewed, with the reason, in `benchmarks/mutation_equivalents.toml`) or a hole in the checks.

The score is killed / (mutants - reviewed equivalents), overall and per task; the targets are 95%
overall and 90% for every task. The other side of the same checks: every correct variant of the
bank (``tests/submission_bank.py``: the solution written in other styles) graded the same way must
keep full marks, reported by the tasks it rewrites; the target is all of them (exit status 1 when
a target is missed). cosmic-ray rather than mutmut:
cosmic-ray applies one operator at one occurrence to a source string (`mutate_code`), which lets
the judge grade each mutant as a file, and it takes operators of our own through the same
interface; mutmut 3 rewrites the package in place and runs it under pytest.
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import json
import multiprocessing
import re
import sys
import tempfile
import time
import tomllib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cosmic_ray.ast import ast_nodes, get_ast
from cosmic_ray.mutating import mutate_code
from cosmic_ray.plugins import get_operator, operator_names

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from mutation_operators import OPERATORS  # noqa: E402
from submission_bank import CORRECT, apply_edits  # noqa: E402

from rnnlab.grade import judge_one  # noqa: E402
from rnnlab.tasks import TASKS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SOLUTION = REPO / "solution" / "rnn_lm.py"
EQUIVALENTS = Path(__file__).resolve().parent / "mutation_equivalents.toml"
KEY = bytes.fromhex("3a7f" * 16)  # this benchmark's course secret: the same hidden inputs each run
TIMEOUT = 90.0  # seconds a mutant may take; the solution takes about 10 under load
MEMORY_MB = 4096
TARGET_OVERALL, TARGET_PER_TASK = 0.95, 0.90
BEGIN = re.compile(r"#\s*BEGIN SOLUTION Task (\d+)")
END = re.compile(r"#\s*END SOLUTION")


@dataclass
class Mutant:
    task: int
    operator: str
    occurrence: int
    line: int
    before: str  # the changed lines, stripped, joined by " / "
    after: str
    code: str = field(repr=False)

    @property
    def key(self) -> str:
        """Stable across edits elsewhere in the file: what the reviewed list names."""
        return f"task{self.task} {self.operator}: {self.before} -> {self.after}"


def task_regions(code: str) -> dict[int, int]:
    """Line number -> task, for every line strictly between a task's BEGIN and END markers."""
    lines, task = {}, None
    for number, text in enumerate(code.splitlines(), start=1):
        if END.search(text):
            task = None
        elif (begin := BEGIN.search(text)) is not None:
            task = int(begin.group(1))
        elif task is not None:
            lines[number] = task
    return lines


def operators() -> dict:
    """cosmic-ray's core operators that need no arguments, and this project's."""
    core = {name: get_operator(name) for name in operator_names() if name.startswith("core/")}
    chosen = {name: cls for name, cls in core.items() if not cls.arguments()}  # VariableReplacer needs a target
    return {name: cls() for name, cls in {**chosen, **OPERATORS}.items()}


def changed_lines(code: str, mutated: str) -> tuple[str, str]:
    before, after = [], []
    for line in difflib.unified_diff(code.splitlines(), mutated.splitlines(), lineterm="", n=0):
        if line.startswith("-") and not line.startswith("---"):
            before.append(line[1:].strip())
        elif line.startswith("+") and not line.startswith("+++"):
            after.append(line[1:].strip())
    return " / ".join(before), " / ".join(after)


def generate_mutants(code: str, tasks: set[int] | None = None) -> tuple[list[Mutant], int]:
    """The distinct, valid mutants of the task regions, and how many were dropped as invalid Python."""
    regions = task_regions(code)
    module = get_ast(code)
    mutants, seen, invalid = [], {code}, 0
    for name, op in operators().items():
        starts = [start for node in ast_nodes(module) for start, _ in op.mutation_positions(node)]
        for occurrence, (line, _) in enumerate(starts):
            task = regions.get(line)
            if task is None or (tasks and task not in tasks):
                continue
            mutated = mutate_code(code, op, occurrence)
            if mutated is None or mutated in seen:
                continue
            seen.add(mutated)
            try:
                compile(mutated, str(SOLUTION), "exec")
            except SyntaxError:
                invalid += 1
                continue
            before, after = changed_lines(code, mutated)
            mutants.append(Mutant(task, name, occurrence, line, before, after, mutated))
    return mutants, invalid


def verdict(result: dict) -> tuple[str, list[str]]:
    """("killed" | "timed out" | "survived", the checks that failed)."""
    failed = [name for name, c in result["checks"].items() if not c["passed"]]
    if any("timed out" in p for p in result["problems"]):
        return "timed out", failed
    return ("killed" if failed else "survived"), failed


def grade_mutants(mutants: list[Mutant], workers: int, progress: bool = True) -> list[dict]:
    """One record per mutant: its fields, verdict and failed checks, graded by a pool of judges."""
    from tqdm.auto import tqdm

    records = [None] * len(mutants)
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp, \
            ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {}
        for i, mutant in enumerate(mutants):
            path = Path(tmp) / f"mutant{i:04d}.py"
            path.write_text(mutant.code)
            futures[pool.submit(judge_one, path, KEY, "none", MEMORY_MB, TIMEOUT)] = i
        bar = tqdm(total=len(mutants), desc="grading mutants", unit="mutant", disable=not progress)
        for future in as_completed(futures):
            i = futures[future]
            status, failed = verdict(future.result())
            record = asdict(mutants[i])
            del record["code"]
            records[i] = {**record, "key": mutants[i].key, "verdict": status, "failed_checks": failed}
            bar.update(1)
        bar.close()
    return records


def correct_variants(code: str) -> list[Mutant]:
    """The bank's correct variants, each as a "mutant" of the tasks whose regions it rewrites."""
    regions = task_regions(code)
    variants = []
    for name, edits in CORRECT.items():
        variant = apply_edits(edits)
        changed = {regions.get(i + 1) for i, (a, b) in enumerate(zip(code.splitlines(), variant.splitlines())) if a != b}
        changed = sorted(t for t in changed if t is not None) or [0]
        variants.append(Mutant(changed[0], f"correct/{name}", 0, 0, "", "", variant))
    return variants


def correct_rates(records: list[dict]) -> dict:
    """Per task: correct variants, how many kept full marks, and the names of those that did not."""
    rows = {}
    for task in sorted({r["task"] for r in records}) + ["all"]:
        mine = [r for r in records if task == "all" or r["task"] == task]
        lost = [r["operator"].split("/", 1)[1] for r in mine if r["verdict"] != "survived"]
        rows[task] = {"variants": len(mine), "full_marks": len(mine) - len(lost), "lost_points": lost}
    return rows


def read_equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    """Reviewed equivalent mutants: key -> why no check can tell them from the solution."""
    with path.open("rb") as f:
        return {entry["mutant"]: entry["reason"] for entry in tomllib.load(f).get("equivalent", [])}


def summarise(records: list[dict], equivalents: dict[str, str]) -> dict:
    """Per task and overall: mutants, equivalent, killed, timed out, survived, score; the survivors
    nobody reviewed, and reviewed entries that no longer survive (or no longer exist)."""
    rows = {}
    for task in sorted({r["task"] for r in records}) + ["all"]:
        mine = [r for r in records if task == "all" or r["task"] == task]
        counts = Counter("equivalent" if r["verdict"] == "survived" and r["key"] in equivalents else r["verdict"]
                         for r in mine)
        scored = len(mine) - counts["equivalent"]
        caught = counts["killed"] + counts["timed out"]
        rows[task] = {"mutants": len(mine), "equivalent": counts["equivalent"], "killed": counts["killed"],
                      "timed out": counts["timed out"], "survived": counts["survived"],
                      "score": caught / scored if scored else 1.0}
    surviving = {r["key"] for r in records if r["verdict"] == "survived"}
    graded_tasks = {f"task{r['task']}" for r in records}
    return {"rows": rows,
            "unreviewed": [r for r in records if r["verdict"] == "survived" and r["key"] not in equivalents],
            "stale": sorted(k for k in equivalents if k not in surviving and k.split(" ", 1)[0] in graded_tasks)}


def report(summary: dict, invalid: int) -> str:
    titles = {t.number: t.title for t in TASKS}
    lines = [f"{'task':<46} {'mutants':>7} {'equiv.':>6} {'killed':>6} {'t/out':>5} {'surv.':>5} {'score':>7}"]
    for task, row in summary["rows"].items():
        name = "all tasks" if task == "all" else f"Task {task}: {titles[task]}"
        lines.append(f"{name[:46]:<46} {row['mutants']:>7} {row['equivalent']:>6} {row['killed']:>6} "
                     f"{row['timed out']:>5} {row['survived']:>5} {row['score']:>7.1%}")
    lines.append(f"({invalid} mutants dropped as invalid Python; timed out counts as killed)")
    if summary["unreviewed"]:
        lines.append("\nSurvivors not reviewed (a check should kill each, or it goes to mutation_equivalents.toml):")
        lines += [f"  line {r['line']}: {r['key']}" for r in summary["unreviewed"]]
    if summary["stale"]:
        lines.append("\nReviewed as equivalent but killed or gone now (remove from mutation_equivalents.toml):")
        lines += [f"  {key}" for key in summary["stale"]]
    return "\n".join(lines)


def correct_report(rows: dict) -> str:
    titles = {t.number: t.title for t in TASKS}
    lines = [f"\n{'correct variants, by the task they rewrite':<46} {'variants':>8} {'full marks':>10}"]
    for task, row in rows.items():
        name = "all tasks" if task == "all" else f"Task {task}: {titles.get(task, '?')}"
        lines.append(f"{name[:46]:<46} {row['variants']:>8} {row['full_marks']:>10}"
                     + (f"   lost points: {', '.join(row['lost_points'])}" if row["lost_points"] else ""))
    return "\n".join(lines)


def targets_met(summary: dict, correct: dict) -> bool:
    rows = summary["rows"]
    return rows["all"]["score"] >= TARGET_OVERALL and all(
        row["score"] >= TARGET_PER_TASK for task, row in rows.items() if task != "all") and \
        correct["all"]["full_marks"] == correct["all"]["variants"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2, help="judges grading at once (default 2)")
    ap.add_argument("--task", type=int, action="append", help="only this task's mutants (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the mutants and grade none")
    ap.add_argument("--json", type=Path, help="write every mutant's verdict and the summary here")
    args = ap.parse_args(argv)

    code = SOLUTION.read_text()
    mutants, invalid = generate_mutants(code, set(args.task or ()))
    if args.list:
        print("\n".join(f"line {m.line}: {m.key}" for m in mutants))
        print(f"{len(mutants)} mutants ({invalid} invalid dropped)")
        return 0
    print(f"{len(mutants)} mutants of {SOLUTION.relative_to(REPO)}, graded with {args.workers} judges")
    from docs_figures import machine

    measured_on = machine()
    started = time.monotonic()
    variants = [] if args.task else correct_variants(code)
    graded = grade_mutants(mutants + variants, args.workers)
    records, variant_records = graded[:len(mutants)], graded[len(mutants):]
    summary = summarise(records, read_equivalents())
    correct = correct_rates(variant_records) if variants else {"all": {"variants": 0, "full_marks": 0, "lost_points": []}}
    print(report(summary, invalid))
    if variants:
        print(correct_report(correct))
    print(f"\n{datetime.date.today()}: {time.monotonic() - started:.0f} s for {len(mutants)} mutants")
    if args.json:
        args.json.write_text(json.dumps({"date": str(datetime.date.today()), "machine": measured_on,
                                         "seconds": round(time.monotonic() - started), "invalid": invalid,
                                         "summary": summary, "correct": correct, "mutants": records}, indent=1))
    met = targets_met(summary, correct)
    print(f"targets ({TARGET_OVERALL:.0%} of mutants overall, {TARGET_PER_TASK:.0%} every task, every correct "
          f"variant at full marks): {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
