"""``rnnlab grade --gradebook canvas|moodle|csv``: the class's grades as a file the course's gradebook imports.

One row per student, with her team's grade (``total_points_earned`` of final_grades.csv, out of
``GRADE_POINTS``). Who the students of a submission are:

- with ``--classroom`` (``rnnlab.classroom``), the students GitHub Classroom says own its repository,
  whatever its ``AUTHORS`` say; each is known by her roster identifier and GitHub handle;
- without, every name in the team's ``AUTHORS``: self-declared, and the TA is told so. An entry is read
  as the student README asks students to write it, ``"Ada Lovelace (1234567, @ada)"``: the name, then
  identifiers in parentheses (a student number, an e-mail address, a GitHub ``@handle``).

- ``canvas``: Canvas's gradebook import CSV: ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``,
  ``Section``, then one column named after the assignment (as in a gradebook export, ``Lab 3 (1234)``,
  to update an existing one; a new name creates an assignment), and a ``Points Possible`` row.
  Canvas identifies a student by ``ID`` or ``SIS User ID`` (or the name).
- ``moodle``: Moodle's CSV grade import: ``First name``, ``Last name``, ``ID number``, ``Email
  address``, then the grade column. On import, map ``Email address`` to ``useremail`` (or ``ID number``
  to ``useridnumber``) and the grade column to the grade item.
- ``csv``: a plain sheet (student, identifiers, submission, points, max points, percent).

``--roster FILE`` (a gradebook export of Canvas or Moodle, or any CSV with a name column) gives each
student the LMS's own identifiers: an entry matches the roster row that shares one of its
identifiers, else the row with its name. Entries that match no row are left out of the file and
listed apart (``gradebook_unmatched.csv``), for the TA to fix in ``AUTHORS`` or enter by hand.

Entries that share a name (unless the platform named them: two students may share a name), an identifier (student number, e-mail, handle) or a roster row are one
student, with or without a roster. One student in two teams' AUTHORS (a classmate's ID under another
name, say) is a conflict: those entries are left out of the file and listed apart
(``gradebook_conflicts.csv``) for the TA to resolve, and the rest of the class is exported. Without
a roster, identities are what the students wrote: the TA is told so.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from rnnlab.class_report import spreadsheet_safe
from rnnlab.tasks import GRADE_POINTS

FORMATS = ("canvas", "moodle", "csv")
DEFAULT_ASSIGNMENT = "Vanishing gradients lab"
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["First name", "Last name", "ID number", "Email address"]
PLAIN_COLUMNS = ["student", "identifiers", "submission", "points", "max_points", "percent"]
UNMATCHED_COLUMNS = ["as written in AUTHORS", "submission", "points"]
UNMATCHED_PLATFORM_COLUMNS = ["as in the GitHub Classroom export", "submission", "points"]
CONFLICT_COLUMNS = ["student", "as written in AUTHORS", "submission", "points"]
NAME_COLUMNS = ("Student", "Full name", "Name", "name", "student")
FIRST_LAST = ("First name", "Last name")
NOT_IDENTIFIERS = {"Section", "Points Possible"}
ENTRY = re.compile(r"^(?P<name>.*?)\s*\((?P<ids>[^()]*)\)$")  # the identifiers: the last parentheses


class GradebookError(ValueError):
    """The gradebook cannot be written as the class stands; the message says what to resolve."""


def folded(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass
class Student:
    written: str  # the entry as in AUTHORS
    name: str
    identifiers: list[str]  # "1234567", "ada@uni.edu", "@ada"

    @property
    def id_number(self) -> str:
        """The first identifier that is neither an e-mail address nor a @handle."""
        return next((i for i in self.identifiers if "@" not in i), "")

    @property
    def email(self) -> str:
        return next((i for i in self.identifiers if "@" in i[1:]), "")


def parse_entry(entry: str) -> Student:
    m = ENTRY.match(entry.strip())
    if not m or not m["name"]:
        return Student(entry, entry.strip(), [])
    ids = [i.strip() for i in re.split(r"[,;]", m["ids"]) if i.strip()]
    return Student(entry, m["name"].strip(), ids)


@dataclass
class RosterRow:
    cells: dict[str, str]
    name: str
    keys: set[str] = field(default_factory=set)  # folded identifiers


def roster_name(cells: dict[str, str]) -> str:
    """The row's name as "First Last" (Canvas writes "Last, First")."""
    for column in NAME_COLUMNS:
        if cells.get(column, "").strip():
            name = cells[column].strip()
            if "," in name:
                last, first = name.split(",", 1)
                name = f"{first.strip()} {last.strip()}"
            return name
    return " ".join(cells.get(c, "").strip() for c in FIRST_LAST).strip()


