"""`rnnlab grade --classroom`: students known through GitHub Classroom, not through AUTHORS; and the
output folder replaced whole. The parts on their own here; a class laid out as `gh classroom clone`
lays it out, graded end to end, in tests/test_classroom_cli.py."""

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rnnlab.classroom import ClassroomError, map_submissions, read_classroom
from rnnlab.gradebook import write_gradebook
from rnnlab.outputs import refusal, replacing

CLASSROOM_ROSTER = """identifier,github_username,github_id,name
1234567,ada,101,Ada Lovelace
7654321,ada-l,102,Ada Lang
5550001,grace,103,Grace Hopper
5550002,,,Emmy Noether
"""
GROUP_GRADES = """assignment_name,assignment_url,starter_code_url,github_username,roster_identifier,student_repository_name,student_repository_url,submission_timestamp,points_awarded,points_available,group_name
rnn-lab,u,s,ada,1234567,rnn-lab-vanishing,r,t,0,100,Vanishing
rnn-lab,u,s,grace,5550001,rnn-lab-vanishing,r,t,0,100,Vanishing
rnn-lab,u,s,ada-l,7654321,rnn-lab-gates,r,t,0,100,Gates
rnn-lab,u,s,emmy,5550002,,,,,100,
"""
CANVAS = """Student,ID,SIS User ID,SIS Login ID,Section
    Points Possible,,,,
"Lovelace, Ada",1,1234567,ada@uni.edu,A
"Lang, Ada",2,7654321,lang@uni.edu,A
"Hopper, Grace",3,5550001,grace@uni.edu,B
"Noether, Emmy",4,5550002,emmy@uni.edu,B
"""


@dataclass
class FakeGrade:  # what the gradebook and the cross-check read of rnnlab.grade.Grade
    file: str
    authors: list[str]
    grade_total: float
    notes: list[str] = field(default_factory=list)


