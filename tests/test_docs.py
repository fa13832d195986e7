"""The documentation pages say only what is there: every relative link and every repository path
they name exists, every `rnnlab` command they show parses with the CLI's own parser, every `otter`
command is read by otter's own (``otter grade`` run up to its containers), every
`make TARGET` is a target of the Makefile, every test and attack they cite exists, the front page
stays short, no page tells the project's history (issue numbers, commit ids), and every generated
figure section is what its benchmark's results file gives (``benchmarks/docs_figures.py --check``)."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from rnnjudge.sandbox import TIME_BUDGET_S

REPO = Path(__file__).resolve().parent.parent
PAGES = ["README.md", "autograder/GRADING.md", "solution/INSTRUCTORS.md", "tests/README.md", "assignment/README.md"]
FRONT_PAGE_MAX_LINES = 150
# Paths the pages may name that a fresh clone does not hold until a command writes them (a
# benchmark writes its results file the first time it runs; `rnnlab run` writes results/).
GENERATED = ("autograder/dist/", "autograder/course.secret", "benchmarks/results/", "results/")
DOCS_FIGURES = REPO / "benchmarks" / "docs_figures.py"

FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
PATHLIKE = re.compile(r"^[\w.\-]+(?:/[\w.\-]*)+$")
ISSUE = re.compile(r"\bissues?\s*#?\d+", re.I)
COMMIT = re.compile(r"(?<![\w/.-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}(?![\w/-])")
HISTORY = re.compile(r"\bpreviously\b|\bround (?:two|2)\b|\b(?:before|after) (?:this|the) change\b|\bused to be\b", re.I)


def read(page: str) -> str:
    return (REPO / page).read_text(encoding="utf-8")


def split_page(text: str) -> tuple[list[str], list[str]]:
    """The page's prose lines and the lines of its fenced code blocks."""
    prose, code, in_code = [], [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            in_code = not in_code
            continue
        (code if in_code else prose).append(line)
    return prose, code


def spans(text: str) -> list[str]:
    prose, _ = split_page(text)
    return [m.group(1) for line in prose for m in SPAN.finditer(line)]


def code_commands(text: str) -> list[str]:
    """Shell lines of the page's code blocks, continuation lines joined."""
    _, code = split_page(text)
    commands, current = [], ""
    for line in code:
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        commands.append(current.strip())
        current = ""
    return [c for c in commands if c]


def tracked_names(folder: Path) -> set[str]:
    """Names of the files and folders directly in ``folder`` (tracked by git where git is there)."""
    try:
        out = subprocess.run(["git", "ls-files", "--", "."], cwd=folder, capture_output=True, text=True,
                             check=True).stdout
        names = {line.split("/", 1)[0] for line in out.splitlines() if line}
    except (OSError, subprocess.CalledProcessError):
        names = set()
    return names | {p.name for p in folder.iterdir() if not p.name.startswith(".venv") and ".egg-info" not in p.name}


SHELL_KEYWORDS = ("do", "then", "else")  # before a command in a loop or a condition


def segments(command: str) -> list[list[str]]:
    """A shell line cut into its simple commands (at ``&&``, ``||``, ``;``, ``|``), comments dropped."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError as err:
        raise AssertionError(f"not a valid shell line: {command!r} ({err})") from None
    parts, current = [], []
    for token in tokens:
        if token and set(token) <= set("&|;()<>"):
            parts.append(current)
            current = []
        else:
            current.append(token)
    parts.append(current)
    result = []
    for part in parts:
        while part and (re.match(r"^[A-Za-z_]\w*=", part[0]) or part[0] in SHELL_KEYWORDS):  # VAR=value, `do`
            part = part[1:]
        if part:
            result.append(part)
    return result


def program(word: str) -> str:
    return word.rsplit("/", 1)[-1]


# -- the CLI's parser ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rnnlab_parser() -> argparse.ArgumentParser:
    """``rnnlab.cli.build_parser()`` where it exists, else the parser ``rnnlab.cli.main`` builds."""
    from rnnlab import cli

    if hasattr(cli, "build_parser"):
        return cli.build_parser()

    class Built(Exception):
        pass

    def capture(self, *args, **kwargs):
        raise Built(self)

    with mock.patch.object(argparse.ArgumentParser, "parse_args", capture):
        try:
            cli.main([])
        except Built as built:
            return built.args[0]
    raise AssertionError("rnnlab.cli.main did not build a parser")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """None when ``argv`` parses, else argparse's message."""
    with mock.patch.object(argparse.ArgumentParser, "exit", side_effect=SystemExit), \
         mock.patch.object(argparse.ArgumentParser, "error", side_effect=lambda message: (_ for _ in ()).throw(
             ValueError(message))):
        try:
            parser.parse_args(argv)
        except ValueError as err:
            return str(err)
        except SystemExit:
            return None  # --help
    return None


def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    targets = set()
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9][\w.\-]*(?:\s+[A-Za-z0-9][\w.\-]*)*)\s*:(?!=)", line)
        if match:
            targets |= set(match.group(1).split())
    return targets