def read_roster(path: Path) -> list[RosterRow]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise GradebookError(f"cannot read the roster {path}: {err}") from None
    if not any(c in header for c in NAME_COLUMNS) and not all(c in header for c in FIRST_LAST):
        raise GradebookError(f"the roster {path} has no name column: give one of {', '.join(NAME_COLUMNS)}, or "
                             "First name and Last name (a gradebook export of Canvas or Moodle has them)")
    roster = []
    for cells in rows:
        cells = {k: (v or "").strip() for k, v in cells.items() if k}
        name = roster_name(cells)
        if not name or folded(name) == "points possible":  # Canvas's export has a "Points Possible" row
            continue
        named = set(NAME_COLUMNS) | set(FIRST_LAST) | NOT_IDENTIFIERS
        keys = {folded(v) for k, v in cells.items() if k not in named and v}
        roster.append(RosterRow(cells, name, keys))
    return roster


def roster_match(student: Student, roster: list[RosterRow]) -> RosterRow | None:
    """The row that shares an identifier with the entry (``@ada`` matches ``ada``), else the row of its name."""
    ids = {folded(i) for i in student.identifiers} | {folded(i.lstrip("@")) for i in student.identifiers}
    by_id = [r for r in roster if r.keys & ids]
    if len(by_id) == 1:
        return by_id[0]
    by_name = [r for r in roster if folded(r.name) == folded(student.name)]
    return by_name[0] if len(by_name) == 1 else None


@dataclass
class Entry:
    student: Student
    submission: str
    points: float
    row: RosterRow | None = None
    from_platform: bool = False  # named by GitHub Classroom, not by the team's AUTHORS


@dataclass
class Gradebook:
    entries: list[Entry]  # the rows of the file
    unmatched: list[Entry]  # with a roster: entries that match no roster row
    nameless: list[str]  # submissions whose AUTHORS names nobody: their grade reaches no one
    without_grade: list[str]  # with a roster: its students in no team's AUTHORS
    conflicts: list[list[Entry]] = field(default_factory=list)  # one student in several teams: not exported


def identity_keys(entry: Entry) -> set[str]:
    """What makes two entries the same student: the roster row, the name, each identifier."""
    keys = {f"name:{folded(entry.student.name)}"} if entry.student.name.strip() and not entry.from_platform else set()
    keys |= {f"id:{folded(i.lstrip('@'))}" for i in entry.student.identifiers if i.strip("@ ")}
    if entry.row is not None:
        keys.add(f"row:{id(entry.row)}")
    return keys


