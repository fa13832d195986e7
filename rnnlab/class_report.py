"""The class report for instructors: what the class got wrong, and who may have copied whom.

``write_class_report`` writes three files next to the grades:

- ``report.html``: one self-contained page (figures embedded as PNG, no script, no external file)
  with the score distribution, each task's points distribution, every check ranked by how many
  submissions failed it (with its most frequent failure messages, grouped), the submissions that
  could not be graded normally, and the pairs of submissions that share unusually much of their
  own code, side by side with the shared lines highlighted (``rnnlab.similarity``);
- ``class_summary.csv``: one row per check;
- ``similarity.csv``: one row per similar pair (only the header when detection is off).

Grades are read by duck typing: ``file``, ``task_points``, ``total``, ``status`` and ``checks``
(name -> ``task``, ``passed``, ``description``, ``message``), as ``rnnlab.grade.Grade`` has them,
and ``authors`` (a list of names) where a grade has it; a check without ``message`` is grouped by
its ``feedback``.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import re
import statistics
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from rnnjudge.registry import GATE_MESSAGE
from rnnjudge.session import printable
from rnnlab import similarity
from rnnlab.tasks import TASKS, TOTAL_POINTS

GRADED = "graded"  # the status of a submission graded normally
MESSAGE_GROUPS_SHOWN = 3
MESSAGE_LINES_SHOWN = 2  # of each example message; the rest is folded
PAIRS_SHOWN = 40  # side-by-side views on the page; similarity.csv has every pair
CONTEXT_LINES = 2  # unhighlighted lines shown around each shared region
FIGURE_COLUMNS = 3  # task charts a row
SUMMARY_COLUMNS = ["check", "task", "description", "failed", "graded", "share", "most_frequent_message"]
SIMILARITY_COLUMNS = ["file_a", "file_b", "score", "shared_fingerprints", "share_of_a", "share_of_b",
                      "shared_lines_a", "shared_lines_b"]


# ----------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------

def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """``--similarity-threshold`` and ``--no-similarity``; both set ``args.similarity_threshold``
    (None when detection is off), which is what ``write_class_report`` takes."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--similarity-threshold", type=threshold_value, default=similarity.DEFAULT_THRESHOLD, metavar="FLOAT",
        help="copy detection: flag two submissions when at least this share (0-1] of the smaller one's own code "
             "(what is neither given, nor the stubs, nor the reference solution; renamed variables, comments and "
             f"layout do not count) is also in the other (default {similarity.DEFAULT_THRESHOLD}; measured: copies "
             "with renamed variables and moved lines 0.96-1.0, a copy with a third rewritten 0.76, independently "
             "written code at most 0.56; see rnnlab/similarity.py)")
    group.add_argument("--no-similarity", dest="similarity_threshold", action="store_const", const=None,
                       help="no copy detection (report.html says so; similarity.csv has only its header)")


