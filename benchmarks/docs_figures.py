"""The figures the documentation pages show, generated from the benchmarks' results files.

    python benchmarks/docs_figures.py [--check] [PAGE ...]        (make docs)

In a page, a generated section is the lines between

    <!-- figures: NAME -->
    <!-- /figures -->

where NAME is the stem of a results file in benchmarks/results/ (``rerun`` for rerun.json), or
``stem.part`` for one part of what that file gives (``gradescope.summary``). Without ``--check``
every section of every page is rewritten in place from its results file; with ``--check`` nothing
is written, and the script exits 1 listing each section that differs from what its file gives and
each section whose results file is missing. Each rendered section ends with a line naming the
command that measured it, its date and the machine (cores, load average, torch). A section whose
benchmark depends on files that differ from those it measured (each results file records the git
blob id of every file in its ``DEPENDS``) also says that it has not been re-measured since; for an
older results file without those ids, files committed after its date count (where git's history
is there to tell; a shallow clone cannot, and then that line is neither written nor compared).

The benchmarks write their results files through ``write_results`` (below), so every file carries
the same ``date``, ``command`` and ``machine`` fields; ``tests/test_docs.py`` runs the check.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
PAGES = ["README.md", "autograder/GRADING.md", "solution/INSTRUCTORS.md", "solution/student_README.md",
         "tests/README.md"]
BEGIN = re.compile(r"^<!-- figures: ([A-Za-z0-9_-]+)(?:\.([A-Za-z0-9_-]+))? -->$")
END = "<!-- /figures -->"
STALE_PREFIX = "*Not re-measured since"
WIDTH = 100  # prose lines are wrapped as the pages wrap theirs

# -- what the benchmarks call -----------------------------------------------------------------------


def machine() -> dict:
    """The machine a benchmark runs on, and its 1-minute load average before it starts."""
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    return {"cores": os.cpu_count(), "load_before": os.getloadavg()[0], "torch": torch_version,
            "platform": platform.platform()}


def write_results(name: str, record: dict, measured_on: dict) -> Path:
    """``benchmarks/results/NAME.json``: the record, with the date, the command, ``measured_on``
    (``machine()`` as it was before the benchmark started) and ``sources``, the git blob id of each
    file the figures depend on (``DEPENDS``), by which a page tells that they are out of date."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(REPO).as_posix() if script.is_relative_to(REPO) else script.name
    command = " ".join(["python", shown, *sys.argv[1:]])
    path = RESULTS / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"benchmark": name, "date": time.strftime("%Y-%m-%d"), "command": command,
                                "machine": measured_on, **record,
                                "sources": tracked_sources(DEPENDS.get(family(name), []))}, indent=1) + "\n")
    return path


# -- formatting -----------------------------------------------------------------------------------


def sig(x: float, digits: int = 2) -> str:
    """``x`` to ``digits`` significant figures, without an exponent: 113.4 -> 110, 2.128 -> 2.1."""
    if x == 0 or not math.isfinite(x):
        return str(x)
    places = digits - 1 - math.floor(math.log10(abs(x)))
    rounded = round(x, places)
    return f"{rounded:.{max(places, 0)}f}"


def seconds(s: float) -> str:
    return f"{s:.0f} s" if s >= 100 else f"{s:.1f} s"


def span(values: list[float], fmt: Callable[[float], str]) -> str:
    low, high = min(values), max(values)
    return fmt(low) if fmt(low) == fmt(high) else f"{fmt(low).split()[0]}-{fmt(high)}"


def megabytes(limit: str) -> str:
    """Docker's ``768m`` as ``768 MB``."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kmg]?)b?", str(limit).lower())
    if not match:
        return str(limit)
    value, unit = float(match.group(1)), match.group(2)
    mb = value / 1024 if unit == "k" else value * 1024 if unit == "g" else value if unit == "m" else value / 2**20
    return f"{mb:.0f} MB"


def machine_text(record: dict) -> str:
    m = record.get("machine")
    load = record.get("load_before")
    when = "before it ran"
    if isinstance(m, dict):
        if "load_before" in m:
            load = m["load_before"]
        elif "load_1min" in m:
            load, when = m["load_1min"], "as it ended"
        parts = [f"{m['cores']} cores" if m.get("cores") else None, m.get("platform"),
                 f"Python {m['python']}" if m.get("python") else None,
                 f"torch {m['torch']}" if m.get("torch") else None]
        text = ", ".join(p for p in parts if p)
    else:
        text = str(m) if m else "machine not recorded"
    return text + ("; load average not recorded" if load is None else f"; load average {load:.2f} {when}")


def models_text(model: str) -> str:
    return {"rnn": "vanilla RNN", "lstm": "LSTM", "lstm_fb1": "LSTM with forget-gate bias 1"}.get(model, model)


def claims_held(claims: list) -> str:
    return f"{sum(bool(c) for c in claims)}/{len(claims)}"


# -- the renderers: a results file's record -> the section's lines, its footer aside ----------------


CLASS_EXAMPLE = {"teams": 30, "configurations": 3, "below_full_marks": 10, "workers": 2}


def class_seconds(run_seconds: float) -> float:
    """``--rerun all``'s time for ``CLASS_EXAMPLE``: its runs, ``workers`` at once, each as long as one."""
    runs = CLASS_EXAMPLE["configurations"] + CLASS_EXAMPLE["below_full_marks"]
    return math.ceil(runs / CLASS_EXAMPLE["workers"]) * run_seconds