# -- the checks ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_relative_links_point_at_files_that_exist(page):
    base = (REPO / page).parent
    broken = []
    for target in LINK.findall(read(page)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # a URL
        path, _, anchor = target.partition("#")
        linked = base / path if path else REPO / page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked.read_text(encoding="utf-8")):
            broken.append(target)
    assert not broken, f"{page}: links to files or headings that do not exist: {broken}"


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    prose, _ = split_page(text)
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in prose if re.match(r"^#{1,6} ", line)}


@pytest.mark.parametrize("page", PAGES)
def test_repository_paths_named_in_backticks_exist(page):
    base = (REPO / page).parent
    roots = {base: tracked_names(base), REPO: tracked_names(REPO)}
    text = read(page)
    words = [w for span in spans(text) for w in span.split()]
    words += [w for command in code_commands(text) for part in segments(command) for w in part]
    missing = []
    for word in words:
        word = word.strip("\"'(),;:")
        if not PATHLIKE.match(word):
            continue
        first = word.split("/", 1)[0]
        candidates = [root / word for root, names in roots.items() if first in names]  # the page's folder first
        if candidates and not any(c.exists() for c in candidates):
            rels = [c.resolve().relative_to(REPO).as_posix() + ("/" if word.endswith("/") else "") for c in candidates]
            if not any(rel.startswith(GENERATED) for rel in rels):
                missing.append(word)
    assert not missing, f"{page}: names repository paths that do not exist: {sorted(set(missing))}"


@pytest.mark.parametrize("page", PAGES)
def test_rnnlab_commands_parse(page, rnnlab_parser):
    text, problems = read(page), []
    subs = subcommands(rnnlab_parser)
    for command in code_commands(text):  # shown to be pasted: the whole command line must parse
        for part in segments(command):
            if program(part[0]) == "rnnlab":
                why = parse(rnnlab_parser, part[1:])
                if why:
                    problems.append(f"{command!r}: {why}")
    for span in spans(text):  # named in prose: the subcommand and every flag must exist
        words = span.split()
        if len(words) < 2 or program(words[0]) != "rnnlab":
            continue
        if words[1] not in subs:
            problems.append(f"`{span}`: no subcommand {words[1]!r}")
            continue
        known = {flag for action in subs[words[1]]._actions for flag in action.option_strings}
        for word in words[2:]:
            flag = word.split("=", 1)[0]
            if flag.startswith("-") and flag not in known:
                problems.append(f"`{span}`: rnnlab {words[1]} has no flag {flag}")
    assert not problems, f"{page}:\n" + "\n".join(problems)


class ContainersLaunched(Exception):
    """``otter grade`` got as far as starting its containers: everything it checks first was right."""


def with_the_paths_it_names(argv: list[str], folder: Path) -> None:
    """Create in ``folder`` the files and folders an otter command line names (the zip, a
    submission, an output folder), so that otter's parser, which checks that they exist, accepts them."""
    for word in argv:
        if word.startswith("-") or not ("/" in word or Path(word).suffix in (".zip", ".py", ".ipynb")):
            continue
        path = folder / word
        if word.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()


