"""Notebooks as students save them, built from the released template (``assignment/lab.ipynb``): run in
order, out of order, never, with an error; answers written, left as the placeholder, deleted.

The printed outputs come from ``lab_support``'s own formatting (``format_table``, ``format_claims``,
``format_sweep_table``) on fixed numbers, so the notebook reader is tested against what the lab prints.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

import lab_support

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "assignment" / "lab.ipynb"
SWEEP = json.loads((REPO / "solution" / "sweep" / "sweep.json").read_text())
PLACEHOLDER = "*Your answer here.*"
QUICK = dict(embedded_docs=384, embedded_valid_docs=64, batch_size=32, epochs=1, emb_dim=16, hidden_dim=32)  # LAB_QUICK=1
EXPERIMENT_CELL = 'results = lab_support.run_experiment(cfg, "results")'  # the experiment's cell, by a line of it


def model_numbers(recall: float, ppl: float, init: float, trained: float) -> dict:
    return dict(far_k=21, steps=1200, train_seconds=20.0, best_valid_ppl=ppl, best_valid_step=1100,
                valid_drop_last_third=0.01, recall_accuracy=recall, gtt_far_rel_init=init, gtt_far_rel_final=trained,
                decay_per_step_init=0.5, decay_per_step_final=0.9, grad_norm_first_10pct=0.2,
                grad_norm_last_10pct=0.1, threads=1)


RESULTS = dict(data="embedded recall corpus", vocab_size=120, device="cpu", ppl_floor=22.06, valid_floor=22.06,
               bf16={"rnn": False, "lstm": True, "lstm_fb1": True}, probe="validation lines cut after recall",
               models={"rnn": model_numbers(0.125, 23.84, 3.1e-7, 2.0e-5),
                       "lstm": model_numbers(1.0, 22.1, 2.9e-5, 1.3),
                       "lstm_fb1": model_numbers(0.998, 22.09, 1.2e-2, 1.1)})
CLAIMS = [lab_support.claim("init_far_gradient", True, "At initialisation the default LSTM keeps 94x more of the "
                            "gradient at the name, 21 steps back, than the vanilla RNN (2.9e-05 vs 3.1e-07).",
                            {"ratio": 94.0}),
          lab_support.claim("lstm_learns_recall", True, "In 1200 steps the LSTMs learn to recall the name 21 steps "
                            "back (accuracy 1.00, 1.00); the RNN does not (0.12; chance 0.125).",
                            {"rnn": 0.12, "lstm": 1.0, "lstm_fb1": 1.0}),
          lab_support.claim("perplexity_floor", False, "The corpus's floor is perplexity 22.06. The LSTMs end within "
                            "0.2%, 0.1% of it: nothing is left to learn. The RNN ends 8.1% above it.",
                            {"gap_lstm": 0.002, "gap_lstm_fb1": 0.001})]
PRINTED = {  # a line of the cell's source -> what the cell printed
    "data = lab_support.prepare_data(cfg)": "embedded recall corpus | vocabulary: 120 | training windows: 4000\n"
                                            "SEQ_LEN: 30 tokens a window\nperplexity floor: 22.06\n",
    EXPERIMENT_CELL: lab_support.format_table(RESULTS) + "\n",
    'print(lab_support.format_claims(results["claims"]))': lab_support.format_claims(CLAIMS) + "\n",
    "print(lab_support.format_sweep_table(sweep))": (lab_support.format_sweep_table(SWEEP) + "\n"
                                                     + lab_support.format_claims(SWEEP["claims"]) + "\n"),
}
ANSWERS = {1: "The RNN keeps 3.1e-07 of the gradient at the name, the LSTM 2.9e-05:\n\n- the cell state is additive",
           2: "The LSTMs recall (1.00), the RNN stays at chance (0.125).",
           3: "No: it is **dominated** by short distances. <script>alert('x')</script> <b>bold</b>",
           4: "The trained LSTM curves peak at k = 21.",
           5: "The gradient at the name falls by orders of magnitude; the norm stays near 0.2.",
           6: "At 90 the RNN's gradient is exactly 0 & the gates help only relatively."}


def template() -> nbformat.NotebookNode:
    return nbformat.read(TEMPLATE, as_version=4)


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def run(nb, counts: list[int | None] | None = None, error_in: int | None = None,
        printed: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The notebook as Jupyter saves it after running its code cells with these execution counts (default
    1, 2, ... top to bottom); ``error_in``: that code cell (1-based) raised, and nothing after it ran;
    ``printed``: what cells print instead of ``PRINTED``'s (``experiment_printed``: a real run's)."""
    nb = copy.deepcopy(nb)
    cells = code_cells(nb)
    counts = list(range(1, len(cells) + 1)) if counts is None else counts
    for number, (cell, count) in enumerate(zip(cells, counts), start=1):
        cell.execution_count, cell.outputs = count, []
        if error_in is not None and number > error_in:
            cell.execution_count = None
            continue
        if count is None:
            continue
        if number == error_in:
            cell.outputs.append(nbformat.v4.new_output("error", ename="NotImplementedError",
                                                       evalue="Task 1: implement VanillaRNNLM",
                                                       traceback=["Traceback (most recent call last)", "..."]))
            continue
        for line, text in {**PRINTED, **(printed or {})}.items():
            if line in cell.source:
                cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
    return nb


def experiment_printed(cfg, results: dict) -> dict[str, str]:
    """What the experiment's two cells print after a real ``lab_support.run_experiment(cfg)``."""
    return {EXPERIMENT_CELL: f"{cfg}\n{lab_support.format_table(results)}\n",
            'print(lab_support.format_claims(results["claims"]))': lab_support.format_claims(results["claims"]) + "\n"}


def printed_run(threads: int) -> tuple[dict, dict[str, str]]:
    """A real run of the experiment at LAB_QUICK's size (seconds): its results, and what its cells print."""
    cfg = lab_support.LabConfig(**QUICK, threads=threads)
    results = lab_support.run_experiment(cfg, progress=False)
    return results, experiment_printed(cfg, results)


def answered(nb, answers: dict[int, str] | None = None) -> nbformat.NotebookNode:
    """The discussion's placeholders replaced by the answers given (question number -> markdown), in order."""
    nb = copy.deepcopy(nb)
    answers = ANSWERS if answers is None else answers
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and "**Q1.**" in c.source)
    parts = cell.source.split(PLACEHOLDER)
    assert len(parts) == 7, "the template has one placeholder per question"
    cell.source = parts[0] + "".join(answers.get(n, PLACEHOLDER) + part for n, part in enumerate(parts[1:], start=1))
    return nb


def write(nb, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "lab.ipynb")
    return folder / "lab.ipynb"
