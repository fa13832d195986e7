"""Every sentence of every task docstring (solution/rnn_lm.py, released as the student's contract)
is mapped to the hidden check that verifies it, or says why nothing grades it; a test keeps the
table complete both ways, and a judge test shows that each promise's check sees a real violation
of it (a mistake of the bank that breaks the promise fails that very check).

Each check exercises its promise where it is hardest to keep, not only where it is easy: submodules
in mixed train/eval modes (evaluate; gradient_through_time if it changes modes), frozen parameters
and a caller inside ``torch.no_grad()`` (evaluate), a parameter shared under two names
(l2_grad_norm_recurrent), a forward pass that raises (gradient_through_time's hook and modes), a
hidden state that must be float though the inputs are int64 ids (Task 1). Where the bank mistake
named is such a shortcut (it keeps the easy case), its row says so. A promise that was more than
the lab needs was narrowed in the docstring instead, and its row says "narrowed"."""

import ast
import csv
import json
import re
import subprocess
from pathlib import Path

import pytest

import rnnjudge.checks  # noqa: F401 - registers the checks
from conftest import RUNS_THE_JUDGE
from rnnjudge.registry import CHECKS
from submission_bank import BUGGY, apply_edits

REPO = Path(__file__).resolve().parent.parent
RNNLAB = [str(REPO / ".venv" / "bin" / "rnnlab")] if (REPO / ".venv" / "bin" / "rnnlab").exists() else ["rnnlab"]
NOT_GRADED = "not graded"  # a promise no check can or should verify: the reason follows in the table