def render_rerun(r: dict, part: str) -> list[str]:
    """The tolerances of ``rnnlab grade --rerun`` next to the largest moves measured, and a re-run's time."""
    tol = r["tolerances"]
    ways = [w for w in ("2 threads", "1 thread, float32") if w in r["moves"]]
    way_text = {"2 threads": "1 vs 2 threads", "1 thread, float32": "float32 instead of bfloat16"}

    def tolerance(t: dict) -> str:
        parts = []
        if t["absolute"] and t["relative"]:
            parts.append(f"±({t['absolute']:g} + {100 * t['relative']:g}%)")
        elif t["absolute"]:
            parts.append(f"±{t['absolute']:g}")
        elif t["relative"]:
            parts.append(f"±{100 * t['relative']:g}%")
        if t["factor"] > 1:
            power = math.log10(t["factor"])
            parts.append(f"a factor of 10^{power:.0f}" if t["factor"] >= 1000 and power == round(power)
                         else f"a factor of {t['factor']:g}")
        return " or ".join(parts) or "exact"

    def largest(kind: str, models: tuple[str, ...], measure: str) -> str:
        found = []
        for way in ways:
            for model in models:
                move = r["moves"][way].get(f"{model} {kind}")
                if move is None:
                    continue
                a, b = move["this"], move["reference"]
                if measure == "absolute":
                    size = abs(a - b)
                elif measure == "relative":
                    size = abs(a - b) / abs(b) if b else (0.0 if a == b else math.inf)
                else:
                    size = max(a / b, b / a) if a > 0 and b > 0 else (1.0 if a == b else math.inf)
                found.append((size, model, way))
        if not found:
            return "not measured"
        size, model, way = max(found)
        if size == (1.0 if measure == "factor" else 0.0):
            return "none"
        where = f" ({models_text(model)}, {way_text.get(way, way)})" if len(models) > 1 else f" ({way_text.get(way, way)})"
        if not math.isfinite(size):
            return "to or from 0" + where
        shown = {"absolute": sig(size), "relative": f"{sig(100 * size)}%", "factor": f"a factor of {sig(size)}"}
        return shown[measure] + where

    lstms = tuple(m for m in ("lstm", "lstm_fb1") if any(f"{m} recall" in v for v in r["moves"].values()))
    every = ("rnn",) + lstms
    rows = [("recall accuracy", tol["recall"], largest("recall", every, "absolute")),
            ("best validation perplexity", tol["best val ppl"], largest("best val ppl", every, "relative")),
            ("gradient at the name, initialisation", tol["grad init"], largest("grad init", every, "relative")),
            ("gradient at the name, trained (LSTMs)", tol["grad trained"], largest("grad trained", lstms, "factor")),
            ("gradient at the name, trained (vanilla RNN)", tol["rnn grad trained"],
             largest("grad trained", ("rnn",), "factor"))]
    lines = ["| number | tolerance | largest move measured (another thread count or precision) |",
             "|---|---|---|"]
    lines += [f"| {label} | {tolerance(t)} | {move} |" for label, t, move in rows]
    again = r["moves"].get("1 thread, again")
    prose = []
    if again is not None:
        if all(m["this"] == m["reference"] for m in again.values()):
            prose.append("The same code re-run with the thread count and precision it recorded repeated every "
                         "number exactly.")
        else:
            prose.append("The same code re-run with the thread count and precision it recorded moved its numbers "
                         f"by up to {r['worst_share']['1 thread, again']:.2f} of a tolerance.")
    size = "the lab's default experiment" if r.get("size") == "default" else "the experiment at LAB_QUICK's size"
    prose.append(f"The course's run of {size} took {seconds(r['rerun_seconds'])} (one core, as every sandboxed "
                 f"submission gets), and said \"{r['rerun_verdict']}\". A class pays one such run per distinct "
                 "configuration its notebooks printed and one per team below full marks (its own code, in the "
                 f"sandbox, as long): {CLASS_EXAMPLE['teams']} teams with {CLASS_EXAMPLE['configurations']} "
                 f"configurations and {CLASS_EXAMPLE['below_full_marks']} teams below full marks cost about "
                 f"{seconds(class_seconds(r['rerun_seconds']))} with `--workers 2` on this machine.")
    if part == "tolerances":
        return lines
    if part == "time":
        return prose[-1:]
    return lines + [""] + [" ".join(prose)]


