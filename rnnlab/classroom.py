"""``rnnlab grade --classroom FILE``: who owns each submission folder, as GitHub Classroom knows it.

A student's ``AUTHORS`` list is what the student typed; GitHub Classroom knows who accepted each
repository. ``gh classroom clone student-repos`` names one folder per repository,
``<assignment-slug>-<github-username>`` (a group assignment: ``<assignment-slug>-<group-name>``).
Two of the classroom's exports say who that is, told apart by their columns:

- the classroom's roster, ``classroom_roster.csv``: ``identifier, github_username, github_id, name``
  (the identifier is what the course filled in: a student number, an e-mail address). A folder is
  the student's whose username ends its name, after the assignment's slug that the class's folders
  share;
- an assignment's grades export: one row per student with ``github_username``, ``roster_identifier``
  (or ``identifier``) and ``student_repository_name`` (and ``group_name`` in a group assignment). A
  folder is the students' whose repository it is named after.

``AUTHORS`` is then a cross-check only (``authors_mismatches``): what it gets wrong is a note, never
a change of who gets the grade.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rnnlab.gradebook import Student, folded, parse_entry

ROSTER_COLUMNS = ("identifier", "github_username", "github_id", "name")
GRADES_COLUMNS = ("github_username", "roster_identifier", "student_repository_name")  # group_name: group assignments
IDENTIFIER_COLUMNS = ("roster_identifier", "identifier")  # the grades export's name for it, then the roster's


class ClassroomError(ValueError):
    """The file is not a GitHub Classroom export this grader can read; the message says what it expected."""


@dataclass(frozen=True)
class ClassroomStudent:
    identifier: str  # the course's: a student number, an e-mail address (may be empty)
    github_username: str  # empty for a roster entry no GitHub account is linked to
    name: str = ""  # the roster export has it; the grades export does not

    @property
    def label(self) -> str:
        """How the pages name her: ``Ada Lovelace (1234567, @ada)``."""
        handle = f"@{self.github_username}" if self.github_username else ""
        who, *ids = [i for i in (self.name, self.identifier, handle) if i] or ["(no identifier)"]
        return f"{who} ({', '.join(ids)})" if ids else who

    def as_student(self) -> Student:
        """The gradebook's student: her roster identifier and GitHub handle are what an LMS roster is matched on."""
        ids = [i for i in (self.identifier, f"@{self.github_username}" if self.github_username else "") if i]
        return Student(self.label, self.name or self.identifier or self.github_username, ids)


@dataclass
class ClassroomExport:
    path: Path
    kind: str  # "roster" (classroom_roster.csv) or "grades" (an assignment's grades export)
    students: list[ClassroomStudent]
    repositories: dict[str, list[ClassroomStudent]] = field(default_factory=dict)  # grades export: folded repo name -> students


def read_classroom(path: Path) -> ClassroomExport:
    """The export's students (and, from a grades export, each repository's); refused with the columns
    expected when the file is neither export."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [c.strip() for c in reader.fieldnames or []]
            # a row with more cells than the header has them under the key None: not a column
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ClassroomError(f"cannot read the GitHub Classroom export {path}: {err}") from None
    identifier_column = next((c for c in IDENTIFIER_COLUMNS if c in header), None)
    if "student_repository_name" in header and "github_username" in header and identifier_column:
        return grades_export(path, rows, identifier_column)
    if all(c in header for c in ROSTER_COLUMNS[:2]):
        students = [ClassroomStudent(r["identifier"], r["github_username"], r.get("name", ""))
                    for r in rows if r["identifier"] or r["github_username"]]
        return ClassroomExport(path, "roster", students)
    raise ClassroomError(
        f"{path} is not a GitHub Classroom export: its columns are {', '.join(header) or 'none'}; expected the "
        f"classroom's roster (classroom_roster.csv: {', '.join(ROSTER_COLUMNS)}; the Students page, Download) or an "
        f"assignment's grades export ({', '.join(GRADES_COLUMNS)}, and group_name for a group assignment; the "
        "assignment's page, Download grades)")


def grades_export(path: Path, rows: list[dict[str, str]], identifier_column: str) -> ClassroomExport:
    export = ClassroomExport(path, "grades", [])
    for r in rows:
        if not (r[identifier_column] or r["github_username"]):
            continue
        student = ClassroomStudent(r[identifier_column], r["github_username"], r.get("name", ""))
        export.students.append(student)
        if r["student_repository_name"]:  # empty: she has not accepted the assignment
            export.repositories.setdefault(folded(r["student_repository_name"]), []).append(student)
    return export


def folder_of(submission: str) -> str:
    """The folder a submission came from (``lab3-ada/rnn_lm.py`` -> ``lab3-ada``), or a single file's stem."""
    return submission.split("/")[0] if "/" in submission else Path(submission).stem


@dataclass
class Ownership:
    """The class's submissions mapped to their students through the platform."""
    export: ClassroomExport
    students_of: dict[str, list[ClassroomStudent]]  # submission -> its students (present for every owned one)
    unowned: dict[str, str]  # submission -> the exact step that maps it to its students
    without_repository: list[tuple[ClassroomStudent, str]]  # students of the export no graded folder is theirs, and why
    mismatches: dict[str, list[str]] = field(default_factory=dict)  # submission -> notes, once its AUTHORS are read

    def check_authors(self, grades: list) -> dict[str, list[str]]:
        """Compares each graded submission's AUTHORS with its students (``authors_mismatches``) and keeps
        the notes for the class report; returns them, submission -> notes, for the rows."""
        self.mismatches = authors_mismatches(self, grades)
        return self.mismatches


