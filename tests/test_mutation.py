"""The mutation benchmark's parts (benchmarks/bench_mutation.py): its operators, which mutants it
makes, how it grades and scores them. The benchmark itself (every mutant through the judge) is
`make mutation`."""

import sys
from pathlib import Path

import pytest
from cosmic_ray.mutating import mutate_code

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
import bench_mutation  # noqa: E402
from mutation_operators import OPERATORS  # noqa: E402
from conftest import RUNS_THE_JUDGE  # noqa: E402

pytestmark = RUNS_THE_JUDGE


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_operator_examples(name):
    """Each operator makes the mutants its examples show, as cosmic-ray applies them."""
    operator = OPERATORS[name]()
    for example in operator.examples():
        assert mutate_code(example.pre_mutation_code, operator, example.occurrence) == example.post_mutation_code


@pytest.fixture(scope="module")
def solution_mutants():
    return bench_mutation.generate_mutants(bench_mutation.SOLUTION.read_text())


def test_mutants_cover_every_task_and_stay_in_its_region(solution_mutants):
    code = bench_mutation.SOLUTION.read_text()
    regions = bench_mutation.task_regions(code)
    mutants, invalid = solution_mutants
    assert invalid == 0
    assert {m.task for m in mutants} == set(range(1, 7))
    assert all(regions[m.line] == m.task for m in mutants)
    assert len({m.code for m in mutants}) == len(mutants)  # no mutant twice
    keys = {m.key for m in mutants}
    assert len(keys) == len(mutants)  # the reviewed list can name each one
    # the mistakes the project's operators are there for
    assert ("task1 rnnlab/RemoveKeywordArgument: self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)"
            " -> self.emb = nn.Embedding(vocab_size, emb_dim)") in keys
    assert any(m.operator == "rnnlab/RemoveCallStatement" and m.before == "handle.remove()" for m in mutants)
    # the shortcuts that keep the easy case and break the hard one (issue 33)
    shortcuts = {m.operator for m in mutants if m.operator in SHORTCUTS}
    assert shortcuts == set(SHORTCUTS), set(SHORTCUTS) - shortcuts
    assert bench_mutation.generate_mutants(code, {5})[0] == [m for m in mutants if m.task == 5]


def test_reviewed_equivalents_have_reasons():
    equivalents = bench_mutation.read_equivalents()
    assert all(reason.strip() for reason in equivalents.values())
    assert all(key.split(" ", 1)[0] in {f"task{n}" for n in range(1, 7)} for key in equivalents)


def record(task: int, verdict: str, key: str) -> dict:
    return {"task": task, "verdict": verdict, "key": key}


def test_score_leaves_out_reviewed_equivalents_and_counts_timeouts_as_killed():
    records = [record(1, "killed", "a"), record(1, "timed out", "b"), record(1, "survived", "same"),
               record(2, "killed", "c"), record(2, "survived", "hole")]
    summary = bench_mutation.summarise(records, {"same": "changes nothing", "task1 gone": "was equivalent",
                                                "task3 other": "not graded in this run"})
    assert summary["rows"][1] == {"mutants": 3, "equivalent": 1, "killed": 1, "timed out": 1, "survived": 0,
                                  "score": 1.0}
    assert summary["rows"][2]["score"] == 0.5
    assert summary["rows"]["all"]["score"] == 0.75
    assert [r["key"] for r in summary["unreviewed"]] == ["hole"]
    assert summary["stale"] == ["task1 gone"]
    all_kept = bench_mutation.correct_rates([{"task": 3, "operator": "correct/a", "verdict": "survived"}])
    one_lost = bench_mutation.correct_rates([{"task": 3, "operator": "correct/a", "verdict": "survived"},
                                             {"task": 4, "operator": "correct/b", "verdict": "killed"}])
    assert one_lost["all"] == {"variants": 2, "full_marks": 1, "lost_points": ["b"]}
    assert not bench_mutation.targets_met(summary, all_kept)
    assert bench_mutation.targets_met(bench_mutation.summarise(records[:4], {"same": "changes nothing"}), all_kept)
    assert not bench_mutation.targets_met(bench_mutation.summarise(records[:4], {"same": "changes nothing"}), one_lost)


# operator -> (task, the check that must fail the mutant: the one that exercises the hard case)
SHORTCUTS = {"rnnlab/ModeFromTopModuleOnly": (4, "task4_no_side_effects"),
             "rnnlab/FinallyOnSuccessOnly": (6, "task6_hook_removed_when_forward_raises"),
             "rnnlab/NewTensorFromOtherArgument": (1, "task1_reference")}


def test_shortcut_mutants_are_killed_by_the_check_of_their_hard_case(solution_mutants):
    """Restoring only the top module's mode, removing the hook on success only and making the hidden
    state from the int64 ids keep the easy case: each is killed by the check that tries the hard one."""
    mutants, _ = solution_mutants
    shortcuts = [m for m in mutants if m.operator in SHORTCUTS and "h0.new_zeros" not in m.after]
    assert len(shortcuts) == len(SHORTCUTS)
    for graded in bench_mutation.grade_mutants(shortcuts, workers=1, progress=False):
        task, check = SHORTCUTS[graded["operator"]]
        assert graded["verdict"] == "killed" and check in graded["failed_checks"], graded
        assert all(name.startswith(f"task{task}") for name in graded["failed_checks"]), graded


def test_a_mutant_is_graded_by_the_judge(solution_mutants):
    """The forgotten `padding_idx` of Task 1 is killed by Task 1 checks only: the benchmark's
    verdicts come from the real hidden checks."""
    mutants, _ = solution_mutants
    forgot_padding = next(m for m in mutants if m.after == "self.emb = nn.Embedding(vocab_size, emb_dim)")
    (graded,) = bench_mutation.grade_mutants([forgot_padding], workers=1, progress=False)
    assert graded["verdict"] == "killed"
    assert any(name.startswith("task1") for name in graded["failed_checks"])
    assert all(name.startswith("task1") for name in graded["failed_checks"])