def render_forgery(r: dict, part: str) -> list[str]:
    """``rnnlab grade --rerun`` as a judge: false alarms on honest notebooks, forgeries let through
    (part ``verdicts``), and what its runs cost."""
    size = "the lab's default experiment" if r["size"] == "default" else "the experiment at LAB_QUICK's size"
    styles = sum(h["name"].startswith("correct variant") for h in r["honest"])
    seeds = "seed 0" if r["seeds"] == 1 else f"seeds 0 to {r['seeds'] - 1}"
    verdicts = [f"On {size}: {r['false_alarms']} of {len(r['honest'])} honest notebooks were not confirmed ({seeds}, "
                "1 and 2 threads, the lab's precision and float32, each also with its `ran as:` line deleted, and "
                f"{styles} correct files in other styles), and {r['missed']} of {len(r['forged'])} forged notebooks "
                "kept their points."]
    if part == "verdicts":
        return verdicts
    course, own = r["course_run_seconds"], r["own_code_seconds"]
    return verdicts + [
        "",
        "| run | seconds each | how many a class needs |",
        "|---|---|---|",
        f"| the course's run of one configuration | {span(course, seconds)} ({len(course)} runs) | one per "
        "distinct printed configuration (threads and precision per model included) |",
        f"| a team's own code in the sandbox | {seconds(own)} | one per team the judge did not give full marks |",
        "",
        f"Each run is held to one core in the sandbox ({r['mode']}), and `--workers` of them run at once."]


def render_gradescope(r: dict, part: str) -> list[str]:
    """The reference solution graded as Gradescope grades it, at its default resources."""
    from rnnlab.tasks import TASKS

    full = sum(t.points for t in TASKS)
    runs = r["runs"]
    scores = sorted({run["score"] for run in runs})
    score = " and ".join(f"{s:g}" for s in scores)
    walls = [run["wall_s"] for run in runs]
    peaks = [run["peak_mb"] for run in runs if run["peak_mb"] is not None]
    left = [p for run in runs for p in run["left_running"]]
    resources = f"{r['cpus']} CPU and {megabytes(r['memory'])}"
    if part == "summary":
        return [f"The reference solution graded {score} in {span(walls, seconds)} at {resources}, "
                + (f"peak memory {span(peaks, lambda x: f'{x:.0f} MB')}, " if peaks else "")
                + f"over {len(runs)} run{'s' * (len(runs) != 1)}."]
    listed = lambda values, unit: (", ".join(f"{v:g}{unit}" for v in values[:-1]) + " and " if len(values) > 1 else "") \
        + f"{values[-1]:g}{unit}"
    suffice = scores == [full] and not left
    return [f"**At Gradescope's default resources** (`benchmarks/bench_gradescope.py`): the reference solution "
            f"graded {score} in {listed(walls, ' s')} at {resources}, no network, "
            + (f"with a peak memory of {listed(peaks, '')} MB (the container's memory cgroup high-water mark, "
               "page cache included), " if peaks else "")
            + ("and no process left running. " if not left else f"and left running: {', '.join(map(str, left))}. ")
            + ("Gradescope's default autograder resources therefore suffice: nothing needs changing in its settings."
               if suffice else "At these resources it did not grade as it should: see the results file.")]


def render_training(r: dict, part: str) -> list[str]:
    """``make bench``: the original notebook's pipeline against the lab's, on the same text."""
    lines = [f"| | original | lab{', `--bf16`' if r['args']['bf16'] else ''} |", "| --- | --- | --- |"]
    for name, m in r["models"].items():
        label = "RNN" if name == "rnn" else name.upper()
        orig_step, our_step = m["original_train_s"] / m["original_steps"], m["our_train_s"] / m["our_steps"]
        lines += [f"| {label}: seconds a training step | {orig_step:.3f} | {our_step:.3f} ({orig_step / our_step:.1f}x) |",
                  f"| {label}: steps to the original's {m['original_steps']}-step perplexity ({m['target_ppl']:.1f}) | "
                  f"{m['original_steps']} | {m['our_steps']}{'' if m['reached'] else ' (not reached)'} |",
                  f"| {label}: training time to it | {m['original_train_s']:.1f} s | {m['our_train_s']:.1f} s "
                  f"({m['original_train_s'] / m['our_train_s']:.1f}x) |",
                  f"| {label}: one validation pass | {m['original_eval_s']:.1f} s | {m['our_eval_s']:.2f} s |"]
    lines.append(f"| peak resident memory of the process (both pipelines) | | {r['peak_mb']:.0f} MB |")
    return lines