# docstring (class or function, "Class.method" for methods) -> [(words of one sentence, check, a bank
# mistake that breaks it or None)]. A sentence is covered when it contains the words.
PROMISES = {
    "VanillaRNNLM": [
        ("Embedding -> tanh RNN cell unrolled over time", "task1_reference", "rnn_relu_cell"),
        ("Attributes (the autograder reads them by name)", "task1_structure", "rnn_no_padding_idx"),
        ("- emb: ``nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)``", "task1_structure", "rnn_no_padding_idx"),
        ("- rnn_cell: ``nn.RNNCell(emb_dim, hidden_dim, nonlinearity=\"tanh\")``", "task1_structure", None),
        ("- fc: ``nn.Linear(hidden_dim, vocab_size)``", "task1_structure", None),
        ("- hidden_dim: int", "task1_structure", None),
        ("These three modules must be the model's only parameters", "task1_reference", None),
        ("Keep PyTorch's default initialisation", "task1_vanishing", None),
    ],
    "VanillaRNNLM.forward": [
        ("Run the RNN over a batch of token ids", "task1_shapes", None),
        ("- x: (B, T) int64 token ids, T >= 1", "task1_shapes", None),
        ("h0: (B, H) initial hidden state, or None for zeros", "task1_continuation", "rnn_h0_ignored"),
        ("logits: (B, T, V) unnormalised scores (no softmax", "task1_reference", "rnn_returns_log_probs"),
        ("step t depends on x[:, :t+1] only", "task1_causal", "rnn_time_batch_mixed"),
        ("h_T: (B, H) hidden state after the last step", "task1_continuation", "rnn_returns_first_state"),
        ("Runs on whatever device", "task1_device", "rnn_state_made_on_the_cpu"),
        # hard case: x holds int64 ids, so x.new_zeros(B, H) (the old hint, read literally) is an int64 state
        ("The zero hidden state is float32, like the embeddings", "task1_reference", "rnn_state_made_from_the_ids"),
    ],
    "LSTMLM": [
        ("Embedding -> one-layer ``nn.LSTM`` (batch_first)", "task2_reference", "lstm_not_batch_first"),
        ("Attributes (the autograder reads them by name)", "task2_structure", None),
        ("- emb: ``nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)``", "task2_structure", None),
        ("- lstm: ``nn.LSTM(emb_dim, hidden_dim, batch_first=True)``: one layer", "task2_structure", None),
        ("- fc: ``nn.Linear(hidden_dim, vocab_size)``", "task2_structure", None),
        ("- hidden_dim: int", "task2_structure", None),
        ("these modules are the only parameters", "task2_reference", None),
    ],
    "LSTMLM.forward": [
        ("Run the LSTM over a batch of token ids", "task2_shapes", None),
        ("- x: (B, T) int64 token ids, T >= 1", "task2_shapes", None),
        ("- state: ``(h_0, c_0)``, each (1, B, H), or None for zeros", "task2_continuation", "lstm_state_ignored"),
        ("logits: (B, T, V) unnormalised next-token scores", "task2_reference", "lstm_softmax_output"),
        ("(h_n, c_n): each (1, B, H)", "task2_continuation", "lstm_state_ignored"),
        ("Runs on whatever device", "task2_device", None),
    ],
    "lm_loss": [
        ("Next-token cross-entropy that ignores padded targets", "task3_reference", "loss_no_pad_mask"),
        ("Inputs: - logits: (B, T, V) unnormalised, finite scores", "task3_any_layout", "loss_view_needs_contiguous"),
        ("on any device", "task3_device", None),
        ("targets: (B, T) int64 token ids", "task3_padding", "loss_mean_counts_pads"),
        ("ignore_index: the pad id: not always 0", "task3_any_layout", "loss_gather_on_raw_targets"),
        ("reduction: ``\"mean\"``", "task3_reference", "loss_always_sum"),
        ("a scalar tensor, differentiable", "task3_gradient", "loss_softmax_twice"),
        ("For bfloat16 logits", "task3_bfloat16", None),
        ("The grader always gives at least one non-pad target", NOT_GRADED + ": the undefined case is the "
         "student's choice, and the grader never sends it", None),
        ("undefined: NaN", NOT_GRADED + ": as above", None),
        ("is one way", NOT_GRADED + ": any implementation that meets the promises above is accepted "
         "(the correct bank holds several)", None),
    ],
    "evaluate": [
        ("Token-weighted loss and perplexity", "task4_token_weighted", "eval_mean_of_batch_means"),
        ("model: a language model whose ``forward(x)``", "task4_generator_and_model", None),
        ("data_loader: any iterable", "task4_generator_and_model", None),
        ("pad_id: targets equal to it are ignored", "task4_token_weighted", "eval_counts_pad_tokens"),
        ("every target weighs the same", "task4_token_weighted", "eval_mean_of_batch_means"),
        ("A Python float", "task4_token_weighted", None),
        ("natural exponential", "task4_token_weighted", "eval_base2_perplexity"),
        ("Runs the model in eval mode (every submodule too) and without gradients", "task4_no_side_effects",
         "eval_builds_graph"),
        # hard case: a caller inside torch.no_grad() must find autograd off again afterwards
        ("It may be called inside ``torch.no_grad()`` or outside it", "task4_no_side_effects",
         "eval_switches_autograd_off_and_on"),
        # hard case: a frozen embedding
        ("a frozen one stays frozen", "task4_no_side_effects", "eval_unfreezes_every_parameter"),
        ("a model in train mode is in train mode again", "task4_no_side_effects", "eval_leaves_eval_mode"),
        ("of the model and of each submodule as it found them", "task4_no_side_effects",
         "eval_restores_only_the_top_module"),
        # hard case: submodules in mixed modes; model.train(was_training) keeps the all-one-mode case only
        ("a submodule the caller had put in eval mode", "task4_no_side_effects",
         "eval_gives_every_submodule_the_model_mode"),
        ("raise a ``ValueError``", NOT_GRADED + ": the grader does not test the empty case (said in the "
         "docstring)", None),
        ("The loss may come from ``lm_loss``", "task4_token_weighted", None),
        ("if you call it, call it on a whole batch", "task4_token_weighted", None),
        ("checks of this task run with a correct", "task4_token_weighted", None),
    ],
    "l2_grad_norm_recurrent": [
        ("L2 norm of the gradients of the recurrent weights", "task5_reference", "norm_of_weights_not_grads"),
        ("its recurrent weights are the parameters whose name contains ``weight_hh``", "task5_reference",
         "norm_all_parameters"),
        ("a Python float (not a tensor", "task5_reference", None),
        ("all entries together", "task5_reference", "norm_sum_of_norms"),
        ("0.0 if none has a gradient", "task5_edge_cases", None),
        # hard case: the RNN cell registered under a second name
        ("A parameter shared under several names counts once", "task5_reference", "norm_counts_shared_parameters_twice"),
        ("Leaves every ``.grad`` as it was", "task5_grads_untouched", None),
    ],
    "gradient_through_time": [
        ("How much of the last step's gradient", "task6_reference", "gtt_loss_of_all_steps"),
        ("Let ``L_T`` be the loss of the last time step only", "task6_reference", "gtt_loss_of_all_steps"),
        ("the embedding that enters the recurrence", "task6_reference", None),
        ("This returns ``g[k] =", "task6_reference", "gtt_reversed"),
        ("the gradient that travels k steps back", "task6_reference", "gtt_reversed"),
        ("It works for any model with a trained ``emb`` submodule", "task6_reference", None),
        ("model: a language model with an ``emb`` attribute", "task6_reference", None),
        ("x, y: (B, T) int64 inputs and targets", "task6_lab_sizes", "gtt_zero_beyond_distance_10"),
        ("pad_id: last-step targets equal to it are ignored", "task6_pad_id", None),
        ("g: (T,) float tensor", "task6_reference", None),
        ("Leaves every parameter's ``.grad`` as it was", "task6_param_grads", "gtt_backward_then_zero_grad"),
        ("leaves no hook on the model", "task6_hook_removed_when_forward_raises", "gtt_hook_kept_when_forward_raises"),
        ("Runs on the device of ``x``", "task6_device", None),
        ("any other that leaves ``.grad`` alone", "task6_param_grads", "gtt_leaves_param_grads"),
        # hard case: mixed modes, over repeated calls and when the forward pass raises
        ("It need not change the model's train/eval mode", "task6_param_grads",
         "gtt_eval_mode_restored_to_the_model_mode"),
        ("puts each module's own mode back, even when the forward pass raises", "task6_hook_removed_when_forward_raises",
         None),
        ("It is not asked to work inside ``torch.no_grad()``", NOT_GRADED + ": narrowed (issue 33): a caller inside "
         "torch.no_grad() or a frozen embedding is more than the lab needs, so the docstring says neither is asked",
         None),
        ("``L_T`` may come from ``lm_loss``", "task6_reference", None),
        ("if you call it, call it on the last step's logits", "task6_reference", None),
        ("the checks of this task run with a correct", "task6_reference", None),
    ],
}
# Checks that verify what the whole of a task's docstring says rather than one sentence of it.
WHOLE_TASK = {"task1_gradients", "task2_gradients", "task2_causal", "task2_vanishing", "task1_continuation",
              "task3_each_call_on_its_own", "task5_each_call_on_its_own",
              "task4_each_call_on_its_own", "task6_each_call_on_its_own"}