def threshold_value(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


# ----------------------------------------------------------------------------
# Check statistics
# ----------------------------------------------------------------------------

NUMBER = re.compile(r"0x[0-9a-fA-F]+|(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?!\w)")
SEQUENCE_OF_NUMBERS = re.compile(r"[(\[]\s*#(?:\s*,\s*#)*\s*,?\s*[)\]]")


def message_key(message: str) -> str:
    """A failure message with its numbers and shapes replaced by ``#``: messages of one
    misconception differ only there."""
    key = SEQUENCE_OF_NUMBERS.sub("(#)", NUMBER.sub("#", message))
    return " ".join(key.split())


@dataclass
class MessageGroup:
    count: int
    example: str  # the first message of the group, as a student got it


@dataclass
class CheckStats:
    name: str
    task: int
    description: str
    failed: int = 0
    graded: int = 0  # submissions that have this check
    gated_out: int = 0  # failed only because their task's value checks failed (see rnnjudge.registry)
    messages: list[MessageGroup] = field(default_factory=list)  # most frequent first, the gate's last

    @property
    def share(self) -> float:
        return self.failed / self.graded if self.graded else 0.0


def check_statistics(grades: list) -> list[CheckStats]:
    """Every check, the most failed first (then the highest share failed, task, name)."""
    stats: dict[str, CheckStats] = {}
    failures: dict[str, list[str]] = {}
    for grade in grades:
        for name, check in grade.checks.items():
            entry = stats.setdefault(name, CheckStats(name, check.get("task", 0), check.get("description", "")))
            entry.graded += 1
            if not check.get("passed", False):
                entry.failed += 1
                entry.gated_out += check.get("message") == GATE_MESSAGE
                failures.setdefault(name, []).append(check.get("message") or check.get("feedback", ""))
    for name, messages in failures.items():
        stats[name].messages = group_messages(messages)
    # Ranked by failures of the check itself: a gated-out failure repeats another check's.
    return sorted(stats.values(), key=lambda s: (-(s.failed - s.gated_out), -s.failed, -s.share, s.task, s.name))


def group_messages(messages: list[str]) -> list[MessageGroup]:
    counts: Counter = Counter()
    examples: dict[str, str] = {}
    for message in messages:
        key = message_key(message)
        counts[key] += 1
        examples.setdefault(key, message)
    order = sorted(counts.items(), key=lambda kv: (examples[kv[0]] == GATE_MESSAGE, -kv[1], kv[0]))
    return [MessageGroup(count, examples[key]) for key, count in order]


def not_graded_normally(grades: list) -> list:
    return sorted((g for g in grades if g.status != GRADED), key=lambda g: g.file)


# ----------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------

def png_data_uri(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def score_figure(grades: list) -> str:
    import matplotlib.pyplot as plt

    percents = [100 * g.total / TOTAL_POINTS for g in grades]
    mean, median = statistics.mean(percents), statistics.median(percents)
    fig, ax = plt.subplots(figsize=(10.5, 3.2))
    ax.hist(percents, bins=range(0, 105, 5), color="#3b6ea8", edgecolor="white")
    ax.axvline(mean, color="#c0392b", linestyle="--", label=f"mean {mean:.1f}%")
    ax.axvline(median, color="#222222", linestyle=":", label=f"median {median:.1f}%")
    ax.set(xlim=(0, 100), xlabel="percent of the points", ylabel="submissions",
           title=f"Scores ({len(grades)} submissions)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(frameon=False)
    fig.tight_layout()
    uri = png_data_uri(fig)
    plt.close(fig)
    return uri


def task_points_figure(grades: list) -> str:
    """One bar chart a task: how many submissions got each number of points."""
    import matplotlib.pyplot as plt

    rows = -(-len(TASKS) // FIGURE_COLUMNS)
    fig, axes = plt.subplots(rows, FIGURE_COLUMNS, figsize=(10.5, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(TASKS):]:
        ax.set_visible(False)
    for task, ax in zip(TASKS, axes.flat):
        counts = Counter(round(g.task_points.get(task.key, 0.0), 2) for g in grades)
        values = sorted(counts)
        colours = ["#c0392b" if v == 0 else "#2e8b57" if v == task.points else "#e0a030" for v in values]
        ax.bar([f"{v:g}" for v in values], [counts[v] for v in values], color=colours)
        title = f"Task {task.number} ({task.points} pts): {task.title}"
        ax.set_title(textwrap.fill(title, 40, break_on_hyphens=False), fontsize=9)
        ax.set_xlabel("points", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.yaxis.get_major_locator().set_params(integer=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("submissions")
    fig.tight_layout()
    uri = png_data_uri(fig)
    plt.close(fig)
    return uri


# ----------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1200px;
       color: #1d2733; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 2px solid #dde3ea; }
.lead { color: #4a5866; margin-top: 0; }
nav a { margin-right: 14px; }
.numbers { display: flex; gap: 12px; flex-wrap: wrap; margin: 14px 0; }
.numbers div { background: #f2f5f8; border-radius: 6px; padding: 8px 14px; }
.numbers b { display: block; font-size: 20px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid #e4e8ed; }
th { background: #f2f5f8; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; }
.bar { background: #e8ecf0; height: 8px; border-radius: 4px; width: 90px; margin-top: 4px; }
.bar span { display: block; height: 8px; border-radius: 4px; background: #c0392b; }
.check-name { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; color: #4a5866; }
.msg { margin: 2px 0 8px; }
.msg pre { white-space: pre-wrap; margin: 2px 0 0; font-size: 12px; background: #fbf6e9; padding: 4px 6px;
           border-radius: 4px; }
.msg summary { font-size: 12px; color: #6b7785; cursor: pointer; }
.count { font-weight: 600; }
.muted { color: #6b7785; }
img { max-width: 100%; }
details.pair { border: 1px solid #dde3ea; border-radius: 6px; margin: 10px 0; padding: 0 10px; }
details.pair summary { cursor: pointer; padding: 8px 0; font-weight: 600; }
.side { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 10px; padding-bottom: 10px; }
.side h3 { font-size: 13px; margin: 4px 0; word-break: break-all; }
.code { font: 12px/1.35 ui-monospace, Menlo, Consolas, monospace; border: 1px solid #e4e8ed; overflow-x: auto; }
.code div { white-space: pre; padding: 0 6px; }
.code i { display: inline-block; width: 3.2em; color: #8a96a3; font-style: normal; user-select: none; }
.code .hit { background: #ffe08a; }
.code .gap { color: #8a96a3; background: #f2f5f8; font-style: italic; }
"""


def page(body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Class report</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def summary_section(grades: list, trouble: list, pairs: list | None, threshold: float | None) -> str:
    totals = [g.total for g in grades]
    boxes = [("submissions", f"{len(grades)}"),
             ("mean score", f"{statistics.mean(totals):.1f} / {TOTAL_POINTS}"),
             ("median score", f"{statistics.median(totals):.1f} / {TOTAL_POINTS}"),
             ("not graded normally", f"{len(trouble)}"),
             ("similar pairs", "detection off" if pairs is None else f"{len(pairs)} (threshold {threshold:g})")]
    items = "".join(f"<div><b>{escape(value)}</b>{escape(label)}</div>" for label, value in boxes)
    links = ('<nav><a href="#scores">Scores</a><a href="#checks">Checks</a>'
             '<a href="#not-graded">Not graded normally</a><a href="#shared-names">Shared names</a>'
             '<a href="#similarity">Similar code</a></nav>')
    return f'<div class="numbers">{items}</div>\n{links}'


def scores_section(grades: list) -> str:
    return (f'<h2 id="scores">Scores</h2>\n<img alt="score distribution" src="{score_figure(grades)}">\n'
            f'<h3>Points per task</h3>\n<p class="muted">Green: full points, red: none, amber: some of the '
            f'task\'s checks passed.</p>\n<img alt="points distribution per task" src="{task_points_figure(grades)}">')


def checks_section(stats: list[CheckStats]) -> str:
    if not stats:
        return '<h2 id="checks">Checks</h2>\n<p>No submission was checked (every one failed before grading).</p>'
    titles = {t.number: t.title for t in TASKS}
    rows = []
    for rank, s in enumerate(stats, start=1):
        rows.append(
            f"<tr><td class=\"num\">{rank}</td>"
            f"<td>{escape(s.description)}<div class=\"check-name\">{escape(s.name)}</div></td>"
            f"<td>{s.task}<div class=\"muted\">{escape(titles.get(s.task, ''))}</div></td>"
            f"<td class=\"num\">{s.failed} / {s.graded}<div class=\"bar\"><span style=\"width:{100 * s.share:.0f}%\">"
            f"</span></div>{100 * s.share:.0f}%</td><td>{messages_cell(s.messages)}</td></tr>")
    return ('<h2 id="checks">Checks, most failed first</h2>\n<p class="muted">Failed: submissions that failed the '
            'check / submissions that have it. Failure messages are grouped when they differ only in numbers '
            'and shapes; each group shows its first message.</p>\n'
            '<table><tr><th>#</th><th>Check</th><th>Task</th><th>Failed</th><th>Most frequent failure messages</th>'
            '</tr>\n' + "\n".join(rows) + "\n</table>")


def messages_cell(groups: list[MessageGroup]) -> str:
    shown = "".join(f'<div class="msg"><span class="count">{g.count}&times;</span>{message_view(g.example)}</div>'
                    for g in groups[:MESSAGE_GROUPS_SHOWN])
    rest = sum(g.count for g in groups[MESSAGE_GROUPS_SHOWN:])
    other_groups = len(groups) - MESSAGE_GROUPS_SHOWN
    more = f'<div class="muted">and {plural(rest, "other failure")} ({plural(other_groups, "other message")})</div>'
    return shown + (more if rest else "")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def message_view(message: str) -> str:
    """The first lines of a message; the rest (a failing example, say) folded away."""
    lines = message.splitlines() or [""]
    head, rest = "\n".join(lines[:MESSAGE_LINES_SHOWN]), "\n".join(lines[MESSAGE_LINES_SHOWN:])
    shown = f"<pre>{escape(head)}</pre>"
    if not rest:
        return shown
    folded = len(lines) - MESSAGE_LINES_SHOWN
    return f"{shown}<details><summary>{folded} more lines</summary><pre>{escape(rest)}</pre></details>"


def authors_view(authors: list[str]) -> str:
    """The team's names under a submission's name (nothing when it names none)."""
    return f'<div class="muted">{escape("; ".join(authors))}</div>' if authors else ""


def shared_names(grades: list) -> dict[str, list[str]]:
    """Names (compared without case and spacing) that the ``AUTHORS`` of more than one submission
    list: name -> the submissions. Someone named by two teams, or a classmate's name borrowed."""
    where: dict[str, list[str]] = {}  # folded name -> submissions
    shown: dict[str, str] = {}  # folded name -> as first written
    for g in grades:
        for author in g.authors:
            key = " ".join(author.split()).casefold()
            shown.setdefault(key, author)
            files = where.setdefault(key, [])
            if g.file not in files:
                files.append(g.file)
    return {shown[name]: files for name, files in where.items() if len(files) > 1}


def shared_names_section(shared: dict[str, list[str]]) -> str:
    heading = '<h2 id="shared-names">Names in more than one submission</h2>\n'
    if not shared:
        return heading + "<p>No name appears in the <code>AUTHORS</code> of two submissions.</p>"
    rows = "\n".join(f"<tr><td>{escape(name)}</td><td>{escape(', '.join(files))}</td></tr>"
                     for name, files in sorted(shared.items()))
    return (heading + f"<p>{plural(len(shared), 'name')} in the <code>AUTHORS</code> of more than one submission: "
            "a student in two teams, or a classmate's name borrowed. No points are taken; each row's status says "
            "so. Ask who did the work.</p>\n"
            f"<table><tr><th>Name</th><th>Submissions</th></tr>\n{rows}\n</table>")


def not_graded_section(trouble: list) -> str:
    heading = '<h2 id="not-graded">Could not be graded normally</h2>\n'
    if not trouble:
        return heading + "<p>Every submission was graded normally.</p>"
    rows = "\n".join(f"<tr><td>{escape(g.file)}{authors_view(g.authors)}</td>"
                     f"<td>{escape(g.status)}</td><td class=\"num\">{g.total:g}</td></tr>" for g in trouble)
    return (heading + f"<p>{plural(len(trouble), 'submission')}; their points (if any) are in final_grades.csv.</p>\n"
            f"<table><tr><th>Submission</th><th>Status</th><th>Points</th></tr>\n{rows}\n</table>")


def similarity_section(result: similarity.SimilarityResult | None, threshold: float | None,
                       authors: dict[str, list[str]]) -> str:
    heading = '<h2 id="similarity">Similar code</h2>\n'
    if result is None:
        return heading + "<p>Copy detection was off (<code>--no-similarity</code>).</p>"
    intro = (f"<p>Pairs where at least {threshold:.0%} of the smaller submission's own code is also in the other "
             f"(own code: what is neither given, nor a stub, nor the reference solution; renamed variables, "
             f"comments and layout do not count). Highlighted: lines in code both share. A high score is a "
             f"reason to look, not a verdict.</p>\n")
    if result.without_code:
        intro += (f'<p class="muted">Not compared (no readable code, or fewer than {similarity.KGRAM} tokens): '
                  f'{escape(", ".join(result.without_code))}</p>\n')
    if result.hidden_code:
        intro += ('<p class="warn">Not comparable: these run code built while they run, which no comparison sees; '
                  "read them: " + "; ".join(f"{escape(name)} ({escape(why)})" for name, why in
                                             sorted(result.hidden_code.items())) + "</p>\n")
    if not result.pairs:
        return heading + intro + "<p>No pair reaches the threshold.</p>"
    shown = result.pairs[:PAIRS_SHOWN]
    more = len(result.pairs) - len(shown)
    pairs_html = "\n".join(pair_view(p, result.codes, authors, opened=i < 3) for i, p in enumerate(shown))
    tail = f'<p class="muted">{more} more pairs are in similarity.csv.</p>' if more else ""
    return heading + intro + pairs_html + tail


def pair_view(pair: similarity.SimilarPair, codes: dict[str, str], authors: dict[str, list[str]],
              opened: bool) -> str:
    title = (f"{escape(pair.a)} &harr; {escape(pair.b)}: score {pair.score:.2f}, {pair.shared} shared fingerprints "
             f"({pair.share_of_a:.0%} of the first one's own code, {pair.share_of_b:.0%} of the second one's)")
    sides = "".join(f"<div><h3>{escape(name)}</h3>{authors_view(authors.get(name, []))}{code_view(codes[name], lines)}"
                    "</div>" for name, lines in ((pair.a, pair.lines_a), (pair.b, pair.lines_b)))
    state = " open" if opened else ""
    return f'<details class="pair"{state}><summary>{title}</summary><div class="side">{sides}</div></details>'


def code_view(code: str, highlighted: list[int]) -> str:
    """The highlighted lines with a little context; the rest collapsed into "N lines" markers."""
    lines = code.splitlines()
    hits = set(highlighted)
    shown = {n for h in hits for n in range(h - CONTEXT_LINES, h + CONTEXT_LINES + 1) if 1 <= n <= len(lines)}
    rows, skipped = [], 0
    for number, text in enumerate(lines, start=1):
        if number not in shown:
            skipped += 1
            continue
        if skipped:
            rows.append(f'<div class="gap">&#8942; {skipped} lines</div>')
            skipped = 0
        css = ' class="hit"' if number in hits else ""
        rows.append(f"<div{css}><i>{number}</i>{escape(text)}</div>")
    if skipped:
        rows.append(f'<div class="gap">&#8942; {skipped} lines</div>')
    return f'<div class="code">{"".join(rows)}</div>'


def report_html(grades: list, stats: list[CheckStats], result: similarity.SimilarityResult | None,
                threshold: float | None) -> str:
    header = "<h1>Class report</h1>\n"
    if not grades:
        return page(header + '<p class="lead">There is nothing to report: no submission was graded.</p>')
    trouble = not_graded_normally(grades)
    pairs = None if result is None else result.pairs
    sections = [summary_section(grades, trouble, pairs, threshold), scores_section(grades),
                checks_section(stats), not_graded_section(trouble), shared_names_section(shared_names(grades)),
                similarity_section(result, threshold, {g.file: g.authors for g in grades})]
    lead = f'<p class="lead">{plural(len(grades), "submission")}, {len(TASKS)} tasks, {TOTAL_POINTS} points.</p>\n'
    return page(header + lead + "\n".join(sections))


# ----------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------

def spreadsheet_safe(cell: str) -> str:
    """Text from submissions (messages, file names) must not become a spreadsheet formula, nor carry
    control characters (terminal escapes) into the sheet."""
    cell = printable(cell)
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def write_summary_csv(stats: list[CheckStats], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(SUMMARY_COLUMNS)
        for s in stats:
            writer.writerow([s.name, s.task, s.description, s.failed, s.graded, f"{s.share:.4f}",
                             spreadsheet_safe(s.messages[0].example) if s.messages else ""])


def write_similarity_csv(pairs: list[similarity.SimilarPair], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(SIMILARITY_COLUMNS)
        for p in pairs:
            writer.writerow([spreadsheet_safe(p.a), spreadsheet_safe(p.b), f"{p.score:.4f}", p.shared, f"{p.share_of_a:.4f}", f"{p.share_of_b:.4f}",
                             line_ranges(p.lines_a), line_ranges(p.lines_b)])


def line_ranges(lines: list[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``"3-5 9"``."""
    ranges: list[list[int]] = []
    for n in lines:
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    return " ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ranges)


# ----------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------

def write_class_report(grades: list, sources: dict[str, Path], out: Path, similarity_threshold: float | None) -> None:
    """Writes out/report.html, out/class_summary.csv, out/similarity.csv. similarity_threshold None = detection off
    (similarity.csv then still written, header only, and the page says detection was off)."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = None
    if similarity_threshold is not None:
        compared = {g.file: Path(sources[g.file]) for g in grades if g.file in sources}
        result = similarity.find_similar(compared, similarity_threshold)
    stats = check_statistics(grades)
    (out / "report.html").write_text(report_html(grades, stats, result, similarity_threshold), encoding="utf-8")
    write_summary_csv(stats, out / "class_summary.csv")
    write_similarity_csv([] if result is None else result.pairs, out / "similarity.csv")