def render_lab(r: dict, part: str) -> list[str]:
    """``make bench-lab``: the experiment's (and the sweep's) wall time, training time, memory."""
    def train(run: dict) -> str:
        return " / ".join(f"{s:.1f}" for s in run["train_seconds"].values()) + " s"

    runs = r["runs"]
    walls = [run["wall_seconds"] for run in runs]
    data = r["args"].get("data", "embedded")
    on = "" if data == "embedded" else f" on `{data}`"
    unit = "seed" if r["args"].get("seeds") else "run"
    if part == "default":
        return [f"The default experiment{on} took {span(walls, seconds)} wall over {len(runs)} "
                f"{unit}{'s' * (len(runs) != 1)}, with a peak memory of {max(x['peak_mb'] for x in runs):.0f} MB"
                + (f" (vocabulary {runs[-1]['vocab_size']}, {runs[-1]['steps']} steps a model)." if on else ".")]
    if part == "student":  # the student README: what the experiment cell costs, in plain words
        fp32 = r.get("fp32")
        return [f"On a {r['machine']['cores']}-core machine with nothing else running, the notebook's experiment cell "
                f"(training the three models) took {span(walls, seconds)} of wall-clock time, over {len(runs)} runs"
                + (f"; in float32 throughout, as on a CPU without bfloat16 support, it took "
                   f"{fp32['wall_seconds'] / walls[-1]:.1f} times as long." if fp32 else ".")]
    if part == "claims":  # the first run's claims as it printed them, and on how many runs each held
        held = {c["id"]: sum(x["id"] == c["id"] and x["holds"] for run in runs for x in run["claim_texts"])
                for c in runs[0]["claim_texts"]}
        return [f"- {c['text']} ({'holds' if c['holds'] else 'FAILS'}"
                + (f"; held on {held[c['id']]} of {len(runs)} {unit}s)" if len(runs) > 1 else ")")
                for c in runs[0]["claim_texts"]]
    lines = ["| configuration | wall time | training (RNN / LSTM / LSTM fb1) | peak memory | claims held |",
             "| --- | --- | --- | --- | --- |"]
    trains = [list(run["train_seconds"].values()) for run in runs]
    per_model = " / ".join(span([t[i] for t in trains], lambda x: f"{x:.1f}") for i in range(len(trains[0])))
    held = sorted({claims_held(run["claims"]) for run in runs})
    lines.append(f"| default, {len(runs)} run{'s' * (len(runs) != 1)} | {span(walls, seconds)} | {per_model} s | "
                 f"{span([x['peak_mb'] for x in runs], lambda x: f'{x:.0f} MB')} | {', '.join(held)} |")
    for key, label in (("fp32", "default in float32 throughout (a CPU without bfloat16)"),
                       ("compare", "float32, 3,000 steps, batch 32, lr 1e-3, validation every 250 steps (`--compare`)")):
        run = r.get(key)
        if run:
            lines.append(f"| {label} | {seconds(run['wall_seconds'])} ({run['wall_seconds'] / walls[-1]:.2f}x) | "
                         f"{train(run)} | {run['peak_mb']:.0f} MB | {claims_held(run['claims'])} |")
    if r.get("sweep"):
        s = r["sweep"]
        lines.append(f"| the distance sweep | {seconds(s['wall_seconds'])} | | {s['peak_mb']:.0f} MB | "
                     f"{claims_held(s['claims'])} |")
    return lines


def render_busy(r: dict, part: str) -> list[str]:
    """``benchmarks/bench_busy.py``: the experiment next to busy neighbours, per thread setting;
    ``student``: next to one busy program, PyTorch's default against the lab's."""
    if part == "student":  # in plain words: which experiment, which times are compared, for each setting
        one = {run["setting"]: run for run in r["runs"] if run["neighbours"] == 1}
        lab = one.pop("lab default (threads=None)")
        threads = {"threads=1": "with one thread (`threads=1`)",
                   "threads=2 (PyTorch's default)": "with PyTorch's default of one thread a core (`threads=2` here)"}
        others = "; ".join(f"{threads.get(setting, setting)}, {run['ratio_to_idle']:.1f} times as long"
                           for setting, run in one.items())
        return [f"With one other program keeping a core busy, a shortened experiment ({r['steps']} training steps a "
                f"model) took {lab['ratio_to_idle']:.1f} times as long as on the idle machine with the lab's default "
                "threads" + (f"; {others}." if others else ".")]
    counts = sorted({run["neighbours"] for run in r["runs"]})
    header = ["idle" if c == 0 else f"{c} busy neighbour{'s' * (c > 1)}" for c in counts]
    lines = ["| threads | " + " | ".join(header) + " |", "| --- |" + " --- |" * len(counts)]
    for setting in dict.fromkeys(run["setting"] for run in r["runs"]):
        cells = []
        for c in counts:
            run = next((x for x in r["runs"] if x["setting"] == setting and x["neighbours"] == c), None)
            cells.append("" if run is None else f"{seconds(run['wall_seconds'])} ({run['ratio_to_idle']:.2f}x, "
                                                  f"{run['threads']} threads)")
        lines.append(f"| {setting} | " + " | ".join(cells) + " |")
    return lines


def render_grading(r: dict, part: str) -> list[str]:
    """``make bench-grading``: grading speed through the judge and the sandbox."""
    return ["| what | seconds |", "| --- | --- |",
            f"| the hidden suite, one submission, warm judge | {r['judge_seconds']:.1f} |",
            f"| `rnnlab grade`, one submission (one worker, start-up included) | {r['grade_one_seconds']:.1f} |",
            f"| `rnnlab grade`, {r['class_size']} submissions, {r['workers']} workers | {r['grade_class_seconds']:.1f} "
            f"({r['per_submission_seconds']:.2f} a submission) |",
            f"| `otter run`, one submission (start-up included) | {r['otter_run_seconds']:.1f} |"]


def render_report(r: dict, part: str) -> list[str]:
    """``make bench-report``: the class report and its copy detection."""
    return [f"The class report for {r['class_size']} submissions ({r['pairs']} pairs) took "
            f"{r['report_seconds']:.1f} s (report.html {r['report_kb']:.0f} KB), copy detection alone "
            f"{r['detection_seconds']:.1f} s ({r['pairs_flagged']} pairs flagged at threshold {r['threshold']:g})."]