def docstrings() -> dict[str, str]:
    tree = ast.parse((REPO / "solution" / "rnn_lm.py").read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in {k.split(".")[0] for k in PROMISES}:
            found[node.name] = ast.get_docstring(node)
            for item in getattr(node, "body", []):
                if isinstance(item, ast.FunctionDef) and f"{node.name}.{item.name}" in PROMISES:
                    found[f"{node.name}.{item.name}"] = ast.get_docstring(item)
    return found


def sentences(doc: str) -> list[str]:
    """The docstring's sentences: split after '.', ':' at a line's end, and before a list item."""
    text = re.sub(r"\n\s*-\s", "\n\x00- ", doc)
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z`(])|\n\s*\n|\x00", text)
    return [" ".join(p.split()) for p in parts if len(p.split()) > 2]


def normal(text: str) -> str:
    return " ".join(text.split())


def test_every_sentence_of_every_task_docstring_has_a_check_or_a_reason():
    found = docstrings()
    assert set(found) == set(PROMISES), set(PROMISES) ^ set(found)
    uncovered = [f"{name}: {s!r}" for name, doc in found.items() for s in sentences(doc)
                 if not any(normal(words) in s for words, _, _ in PROMISES[name])]
    assert not uncovered, "docstring promises with no entry in PROMISES:\n" + "\n".join(uncovered)
    stale = [f"{name}: {words!r}" for name, rows in PROMISES.items() for words, _, _ in rows
             if normal(words) not in normal(found[name])]
    assert not stale, "PROMISES rows whose words are no longer in the docstring:\n" + "\n".join(stale)


def test_every_named_check_exists_and_every_check_backs_a_promise():
    named = {check for rows in PROMISES.values() for _, check, _ in rows if not check.startswith(NOT_GRADED)}
    assert named <= set(CHECKS), named - set(CHECKS)
    assert set(CHECKS) - named <= WHOLE_TASK, set(CHECKS) - named - WHOLE_TASK
    breakers = {b for rows in PROMISES.values() for _, _, b in rows if b}
    assert breakers <= set(BUGGY), breakers - set(BUGGY)


@RUNS_THE_JUDGE
def test_each_promise_check_fails_the_mistake_that_breaks_it(tmp_path):
    """The check of each promise sees its violation: the bank's mistake that breaks the promise
    fails that check under `rnnlab grade`."""
    expected = {}
    for rows in PROMISES.values():
        for _, check, breaker in rows:
            if breaker:
                expected.setdefault(breaker, set()).add(check)
    folder = tmp_path / "class"
    folder.mkdir()
    for name in expected:
        (folder / f"{name}.py").write_text(apply_edits(BUGGY[name][1]))
    proc = subprocess.run([*RNNLAB, "grade", str(folder), "--out", str(tmp_path / "out"), "--no-progress"],
                          capture_output=True, text=True, cwd=REPO, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(tmp_path / "out" / "final_grades.csv") as f:
        files = [r["file"] for r in csv.DictReader(f)]
    unseen = {}
    for file in files:
        results = json.loads((tmp_path / "out" / "teams" / Path(file).stem / "results.json").read_text())
        failed = {t["name"].split(": ")[-1] for t in results["tests"] if t.get("score", 0) < t.get("max_score", 0)}
        missed = expected[Path(file).stem] - failed
        if missed:
            unseen[file] = sorted(missed)
    assert not unseen, f"checks that did not fail the mistake that breaks their promise: {unseen}"