def map_submissions(export: ClassroomExport, submissions: list[str]) -> Ownership:
    """Each submission's students, by its folder's name; the submissions that are no one's, and the
    export's students that own none of them."""
    folders = {s: folder_of(s) for s in submissions}
    if export.kind == "grades":
        owners = {s: export.repositories[folded(f)] for s, f in folders.items() if folded(f) in export.repositories}
    else:
        owners = owners_by_username(export, folders)
    unowned = {s: fix_for(export, f) for s, f in folders.items() if s not in owners}
    owned = {id(st) for students in owners.values() for st in students}
    without = [(st, why_no_repository(export, st)) for st in export.students if id(st) not in owned]
    return Ownership(export, owners, unowned, without)


def why_no_repository(export: ClassroomExport, student: ClassroomStudent) -> str:
    if not student.github_username:
        return "no GitHub account linked to this roster entry"
    if export.kind == "roster":
        return "no folder of this class is her repository"
    repository = next((name for name, students in export.repositories.items() if student in students), None)
    return (f"her repository {repository} is no folder of this class: clone the assignment again" if repository
            else "has not accepted the assignment")


def owners_by_username(export: ClassroomExport, folders: dict[str, str]) -> dict[str, list[ClassroomStudent]]:
    """``<slug>-<username>``: the slug is the one most folders share once a roster username is taken off
    their end, so a username that is itself the end of another (``ada-l``, ``l``) is not mistaken."""
    by_username = {folded(st.github_username): st for st in export.students if st.github_username}
    slugs = Counter(folded(f)[:-len(u) - 1] for f in set(folders.values()) for u in by_username
                    if folded(f).endswith("-" + u) and len(folded(f)) > len(u) + 1)
    if not slugs:
        return {}
    slug = slugs.most_common(1)[0][0]
    owners = {}
    for submission, folder in folders.items():
        name = folded(folder)
        if name.startswith(slug + "-") and name[len(slug) + 1:] in by_username:
            owners[submission] = [by_username[name[len(slug) + 1:]]]
    return owners


def fix_for(export: ClassroomExport, folder: str) -> str:
    """What to do so that ``folder`` maps to its students."""
    if export.kind == "grades":
        return (f"no student_repository_name in {export.path.name} is '{folder}': clone the assignment with "
                "`gh classroom clone student-repos -a ASSIGNMENT_ID` (it names each folder after its repository) "
                f"or, if this repository was accepted after the export, download the assignment's grades again and "
                "grade again")
    return (f"no github_username of {export.path.name} ends the folder name '{folder}' as `gh classroom clone` names "
            "it (<assignment>-<username>): if it is a student's repository, link her GitHub account to her "
            "identifier on the classroom's Students page and download classroom_roster.csv again; for a group "
            "assignment, give --classroom the assignment's grades export (its page, Download grades), which names "
            "each group's students; then grade again")


def authors_mismatches(ownership: Ownership, grades: list) -> dict[str, list[str]]:
    """Notes for the rows whose ``AUTHORS`` disagree with the platform: a name that is none of the
    repository's students, and a student of the repository that ``AUTHORS`` leaves out (when it names
    anyone). They cost nothing and change no one's grade: the gradebook follows the platform."""
    notes: dict[str, list[str]] = {}
    for g in grades:
        students = ownership.students_of.get(g.file)
        if students is None or not g.authors:  # nobody to compare with; an empty AUTHORS is noted already
            continue
        written = [parse_entry(a) for a in g.authors]
        strangers = [w.written for w in written if not any(same_person(w, st) for st in students)]
        left_out = [st.label for st in students if not any(same_person(w, st) for w in written)]
        lines = [f"AUTHORS names {w!r}, not a student of this repository per GitHub Classroom (no points lost; "
                 "the gradebook follows the Classroom)" for w in strangers]
        lines += [f"AUTHORS leaves out {s!r}, a student of this repository per GitHub Classroom (no points lost)"
                  for s in left_out]
        if lines:
            notes[g.file] = lines
    return notes


def same_person(written: Student, student: ClassroomStudent) -> bool:
    """An AUTHORS entry is the student when it shares her identifier or GitHub handle, or her name."""
    ids = {folded(i.lstrip("@")) for i in written.identifiers}
    theirs = {folded(i) for i in (student.identifier, student.github_username) if i}
    return bool(ids & theirs) or (bool(student.name) and folded(written.name) == folded(student.name))


def summary(ownership: Ownership) -> list[str]:
    """What to tell the TA after grading: where the students came from, the folders that are no one's
    (with the step that fixes each) and the students without a repository, every one of them."""
    export = ownership.export
    owned = sum(len(students) for students in ownership.students_of.values())
    lines = [f"students from GitHub Classroom ({export.path}): {owned} in {len(ownership.students_of)} repositories; "
             f"AUTHORS disagrees on {len(ownership.mismatches)} (noted on their rows, nobody's grade changed)"]
    lines += [f"no student's repository: {submission}: {fix}" for submission, fix in ownership.unowned.items()]
    lines += [f"no repository in this class: {student.label} ({why})" for student, why in ownership.without_repository]
    return lines