def small(x: float) -> str:
    """Two significant figures, in exponent form below 0.001: 2.9e-07, 0.011, 0."""
    return "0" if x == 0 else f"{x:.1e}" if abs(x) < 1e-3 else sig(x)


def number_range(claims: dict, cid: str, key: str, fmt: Callable[[float], str] = small) -> str:
    """A claim's number over the runs, ``low to high`` (one value where they agree)."""
    low, high = claims[cid]["numbers"][key]
    return fmt(low) if fmt(low) == fmt(high) else f"{fmt(low)} to {fmt(high)}"


def percent(x: float) -> str:
    return f"{x:.1%}"


def held_text(kind: str, k: dict) -> str:
    """``all 10 seeds``, or which claims held on fewer runs than there were."""
    short = {cid: c for cid, c in k["claims"].items() if c["held"] < c["runs"]}
    runs = len(k["runs"])
    every = f"both {kind}" if runs == 2 else f"all {runs} {kind}"
    if not short:
        return f"every claim held on {every}"
    return (f"{len(k['claims']) - len(short)} of {len(k['claims'])} claims held on {every}, and "
            + ", ".join(f"`{cid}` on {c['held']} of {c['runs']}" for cid, c in short.items()))


def render_seeds(r: dict, part: str) -> list[str]:
    """``make bench-seeds``: each run's time and the claims it held; ``table``: the lab's main figures
    over the seeds (the front page); ``held``: on how many runs each claim held; ``trained``: the
    trained gradient's figures that no claim states; ``sweep``: the sweep's claims' figures."""
    exp, sweep, rev = r["kinds"]["experiment"], r["kinds"]["sweep"], r["kinds"]["reversed"]
    c = exp["claims"]
    if part == "table":
        sd = len(exp["runs"])
        return [f"| over {sd} seeds | vanilla RNN | LSTM | LSTM, forget-gate bias 1 |", "| --- | --- | --- | --- |",
                "| gradient reaching the name 21 steps back, at initialisation (share of the recall step's own) | "
                f"{number_range(c, 'init_far_gradient', 'far_rnn')} | {number_range(c, 'init_far_gradient', 'far_lstm')} | "
                f"{number_range(c, 'forget_bias_keeps_gradient', 'far_lstm_fb1')} |",
                f"| recall accuracy after training (chance: 0.125) | "
                + " | ".join(number_range(c, "lstm_learns_recall", f"accuracy_{m}", lambda x: f"{x:.2f}")
                             for m in ("rnn", "lstm", "lstm_fb1")) + " |",
                "| best validation perplexity above the perplexity floor of its validation text | "
                + " | ".join(number_range(c, "perplexity_floor", f"gap_{m}", percent) for m in ("rnn", "lstm", "lstm_fb1"))
                + " |",
                "",
                f"Yet the RNN's whole `W_hh` gradient norm is {number_range(c, 'weight_hh_norm_misleads', 'ratio', lambda x: sig(x) + 'x')} "
                "the LSTM's early in training: that norm is dominated by short distances and does not show vanishing, "
                f"which is why the lab probes distances instead. Over the runs, {held_text('seeds', exp)}."]
    if part == "held":
        return [f"Over the seeds, {held_text('seeds', exp)}; {held_text('sweep seeds', sweep)}; with the models' "
                f"layers created in reverse order, {held_text('seeds', rev)}."]
    if part == "trained":
        t = c["trained_gradient_reaches_name"]["numbers"]
        per_run = runs_of(r, "experiment")
        filler_wins = sum(cl["numbers"][f"after_{m}"] > cl["numbers"][f"far_{m}"] for run in per_run
                          for cl in run["claims"] if cl["id"] == "trained_gradient_reaches_name" for m in ("lstm", "lstm_fb1"))
        return [f"After training the LSTMs' gradient at the name is {sig(min(t['far_lstm'][0], t['far_lstm_fb1'][0]))} "
                f"to {sig(max(t['far_lstm'][1], t['far_lstm_fb1'][1]))} of the recall step's own, while a filler after "
                f"the name gets {sig(min(t['after_lstm'][0], t['after_lstm_fb1'][0]))} to "
                f"{sig(max(t['after_lstm'][1], t['after_lstm_fb1'][1]))} (more than the name on {filler_wins} of the "
                f"{2 * len(per_run)} trained LSTMs), so no claim says the curve peaks at the name. The RNN's trained "
                f"gradient at the name ranges over {number_range(c, 'trained_gradient_reaches_name', 'far_rnn')} of the "
                "recall step's own across seeds, though it never learns the recall, so no claim says it does not "
                "reach the name."]
    if part == "sweep":
        w = sweep["claims"]
        reach = lambda m: number_range(w, "sweep_who_learns", f"longest_learned_{m}", lambda x: f"{x:.0f}")
        at90 = max(w["sweep_who_learns"]["numbers"][f"accuracy_at_90_{m}"][1] for m in ("rnn", "lstm", "lstm_fb1"))
        far = lambda d, m: number_range(w, "sweep_init_gradient_vanishes", f"far_{d}_{m}")
        distances = runs_of(r, "sweep")[0]["distances"]
        near, longest = min(distances), max(distances)
        norms = w["sweep_weight_hh_norm_flat"]["numbers"]
        return [f"Over the {len(sweep['runs'])} sweep seeds, {held_text('sweep seeds', sweep)}. The longest distance "
                f"at which each model learned the recall (0: none): RNN {reach('rnn')}, LSTM {reach('lstm')}, LSTM "
                f"fb1 {reach('lstm_fb1')}; at distance {longest} no model's recall accuracy "
                f"exceeds {at90:.2f} (chance: 0.125). At initialisation the gradient at the name (share of the "
                f"recall step's own) shrinks with the distance: RNN {far(near, 'rnn')} at {near}, {far(longest, 'rnn')} "
                f"at {longest} (0: float32 underflow); LSTM {far(near, 'lstm')} at {near}, {far(longest, 'lstm')} at "
                f"{longest}; LSTM fb1 {far(near, 'lstm_fb1')} at {near}, {far(longest, 'lstm_fb1')} at {longest}; yet the RNN's whole `W_hh` gradient norm at initialisation stays between "
                f"{sig(norms['norm_min'][0], 3)} and {sig(norms['norm_max'][1], 3)} at every distance."]
    lines = ["| runs | seeds | wall time a run | claims held on every run |", "| --- | --- | --- | --- |"]
    for kind, k in r["kinds"].items():
        walls = [run["wall_seconds"] for run in k["runs"].values()]
        every = sum(c["held"] == c["runs"] for c in k["claims"].values())
        lines.append(f"| {kind} | {len(k['runs'])} | {span(walls, seconds) if walls else ''} | "
                     f"{every}/{len(k['claims'])} |")
    return lines