def same_students(entries: list[Entry]) -> list[list[Entry]]:
    """The entries grouped by student: two entries sharing any identity key are one (transitively)."""
    parent = list(range(len(entries)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[str, int] = {}
    for i, entry in enumerate(entries):
        for key in identity_keys(entry):
            parent[root(i)] = root(first_with.setdefault(key, i))
    groups: dict[int, list[Entry]] = {}
    for i, entry in enumerate(entries):
        groups.setdefault(root(i), []).append(entry)
    return list(groups.values())


def students_of(grade, ownership) -> list[Student]:
    """The submission's students: the platform's with ``--classroom`` (``rnnlab.classroom.Ownership``), else its AUTHORS."""
    if ownership is not None:
        return [st.as_student() for st in ownership.students_of.get(grade.file, [])]
    return [parse_entry(written) for written in grade.authors]


def build_gradebook(grades: list, roster: list[RosterRow] | None, ownership=None) -> Gradebook:
    """Rows from the grades (``file``, ``authors``, ``grade_total``): one per student; a student in
    several teams is a conflict, left out of the rows."""
    book = Gradebook([], [], [], [])
    entries = []
    for g in grades:
        students = students_of(g, ownership)
        if not students:
            book.nameless.append(g.file)
        for student in students:
            entry = Entry(student, g.file, g.grade_total, from_platform=ownership is not None)
            entry.row = roster_match(entry.student, roster) if roster is not None else None
            entries.append(entry)
    for group in same_students(entries):
        if len({e.submission for e in group}) > 1:
            book.conflicts.append(group)
            continue
        entry = group[0]  # a team naming someone twice: one row
        (book.unmatched if roster is not None and entry.row is None else book.entries).append(entry)
    if roster is not None:
        graded = {id(e.row) for e in book.entries}
        book.without_grade = [r.name for r in roster if id(r) not in graded]
    return book


def canvas_row(e: Entry) -> list[str]:
    if e.row is not None:
        return [e.row.cells.get(c, "") for c in CANVAS_COLUMNS]
    last_first = ", ".join(reversed(e.student.name.rsplit(" ", 1)))
    return [last_first, "", e.student.id_number, "", ""]


def moodle_row(e: Entry) -> list[str]:
    if e.row is not None and all(c in e.row.cells for c in FIRST_LAST):
        first, last = e.row.cells["First name"], e.row.cells["Last name"]
    else:
        name = e.row.name if e.row is not None else e.student.name
        first, _, last = name.rpartition(" ") if " " in name else (name, "", "")
    cells = e.row.cells if e.row is not None else {}
    return [first, last, cells.get("ID number", e.student.id_number), cells.get("Email address", e.student.email)]


def plain_row(e: Entry) -> list[str]:
    name = e.row.name if e.row is not None else e.student.name
    return [name, "; ".join(e.student.identifiers), e.submission, f"{e.points:g}", f"{GRADE_POINTS:g}",
            f"{100 * e.points / GRADE_POINTS:.2f}"]


def write_gradebook(kind: str, grades: list, out: Path, roster_path: Path | None, assignment: str,
                    ownership=None, shown_as: Path | None = None) -> list[str]:
    """Writes ``out/gradebook_KIND.csv`` (and ``gradebook_unmatched.csv`` when a roster leaves entries
    unmatched); returns what to tell the TA, naming the files under ``shown_as`` (where they will be
    once the grading's outputs are in place; default ``out``). ``ownership``: the students of each
    submission as GitHub Classroom knows them (``rnnlab.classroom.map_submissions``), else AUTHORS."""
    roster = read_roster(roster_path) if roster_path is not None else None
    book = build_gradebook(grades, roster, ownership)
    path = out / f"gradebook_{kind}.csv"
    shown = shown_as or out
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if kind == "canvas":
            writer.writerow([*CANVAS_COLUMNS, assignment])
            writer.writerow(["Points Possible", "", "", "", "", f"{GRADE_POINTS:g}"])
            writer.writerows([*map(spreadsheet_safe, canvas_row(e)), f"{e.points:g}"] for e in book.entries)
        elif kind == "moodle":
            writer.writerow([*MOODLE_COLUMNS, assignment])
            writer.writerows([*map(spreadsheet_safe, moodle_row(e)), f"{e.points:g}"] for e in book.entries)
        else:
            writer.writerow(PLAIN_COLUMNS)
            writer.writerows(list(map(spreadsheet_safe, plain_row(e))) for e in book.entries)
    told = [f"wrote {shown / path.name}: {len(book.entries)} students, out of {GRADE_POINTS:g} points"]
    source = "the GitHub Classroom export" if ownership is not None else "AUTHORS"
    if book.unmatched:
        with open(out / "gradebook_unmatched.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(UNMATCHED_PLATFORM_COLUMNS if ownership is not None else UNMATCHED_COLUMNS)
            writer.writerows([spreadsheet_safe(e.student.written), spreadsheet_safe(e.submission), f"{e.points:g}"]
                             for e in book.unmatched)
        told.append(f"{len(book.unmatched)} students of {source} match no roster row, left out of the gradebook and "
                    f"listed in {shown / 'gradebook_unmatched.csv'}: "
                    + "; ".join(f"{e.student.written!r} ({e.submission})" for e in book.unmatched[:10]))
    conflicts_path = out / "gradebook_conflicts.csv"
    if book.conflicts:
        with open(conflicts_path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(CONFLICT_COLUMNS)
            writer.writerows([str(n), spreadsheet_safe(e.student.written), spreadsheet_safe(e.submission), f"{e.points:g}"]
                             for n, group in enumerate(book.conflicts, start=1) for e in group)
        told.append(f"{len(book.conflicts)} students are in more than one team's {source} (the same name, "
                    "identifier or roster row): left out of the gradebook and listed in "
                    f"{shown / conflicts_path.name}; decide which team's grade is theirs (fix the other team's AUTHORS), then "
                    "export again: " + "; ".join(" = ".join(f"{e.student.written!r} ({e.submission})" for e in group)
                                                 for group in book.conflicts[:5]))
    if ownership is None:
        told.append("identities are self-declared: each student is whoever a team's AUTHORS names; grade with "
                    "--classroom (GitHub Classroom's classroom_roster.csv) to take them from the platform")
    if roster is None and kind in ("canvas", "moodle"):
        told.append(f"no --roster given: the names and identifiers are as {source} has them, unverified "
                    "against the LMS; export with --roster (the LMS's gradebook export) to match them to its students")
    if book.nameless:
        told.append(f"{len(book.nameless)} submissions name nobody in AUTHORS, so their grade reaches no student: "
                    + ", ".join(book.nameless[:10]) if ownership is None else
                    f"{len(book.nameless)} submissions are no student's repository, so their grade reaches no student "
                    "(how to fix each: above, and in report.html)")
    if book.without_grade:
        told.append(f"{len(book.without_grade)} roster students are in no team's "
                    + ("repository" if ownership is not None else "AUTHORS") + ": " + ", ".join(book.without_grade[:10]))
    return told