def otter_problem(argv: list[str], folder: Path) -> str | None:
    """None when otter accepts ``argv`` (``otter`` left out): parsed by otter's own command line (click),
    and for ``otter grade`` run up to the moment it would start its containers; else why not."""
    import click
    from otter.cli import cli

    command = cli.commands.get(argv[0])
    if command is None:
        return f"no otter command {argv[0]!r}"
    with_the_paths_it_names(argv[1:], folder)
    with contextlib.chdir(folder):
        try:
            if argv[0] != "grade":
                command.make_context(f"otter {argv[0]}", argv[1:])
                return None
            with mock.patch("otter.grade.launch_containers", side_effect=ContainersLaunched) as launch:
                try:
                    command.main(argv[1:], prog_name="otter grade", standalone_mode=False)
                except ContainersLaunched:
                    kwargs = launch.call_args.kwargs
                    if kwargs["network"]:
                        return "the grading containers would have the network (give --no-network)"
                    if not (kwargs["timeout"] or 0) > TIME_BUDGET_S:
                        return f"--timeout {kwargs['timeout']} leaves the judge's {TIME_BUDGET_S:.0f} s no room"
                    return None
            return "otter grade returned before it started any container"
        except click.ClickException as err:
            return err.format_message()
        except (ValueError, TypeError) as err:  # otter.grade.main's own checks ("You must specify an assignment name")
            return str(err)


@pytest.mark.parametrize("page", PAGES)
def test_otter_commands_run_as_written(page, tmp_path):
    """Every `otter` command a page shows, read by otter's own command line; `otter grade` run up to
    its containers (which need Docker), with the network off and room for the judge's time budget."""
    pytest.importorskip("otter")
    shown = [part for command in code_commands(read(page)) for part in segments(command) if program(part[0]) == "otter"]
    problems = [f"{' '.join(part)}: {why}" for i, part in enumerate(shown)
                if (why := otter_problem(part[1:], tmp_path / str(i)))]
    assert not problems, f"{page}:\n" + "\n".join(problems)


def test_the_otter_check_fails_on_the_command_otter_7_refuses(tmp_path):
    """The check's control: without -n, otter 7 refuses to grade; without --no-network, the network is on."""
    pytest.importorskip("otter")
    zip_and_folder = ["-a", "autograder/dist/autograder.zip", "--ext", "py", "-o", "grades/", "submissions/"]
    assert "assignment name" in otter_problem(["grade", *zip_and_folder, "--timeout", "900", "--no-network"],
                                              tmp_path / "a")
    assert "network" in otter_problem(["grade", "-n", "lab", *zip_and_folder, "--timeout", "900"], tmp_path / "b")
    assert otter_problem(["grade", "-n", "lab", *zip_and_folder, "--timeout", "900", "--no-network"],
                         tmp_path / "c") is None
    assert "No such option" in otter_problem(["run", "--no-such-flag", "rnn_lm.py"], tmp_path / "d")


@pytest.mark.parametrize("page", PAGES)
def test_make_targets_exist(page):
    targets, text = makefile_targets(), read(page)
    shown = [part for command in code_commands(text) for part in segments(command)]
    shown += [span.split() for span in spans(text)]
    unknown = []
    for words in shown:
        if words and words[0] == "make":
            unknown += [w for w in words[1:] if not w.startswith("-") and "=" not in w and w not in targets]
    assert not unknown, f"{page}: make targets the Makefile does not have: {unknown}"


@pytest.mark.parametrize("page", PAGES)
def test_cited_tests_and_attacks_exist(page):
    sources = "\n".join(p.read_text(encoding="utf-8") for folder in (REPO / "tests", REPO / "assignment" / "tests")
                        for p in folder.glob("*.py"))
    missing = []
    for span in spans(read(page)):
        if re.fullmatch(r"test_\w+", span) and not re.search(rf"^def {span}\(", sources, re.M):
            missing.append(span)
        attack = re.fullmatch(r"attack_(\w+?)(?:\.py)?", span)
        if attack and f'"{attack.group(1)}"' not in sources and f"attack_{attack.group(1)}" not in sources:
            missing.append(span)
    assert not missing, f"{page}: cites tests or attacks that do not exist: {missing}"


def test_front_page_is_short():
    lines = read("README.md").count("\n")
    assert lines <= FRONT_PAGE_MAX_LINES, f"README.md has {lines} lines (at most {FRONT_PAGE_MAX_LINES})"


@pytest.mark.parametrize("page", PAGES)
def test_no_development_history(page):
    found = []
    for number, line in enumerate(read(page).splitlines(), 1):
        for pattern, what in ((ISSUE, "an issue number"), (COMMIT, "a commit id"), (HISTORY, "a history narrative")):
            for match in pattern.finditer(line):
                found.append(f"line {number}: {what}: {match.group(0)!r}")
    assert not found, f"{page}:\n" + "\n".join(found)