def runs_of(r: dict, kind: str) -> list[dict]:
    """Each run of ``kind`` in the seeds file the benchmark wrote (``solution/seeds/seeds.json``)."""
    return json.loads((REPO / r["written"][0]).read_text())[kind]["runs"]


def render_suite(r: dict, part: str) -> list[str]:
    """``benchmarks/bench_suite.py``: ``make TARGET`` from a bare fresh clone."""
    idle = [run["seconds"] for run in r["runs"] if not run["busy_neighbour"]]
    busy = [run["seconds"] for run in r["runs"] if run["busy_neighbour"]]
    passed = sum(run["passed"] for run in r["runs"])
    minutes = lambda s: f"{s / 60:.1f} min"
    modes = sorted({run["folder_mode"] for run in r["runs"]})
    return [f"`make {r['target']}` from a bare fresh clone in a `mktemp -d` folder (mode {', '.join(m[2:] for m in modes)}), "
            f"the install included, took {span(idle, minutes) if idle else 'no idle run'} over {len(idle)} runs in a row"
            + (f", and {span(busy, minutes)} next to a process spinning on one core" if busy else "")
            + f"; {passed} of {len(r['runs'])} runs passed."]


def render_mutation(r: dict, part: str) -> list[str]:
    """``make mutation``: the hidden checks against mutants of the solution and the correct bank."""
    rows, correct = r["summary"]["rows"], r["correct"]
    every = rows["all"]
    caught = every["killed"] + every["timed out"]
    tasks = ", ".join(f"Task {t}: {rows[t]['killed'] + rows[t]['timed out']} of {rows[t]['mutants'] - rows[t]['equivalent']}"
                      for t in sorted(k for k in rows if k != "all"))
    return [f"{every['mutants']} mutants of `solution/rnn_lm.py`, {every['equivalent']} reviewed equivalent: "
            f"{caught} of {every['mutants'] - every['equivalent']} others lost points ({every['score']:.0%}; {tasks}); "
            f"{correct['all']['full_marks']} of {correct['all']['variants']} correct variants of "
            "`tests/submission_bank.py` kept full marks."]


RENDERERS: dict[str, Callable[[dict, str], list[str]]] = {
    "rerun": render_rerun, "forgery": render_forgery, "gradescope": render_gradescope, "training": render_training, "lab": render_lab,
    "busy": render_busy, "grading": render_grading, "report": render_report, "seeds": render_seeds,
    "suite": render_suite, "mutation": render_mutation}
PARTS = {"rerun": {"", "tolerances", "time"}, "forgery": {"", "verdicts"}, "gradescope": {"", "summary"}, "lab": {"", "default", "claims", "student"}, "busy": {"", "student"},
         "seeds": {"", "table", "held", "trained", "sweep"}}
COMMANDS = {"rerun": "python benchmarks/bench_rerun.py", "forgery": "python benchmarks/bench_forgery.py", "gradescope": "python benchmarks/bench_gradescope.py",
            "mutation": "make mutation", "suite": "python benchmarks/bench_suite.py"}