def written(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_roster_export_maps_each_folder_to_the_username_it_ends_with(tmp_path):
    more = "5550003,l,104,Lee\n999,zed,105,Zed,extra,cells\n"  # "l" ends "rnn-lab-ada-l" too
    export = read_classroom(written(tmp_path, "classroom_roster.csv", CLASSROOM_ROSTER + more))
    owners = map_submissions(export, ["rnn-lab-ada/rnn_lm.py", "rnn-lab-ada-l/rnn_lm.py", "rnn-lab-zed/rnn_lm.py",
                                      "rnn-lab-nobody/rnn_lm.py"])
    # "rnn-lab-ada-l" ends with "-ada-l" and with "-l": the slug the class's folders share, "rnn-lab", decides
    assert [s.github_username for s in owners.students_of["rnn-lab-ada/rnn_lm.py"]] == ["ada"]
    assert [s.github_username for s in owners.students_of["rnn-lab-ada-l/rnn_lm.py"]] == ["ada-l"]
    assert [s.name for s in owners.students_of["rnn-lab-zed/rnn_lm.py"]] == ["Zed"], "a row with extra cells is read"
    assert "'rnn-lab-nobody'" in owners.unowned["rnn-lab-nobody/rnn_lm.py"]
    assert "download classroom_roster.csv again" in owners.unowned["rnn-lab-nobody/rnn_lm.py"]
    assert {(s.name, why) for s, why in owners.without_repository} == {
        ("Grace Hopper", "no folder of this class is her repository"), ("Lee", "no folder of this class is her repository"),
        ("Emmy Noether", "no GitHub account linked to this roster entry")}


def test_a_group_assignments_grades_export_names_each_groups_students(tmp_path):
    export = read_classroom(written(tmp_path, "grades.csv", GROUP_GRADES))
    assert export.kind == "grades"
    owners = map_submissions(export, ["rnn-lab-vanishing/rnn_lm.py", "rnn-lab-gates/rnn_lm.py", "stray/rnn_lm.py"])
    assert [s.github_username for s in owners.students_of["rnn-lab-vanishing/rnn_lm.py"]] == ["ada", "grace"]
    assert [s.identifier for s in owners.students_of["rnn-lab-gates/rnn_lm.py"]] == ["7654321"]
    assert "gh classroom clone student-repos" in owners.unowned["stray/rnn_lm.py"]
    assert [(s.github_username, why) for s, why in owners.without_repository] == [
        ("emmy", "has not accepted the assignment")]
    partly_cloned = map_submissions(export, ["rnn-lab-vanishing/rnn_lm.py"])
    assert [(s.github_username, why) for s, why in partly_cloned.without_repository] == [
        ("ada-l", "her repository rnn-lab-gates is no folder of this class: clone the assignment again"),
        ("emmy", "has not accepted the assignment")]


@pytest.mark.parametrize("text", ["Student,ID\nAda,1\n", "", "identifier,name\n1,Ada\n"])
def test_a_file_that_is_no_classroom_export_is_refused_naming_the_columns_expected(tmp_path, text):
    with pytest.raises(ClassroomError) as refused:
        read_classroom(written(tmp_path, "export.csv", text))
    assert "identifier, github_username, github_id, name" in str(refused.value)
    assert "student_repository_name" in str(refused.value)


def test_each_student_gets_her_own_repositorys_points_whatever_authors_say(tmp_path):
    export = read_classroom(written(tmp_path, "grades.csv", GROUP_GRADES))
    grades = [FakeGrade("rnn-lab-vanishing/rnn_lm.py", ["Student A"], 100),
              # names a student of the other repository, and takes nothing from her
              FakeGrade("rnn-lab-gates/rnn_lm.py", ["Ada Lovelace (1234567, @ada)", "Ada Lang (7654321)"], 7)]
    owners = map_submissions(export, [g.file for g in grades])
    notes = owners.check_authors(grades)
    assert [n.split(",")[0] for n in notes["rnn-lab-vanishing/rnn_lm.py"]] == [
        "AUTHORS names 'Student A'", "AUTHORS leaves out '1234567 (@ada)'", "AUTHORS leaves out '5550001 (@grace)'"]
    assert notes["rnn-lab-gates/rnn_lm.py"] == [
        "AUTHORS names 'Ada Lovelace (1234567, @ada)', not a student of this repository per GitHub Classroom (no "
        "points lost; the gradebook follows the Classroom)"]
    told = write_gradebook("canvas", grades, tmp_path, written(tmp_path, "canvas.csv", CANVAS), "Lab 3", owners)
    with open(tmp_path / "gradebook_canvas.csv", newline="") as f:
        rows = list(csv.reader(f))[2:]
    assert sorted(rows) == [["Hopper, Grace", "3", "5550001", "grace@uni.edu", "B", "100"],
                            ["Lang, Ada", "2", "7654321", "lang@uni.edu", "A", "7"],
                            ["Lovelace, Ada", "1", "1234567", "ada@uni.edu", "A", "100"]]
    assert not (tmp_path / "gradebook_conflicts.csv").exists() and not (tmp_path / "gradebook_unmatched.csv").exists()
    assert any("Emmy Noether" in line and "in no team's repository" in line for line in told)
    assert not any("self-declared" in line for line in told)


def test_without_classroom_the_gradebook_says_identities_are_self_declared(tmp_path):
    told = write_gradebook("csv", [FakeGrade("a.py", ["Ada"], 1)], tmp_path, None, "Lab")
    assert any("self-declared" in line and "--classroom" in line for line in told)


def test_the_output_folder_is_replaced_whole_keeping_only_the_tas_sheet(tmp_path):
    out = tmp_path / "grades"
    with replacing(out) as new:
        (new / "final_grades.csv").write_text("first")
        (new / "gone.txt").write_text("a team no longer in the class")
        (new / "manual_scores.csv").write_text("the TA's points")
    with pytest.raises(RuntimeError):
        with replacing(out) as new:
            (new / "final_grades.csv").write_text("half")
            raise RuntimeError("the grading failed half way")
    assert (out / "final_grades.csv").read_text() == "first", "nothing lost until the new outputs are complete"
    with replacing(out) as new:
        (new / "final_grades.csv").write_text("second")
    assert sorted(p.name for p in out.iterdir()) == ["final_grades.csv", "manual_scores.csv"]
    assert (out / "manual_scores.csv").read_text() == "the TA's points"
    assert [p.name for p in tmp_path.iterdir()] == ["grades"], "no temporary folder left beside it"


def test_the_current_folder_can_be_the_output_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / ".")
    with replacing(Path(".")) as new:
        (new / "final_grades.csv").write_text("graded")
    assert [p.name for p in tmp_path.parent.iterdir() if p.name.startswith(f".{tmp_path.name}")] == []
    assert (tmp_path / "final_grades.csv").read_text() == "graded"


def test_a_folder_that_is_not_a_gradings_outputs_is_never_replaced(tmp_path):
    for written in ("final_grades.csv", "report.html", "gradebook_canvas.csv", "teams/alice/feedback.txt",
                    "teams/alice/answers.pdf", "bob/results.json"):  # bob/: a team's folder of the layout before teams/
        (tmp_path / written).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / written).write_text("")
    assert refusal(tmp_path) is None
    (tmp_path / "teams" / "alice" / "notes.txt").write_text("mine")
    (tmp_path / "thesis.tex").write_text("mine")
    assert "holds what no grading wrote (teams/alice, thesis.tex)" in refusal(tmp_path)
    submissions = tmp_path / "class"
    (submissions / "carol").mkdir(parents=True)
    (submissions / "carol" / "rnn_lm.py").write_text("")
    assert "holds what no grading wrote (carol)" in refusal(submissions), "--out given the submissions by mistake"
    assert refusal(tmp_path / "new") is None
    assert "is a file, not a folder" in refusal(tmp_path / "thesis.tex")