def test_the_checks_see_what_they_look_for():
    """The readers find broken things: a made-up link, path, flag, target and a commit id."""
    page = ("[x](no/such/file.md) `solution/no_such_file.py` `rnnlab grade --no-such-flag`\n"
            "```bash\nmake no-such-target && .venv/bin/rnnlab release --check\n```\nfixed in 99fac62, see issue 17\n")
    assert LINK.findall(page) == ["no/such/file.md"]
    assert "solution/no_such_file.py" in spans(page)
    assert code_commands(page) == ["make no-such-target && .venv/bin/rnnlab release --check"]
    assert segments(code_commands(page)[0]) == [["make", "no-such-target"], [".venv/bin/rnnlab", "release", "--check"]]
    assert "no-such-target" not in makefile_targets() and "test-all" in makefile_targets()
    assert COMMIT.search(page).group(0) == "99fac62" and ISSUE.search(page)
    assert not COMMIT.search("Ada Lovelace (1234567, @ada), 2026-11-30, facade, 0x7e57")


# -- the generated figures ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def docs_figures():
    spec = importlib.util.spec_from_file_location("docs_figures", DOCS_FIGURES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_figures_are_what_their_results_files_give(docs_figures):
    """Every `<!-- figures: NAME -->` section of the pages equals what benchmarks/results/NAME.json
    renders: a figure changed by hand, or a results file measured anew without `make docs`, fails."""
    pages = [REPO / page for page in docs_figures.PAGES]
    assert sum(len(docs_figures.parse(page)[1]) for page in pages) >= 3, "the pages hold their generated sections"
    problems = docs_figures.process(pages, check=True)
    assert not problems, "run `make docs`:\n" + "\n".join(problems)


def test_the_check_fails_on_a_missing_results_file_and_on_a_figure_edited_by_hand(docs_figures, tmp_path):
    """A copy of a page passes the check; with a section naming a results file that does not exist, or
    with a generated figure edited, the check (and the command, with exit status 1) names the section."""
    page = tmp_path / "GRADING.md"
    page.write_text(read("autograder/GRADING.md"), encoding="utf-8")
    assert docs_figures.process([page], check=True) == []

    page.write_text(read("autograder/GRADING.md") + "\n<!-- figures: no_such_benchmark -->\n<!-- /figures -->\n",
                    encoding="utf-8")
    problems = docs_figures.process([page], check=True)
    assert len(problems) == 1 and "no_such_benchmark" in problems[0] and "no results file" in problems[0]
    proc = subprocess.run([sys.executable, str(DOCS_FIGURES), "--check", str(page)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "no_such_benchmark" in proc.stderr

    text = read("autograder/GRADING.md")
    start = text.index("<!-- figures: rerun -->")
    row = text.index("| recall accuracy |", start)
    page.write_text(text[:row] + text[row:].replace("±0.03", "±0.05", 1), encoding="utf-8")
    problems = docs_figures.process([page], check=True)
    assert len(problems) == 1 and "section 'rerun' differs" in problems[0]
    docs_figures.process([page], check=False)  # make docs puts it back
    assert page.read_text(encoding="utf-8") == text


def test_a_section_says_it_is_out_of_date_while_a_file_it_measured_differs(docs_figures, tmp_path):
    """A results file records the blob id of each file its figures depend on: with every id as the
    files are now, the section carries no "not re-measured" line; with one file's id another, it
    names that file."""
    record = json.loads((docs_figures.RESULTS / "report.json").read_text())
    record["sources"] = docs_figures.sources(docs_figures.DEPENDS["report"])
    (tmp_path / "report.json").write_text(json.dumps(record))
    lines, problem, told = docs_figures.render("report", "", tmp_path)
    assert problem is None and told and not any(docs_figures.STALE_PREFIX in line for line in lines)

    record["sources"]["rnnlab/similarity.py"] = docs_figures.blob_id(b"the file as it was measured")
    (tmp_path / "report.json").write_text(json.dumps(record))
    lines, _, _ = docs_figures.render("report", "", tmp_path)
    stale = " ".join(lines[lines.index(next(x for x in lines if x.startswith(docs_figures.STALE_PREFIX))):])
    assert "`rnnlab/similarity.py`" in stale and "`rnnlab/class_report.py`" not in stale