# What each benchmark's figures depend on: a commit to one of these after the measurement's date
# marks its sections as not re-measured since.
DEPENDS = {
    "forgery": ["benchmarks/bench_forgery.py", "rnnlab/rerun.py", "rnnlab/rerun_program.py", "rnnlab/notebook.py",
                "tests/forged_notebooks.py", "tests/submission_bank.py", "solution/lab_support.py",
                "solution/rnn_lm.py", "autograder/rnnjudge/sandbox.py", "constraints.txt"],
    "rerun": ["benchmarks/bench_rerun.py", "rnnlab/rerun.py", "solution/lab_support.py", "solution/rnn_lm.py",
              "autograder/rnnjudge/sandbox.py", "constraints.txt"],
    "gradescope": ["benchmarks/bench_gradescope.py", "tests/grading_image.py", "rnnlab/autograder_build.py",
                   "autograder/rnnjudge", "solution/rnn_lm.py", "constraints.txt"],
    "training": ["benchmarks/bench_training.py", "solution/rnn_lm.py", "solution/lab_support.py", "constraints.txt"],
    "lab": ["benchmarks/bench_lab.py", "solution/lab_support.py", "solution/rnn_lm.py", "constraints.txt"],
    "busy": ["benchmarks/bench_busy.py", "benchmarks/bench_lab.py", "solution/lab_support.py", "solution/rnn_lm.py",
             "constraints.txt"],
    "grading": ["benchmarks/bench_grading.py", "autograder/rnnjudge", "rnnlab/grade.py", "rnnlab/autograder_build.py",
                "solution/rnn_lm.py", "tests/submission_bank.py", "constraints.txt"],
    "report": ["benchmarks/bench_report.py", "rnnlab/class_report.py", "rnnlab/similarity.py",
               "tests/submission_bank.py"],
    "seeds": ["benchmarks/bench_seeds.py", "solution/lab_support.py", "solution/rnn_lm.py", "constraints.txt"],
    "mutation": ["benchmarks/bench_mutation.py", "benchmarks/mutation_operators.py", "benchmarks/mutation_equivalents.toml",
                 "autograder/rnnjudge", "solution/rnn_lm.py", "tests/submission_bank.py"],
    "suite": ["Makefile", "pyproject.toml", "constraints.txt", "tests", "rnnlab", "autograder/rnnjudge", "solution"],
}


def family(stem: str) -> str:
    """The renderer of a results file: ``busy_full`` is rendered as ``busy`` is."""
    return stem if stem in RENDERERS else stem.split("_", 1)[0]


# -- staleness, from git's history ------------------------------------------------------------------


def blob_id(data: bytes) -> str:
    """The id git gives a file of these bytes (``git hash-object``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sources(paths: list[str], commit: str | None = None) -> dict[str, str]:
    """Each file git tracks under ``paths`` and its blob id: as it is in the working tree, or in
    ``commit`` (a benchmark that measures a clone of HEAD passes HEAD). The pages are left out:
    ``make docs`` writes the figures into them, so they are never what a figure depends on."""
    if commit:
        out = subprocess.run(["git", "ls-tree", "-r", commit, "--", *paths], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout
        ids = {line.split("\t", 1)[1]: line.split()[2] for line in out.splitlines()}
    else:
        files = subprocess.run(["git", "ls-files", "--", *paths], cwd=REPO, capture_output=True, text=True,
                               check=True).stdout.split("\n")
        ids = {f: blob_id((REPO / f).read_bytes()) for f in files if f and (REPO / f).is_file()}
    return without_pages(ids)


def without_pages(ids: dict[str, str]) -> dict[str, str]:
    return {f: i for f, i in ids.items() if f not in PAGES}


def tracked_sources(paths: list[str], commit: str | None = None) -> dict[str, str] | None:
    """``sources``, or None where git is not there to say which files it tracks."""
    try:
        return sources(paths, commit)
    except (OSError, subprocess.CalledProcessError):
        return None


def changed_since(record: dict, paths: list[str]) -> list[str] | None:
    """The paths among ``paths`` whose files differ from those the figures were measured on, or None
    where that cannot be told."""
    measured = record.get("sources")
    if measured is None:
        return changed_after(record["date"], paths)
    now = tracked_sources(paths)
    if now is None:
        return None
    measured = without_pages(measured)  # as ``sources`` leaves them out (older files held them)
    return affected(paths, {f for f in measured.keys() | now.keys() if measured.get(f) != now.get(f)})


def changed_after(date: str, paths: list[str]) -> list[str] | None:
    """For a results file without ``sources``: the paths among ``paths`` changed by a commit after
    ``date``, or None where git cannot tell."""
    try:
        shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=REPO, capture_output=True,
                                 text=True, check=True).stdout.strip()
        if shallow != "false":
            return None
        out = subprocess.run(["git", "log", f"--after={date}T23:59:59", "--format=", "--name-only", "--", *paths],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return affected(paths, {line for line in out.splitlines() if line})


def affected(paths: list[str], changed: set[str]) -> list[str]:
    """The paths (files or folders) among ``paths`` that hold a file of ``changed``."""
    return sorted(p for p in paths if any(c == p or c.startswith(p.rstrip("/") + "/") for c in changed))


# -- the sections -----------------------------------------------------------------------------------


class Section:
    def __init__(self, page: Path, line: int, stem: str, part: str, body: list[str]):
        self.page, self.line, self.stem, self.part, self.body = page, line, stem, part, body

    @property
    def name(self) -> str:
        return self.stem + (f".{self.part}" if self.part else "")

    @property
    def where(self) -> str:
        try:
            shown = self.page.resolve().relative_to(REPO)
        except ValueError:
            shown = self.page
        return f"{shown}:{self.line}"


def parse(page: Path) -> tuple[list[str], list[Section], list[str]]:
    """The page's lines, its sections in order, and the problems of its markers."""
    lines = page.read_text(encoding="utf-8").splitlines()
    sections, problems, i = [], [], 0
    while i < len(lines):
        match = BEGIN.match(lines[i].strip())
        if match:
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == END or BEGIN.match(lines[j].strip())),
                       None)
            if end is None or lines[end].strip() != END:
                problems.append(f"{page}:{i + 1}: section '{match.group(0)}' has no {END} before the next section "
                                "or the page's end")
                i += 1
                continue
            sections.append(Section(page, i + 1, match.group(1), match.group(2) or "", lines[i + 1:end]))
            i = end
        elif lines[i].strip() == END:
            problems.append(f"{page}:{i + 1}: {END} without a section before it")
        i += 1
    return lines, sections, problems


def render(stem: str, part: str, results: Path = RESULTS) -> tuple[list[str] | None, str | None, bool]:
    """(the section's lines, a problem, whether staleness could be told) for ``stem.part``."""
    path = results / f"{stem}.json"
    kind = family(stem)
    command = COMMANDS.get(stem, f"python benchmarks/bench_{kind}.py")
    if not path.is_file():
        return None, f"no results file {path.relative_to(REPO) if path.is_relative_to(REPO) else path} (run `{command}`)", True
    if kind not in RENDERERS:
        return None, f"no renderer for {path.name} in benchmarks/docs_figures.py", True
    if part not in PARTS.get(kind, {""}):
        return None, f"{kind} has no part {part!r} (parts: {sorted(PARTS.get(kind, {''}))})", True
    record = json.loads(path.read_text())
    command = record.get("command", command)
    lines = list(RENDERERS[kind](record, part))
    stale = changed_since(record, DEPENDS.get(kind, []))
    shown = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)
    if part == "student":  # a page students read in their own copy, which holds none of these files
        changed = "the lab's code"
        footer = f"*Measured by the course on {record['date']} ({machine_text(record)}).*"
    else:
        changed = ", ".join(f"`{p}`" for p in stale or [])
        footer = (f"*Measured by `{command}` on {record['date']} ({machine_text(record)}); generated from "
                  f"`{shown}` by `make docs`.*")
    if stale:
        lines += ["", f"{STALE_PREFIX} later changes to {changed}: these figures may be out of date"
                  + ("." if part == "student" else f" until `{command}` runs again.") + "*"]
    lines += ["", footer]
    return [part for line in lines for part in wrap(line)], None, stale is not None


def wrap(line: str) -> list[str]:
    """A prose line cut at ``WIDTH`` characters, never inside a code span; table rows as they are."""
    if not line or line.startswith("|"):
        return [line]
    kept = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", "\0"), line)
    return [part.replace("\0", " ") for part in
            textwrap.wrap(kept, WIDTH, break_long_words=False, break_on_hyphens=False)]


def without_stale(lines: list[str]) -> list[str]:
    """The lines without the paragraph that says the figures were not re-measured (and its blank line)."""
    kept, skipping = [], False
    for line in lines:
        skipping = skipping or line.startswith(STALE_PREFIX)
        if skipping:
            skipping = bool(line)
            continue
        kept.append(line)
    return kept


def process(pages: list[Path], check: bool, results: Path = RESULTS) -> list[str]:
    """Rewrite (or, with ``check``, compare) every section of ``pages``; the problems found."""
    problems = []
    for page in pages:
        lines, sections, page_problems = parse(page)
        problems += page_problems
        out, at = [], 0
        for section in sections:
            start = section.line  # the section's body starts after its marker line (1-based line = index + 1)
            out += lines[at:start]
            wanted, problem, told = render(section.stem, section.part, results)
            if problem:
                problems.append(f"{section.where}: section '{section.name}': {problem}")
                wanted = section.body if check else [f"*Not measured: {problem}.*"]
            elif check:
                same = section.body == wanted if told else without_stale(section.body) == without_stale(wanted)
                if not same and without_stale(section.body) == without_stale(wanted):
                    problems.append(f"{section.where}: section '{section.name}': the files its benchmark depends on "
                                    "are no longer (or again) the ones measured; run the benchmark again, or `make docs` "
                                    "to say whether it has been re-measured")
                elif not same:
                    problems.append(f"{section.where}: section '{section.name}' differs from "
                                    f"benchmarks/results/{section.stem}.json: run `make docs`")
            out += wanted
            at = start + len(section.body)
        out += lines[at:]
        if not check and out != lines:
            page.write_text("\n".join(out) + "\n", encoding="utf-8")
            print(f"rewrote the figures of {page}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a section differs")
    parser.add_argument("pages", nargs="*", type=Path, help=f"the pages (default: {', '.join(PAGES)})")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))  # rnnlab, for the points a grade is out of
    problems = process(args.pages or [REPO / p for p in PAGES], args.check)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
