"""Given code for the RNN-vs-LSTM lab: data sources, the experiment, its plots.

Nothing here is a task; it imports your ``rnn_lm`` module and runs it.

Data sources (``LabConfig.data``):

* ``"embedded"`` (default, offline): a generated corpus with one long-range
  dependency per line, see ``make_recall_corpus``.
* ``"wikitext"``: WikiText-2 (raw) through Hugging Face ``datasets``; needs
  the network the first time, then the local cache.
* a folder path: plain text files, one line = one document: ``train.txt``
  (or ``test.txt`` as a stand-in) and ``valid.txt``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader

import rnn_lm

MODEL_NAMES = ("rnn", "lstm", "lstm_fb1")
MODEL_LABELS = {
    "rnn": "vanilla RNN",
    "lstm": "LSTM (default init)",
    "lstm_fb1": "LSTM (forget-gate bias 1)",
}
MODEL_COLORS = {"rnn": "tab:red", "lstm": "tab:blue", "lstm_fb1": "tab:green"}


class DataSourceError(RuntimeError):
    """A data source that cannot be had; the message says how to get it."""


# ----------------------------------------------------------------------------
# The embedded corpus
# ----------------------------------------------------------------------------

RECALL_KEYS = ("anna", "boris", "chen", "dara", "emil", "fatma", "goran", "hana")
RECALL_MARKER = "recall"
FILLER_WORDS = tuple(
    "the of and to in a is was for on as with by he it at from his an were are which this be "
    "that first also has its had one two new after their but who or not they her she been "
    "city film game time year most made other only some over into more early later when "
    "during part three world".split()
)


def make_recall_corpus(n_docs: int, seed: int, distance: int = 20, seq_len: int = 30) -> list[str]:
    """Documents with one long-range dependency each, ``seq_len`` tokens long.

    Each line is ``prefix fillers, KEY, distance fillers, "recall", KEY``: a
    name, ``distance`` filler words drawn from a Zipfian distribution over 60
    common words, then the marker and the same name again. Fillers carry no
    information, so the only way to predict the name after ``recall`` is to
    have carried it ``distance + 1`` steps through the recurrence. Lines are
    exactly ``seq_len`` tokens, so non-overlapping windows of ``seq_len``
    align with them and each window holds one whole dependency.
    """
    prefix = seq_len - distance - 3
    if prefix < 0:
        raise ValueError(f"distance {distance} does not fit in seq_len {seq_len} (needs distance <= seq_len - 3)")
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) for rank in range(len(FILLER_WORDS))]
    docs = []
    for _ in range(n_docs):
        key = rng.choice(RECALL_KEYS)
        fillers = rng.choices(FILLER_WORDS, weights, k=prefix + distance)
        docs.append(" ".join(fillers[:prefix] + [key] + fillers[prefix:] + [RECALL_MARKER, key]))
    return docs


# ----------------------------------------------------------------------------
# Loading texts
# ----------------------------------------------------------------------------

def load_wikitext(max_train_lines: int, max_valid_lines: int) -> tuple[list[str], list[str]]:
    """WikiText-2 raw from the Hugging Face hub (or its local cache)."""
    try:
        from datasets import load_dataset
        ds = load_dataset("wikitext", "wikitext-2-raw-v1")
    except Exception as err:  # datasets raises many types for "no network"
        raise DataSourceError(
            "Could not load WikiText-2 ('wikitext', 'wikitext-2-raw-v1') from the Hugging Face hub: "
            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}\n"
            "It needs the network the first time (then it is cached). Offline, use --data embedded, "
            "or pass a folder with train.txt and valid.txt (one document a line), e.g. --data path/to/wikitext-2."
        ) from None
    return list(ds["train"]["text"][:max_train_lines]), list(ds["validation"]["text"][:max_valid_lines])


def load_folder(folder: str | Path, max_train_lines: int, max_valid_lines: int) -> tuple[list[str], list[str]]:
    """Plain text files in a folder: train.txt (or test.txt) and valid.txt."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataSourceError(f"Data folder {folder} does not exist. Pass a folder holding train.txt and valid.txt, "
                              "or use --data embedded (offline) or --data wikitext (network).")
    train_file = next((folder / n for n in ("train.txt", "test.txt") if (folder / n).is_file()), None)
    valid_file = folder / "valid.txt"
    if train_file is None or not valid_file.is_file():
        present = sorted(p.name for p in folder.iterdir())
        raise DataSourceError(f"Data folder {folder} needs train.txt (or test.txt) and valid.txt, one document a "
                              f"line; it holds {present or 'nothing'}.")

    def head(path: Path, n: int) -> list[str]:
        with open(path, encoding="utf-8") as f:
            return [line for _, line in zip(range(n), f)]

    return head(train_file, max_train_lines), head(valid_file, max_valid_lines)


# ----------------------------------------------------------------------------
# The experiment
# ----------------------------------------------------------------------------

@dataclass
class LabConfig:
    """Everything one run depends on; it is written next to the results."""
    data: str = "embedded"          # "embedded", "wikitext" or a folder
    max_train_lines: int = 2000     # wikitext / folder: the original lab's slice
    max_valid_lines: int = 500
    embedded_docs: int = 16000      # embedded corpus: training lines (validation: a quarter)
    recall_distance: int = 20       # embedded corpus: fillers between the name and "recall"
    vocab_size: int = 15000         # cap, <pad> and <unk> included
    seq_len: int = 30
    stride: int | None = None       # None: seq_len (non-overlapping windows)
    batch_size: int = 32
    emb_dim: int = 128
    hidden_dim: int = 256
    lr: float = 1e-3
    clip: float | None = 1.0
    epochs: int = 6
    max_steps: int | None = None
    eval_every: int = 250
    bf16: bool = False
    seed: int = 0
    models: tuple[str, ...] = MODEL_NAMES
    far_k: int = 20                 # the distance at which gradients are compared
    threads: int | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_texts(cfg: LabConfig) -> tuple[list[str], list[str], str]:
    """(train texts, valid texts, a description of the source)."""
    if cfg.data == "embedded":
        n_valid = max(cfg.embedded_docs // 4, 1)
        return (make_recall_corpus(cfg.embedded_docs, cfg.seed + 1000, cfg.recall_distance, cfg.seq_len),
                make_recall_corpus(n_valid, cfg.seed + 2000, cfg.recall_distance, cfg.seq_len),
                f"embedded recall corpus ({cfg.embedded_docs} lines, distance {cfg.recall_distance})")
    if cfg.data == "wikitext":
        train, valid = load_wikitext(cfg.max_train_lines, cfg.max_valid_lines)
        return train, valid, f"WikiText-2 raw (train[:{cfg.max_train_lines}], validation[:{cfg.max_valid_lines}])"
    train, valid = load_folder(cfg.data, cfg.max_train_lines, cfg.max_valid_lines)
    return train, valid, f"folder {cfg.data} ({len(train)} train lines, {len(valid)} valid lines)"


@dataclass
class LabData:
    stoi: dict
    itos: list
    train: rnn_lm.LMDataset
    valid: rnn_lm.LMDataset
    description: str
    marker_id: int | None = None    # the "recall" token, when the corpus has one

    def train_loader(self, cfg: LabConfig) -> DataLoader:
        # Seeded on its own, so every model sees the same batches in the same order.
        gen = torch.Generator().manual_seed(cfg.seed)
        return DataLoader(self.train, batch_size=cfg.batch_size, shuffle=True, generator=gen)

    def valid_loader(self, cfg: LabConfig) -> DataLoader:
        return DataLoader(self.valid, batch_size=256)

    def probe_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A fixed batch of full validation windows for the gradient-through-time curves."""
        n = min(len(self.valid), 64)
        xs, ys = zip(*(self.valid[i] for i in range(n)))
        return torch.stack(xs), torch.stack(ys)


def prepare_data(cfg: LabConfig) -> LabData:
    train_texts, valid_texts, description = load_texts(cfg)
    stoi, itos = rnn_lm.build_vocab(train_texts, max_tokens=cfg.vocab_size)
    train_ids = rnn_lm.encode_corpus(train_texts, stoi)
    valid_ids = rnn_lm.encode_corpus(valid_texts, stoi)
    if len(train_ids) < 2 or len(valid_ids) < 2:
        raise DataSourceError(f"{description}: too little text ({len(train_ids)} train, {len(valid_ids)} valid tokens).")
    marker = stoi.get(RECALL_MARKER) if cfg.data == "embedded" else None
    return LabData(stoi, itos, rnn_lm.LMDataset(train_ids, cfg.seq_len, cfg.stride),
                   rnn_lm.LMDataset(valid_ids, cfg.seq_len, cfg.stride), description, marker)


def build_model(name: str, vocab_size: int, cfg: LabConfig) -> torch.nn.Module:
    """A fresh model, its initialisation seeded on its own (not by what ran before)."""
    torch.manual_seed(cfg.seed)
    if name == "rnn":
        return rnn_lm.VanillaRNNLM(vocab_size, cfg.emb_dim, cfg.hidden_dim)
    model = rnn_lm.LSTMLM(vocab_size, cfg.emb_dim, cfg.hidden_dim)
    if name == "lstm_fb1":
        rnn_lm.set_forget_gate_bias(model.lstm, 1.0)
    elif name != "lstm":
        raise ValueError(f"unknown model {name!r}; choose from {MODEL_NAMES}")
    return model


def recall_accuracy(model: torch.nn.Module, loader: DataLoader, marker_id: int) -> float:
    """How often the model's top prediction right after the marker is the right name."""
    hits = total = 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            logits, _ = model(x)
            at_marker = x == marker_id
            hits += int((logits.argmax(-1)[at_marker] == y[at_marker]).sum())
            total += int(at_marker.sum())
    model.train(was_training)
    return hits / total if total else float("nan")


def decay_per_step(curve: list[float], k: int) -> float:
    """Geometric-mean factor by which the gradient shrinks per step, from k=0 to k."""
    return (curve[k] / curve[0]) ** (1.0 / k)


def run_model(name: str, data: LabData, cfg: LabConfig, progress: bool = True) -> dict:
    model = build_model(name, len(data.itos), cfg)
    probe_x, probe_y = data.probe_batch()
    gtt_init = rnn_lm.gradient_through_time(model, probe_x, probe_y).tolist()
    train_loader, valid_loader = data.train_loader(cfg), data.valid_loader(cfg)
    start = time.perf_counter()
    history = rnn_lm.train_model(model, train_loader, valid_loader, epochs=cfg.epochs, lr=cfg.lr, clip=cfg.clip,
                                 eval_every=cfg.eval_every, max_steps=cfg.max_steps, bf16=cfg.bf16,
                                 progress=progress, name=name)
    train_seconds = time.perf_counter() - start
    gtt_final = rnn_lm.gradient_through_time(model, probe_x, probe_y).tolist()
    k = min(cfg.far_k, cfg.seq_len - 1)
    best = min(history["valid"], key=lambda v: v["ppl"])
    steps = len(history["step_loss"])
    tenth = max(steps // 10, 1)
    result = {
        "label": MODEL_LABELS[name],
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        "train_seconds": train_seconds,
        "final_train_loss": sum(history["step_loss"][-tenth:]) / tenth,
        "best_valid_ppl": best["ppl"],
        "best_valid_step": best["step"],
        "final_valid_ppl": history["valid"][-1]["ppl"],
        "grad_norm_first_10pct": sum(history["step_grad_norm"][:tenth]) / tenth,
        "grad_norm_last_10pct": sum(history["step_grad_norm"][-tenth:]) / tenth,
        "far_k": k,
        "gtt_far_init": gtt_init[k],
        "gtt_far_final": gtt_final[k],
        "gtt_far_rel_init": gtt_init[k] / gtt_init[0],
        "gtt_far_rel_final": gtt_final[k] / gtt_final[0],
        "decay_per_step_init": decay_per_step(gtt_init, k),
        "decay_per_step_final": decay_per_step(gtt_final, k),
        "gtt_init": gtt_init,
        "gtt_final": gtt_final,
        "history": history,
    }
    if data.marker_id is not None:
        result["recall_accuracy"] = recall_accuracy(model, valid_loader, data.marker_id)
        result["recall_chance"] = 1.0 / len(RECALL_KEYS)
    return result


def run_experiment(cfg: LabConfig, out_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Train every model in ``cfg.models`` on the same data; write results and plots to ``out_dir``."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    data = prepare_data(cfg)
    results = {"config": cfg.to_dict(), "data": data.description, "vocab_size": len(data.itos),
               "train_windows": len(data.train), "valid_windows": len(data.valid), "models": {}}
    for name in cfg.models:
        results["models"][name] = run_model(name, data, cfg, progress=progress)
    results["claims"] = check_claims(results)
    if out_dir is not None:
        write_results(results, out_dir)
    return results


# ----------------------------------------------------------------------------
# The claims the lab makes, checked on a run's own numbers
# ----------------------------------------------------------------------------

CLAIM_MARGIN = 10.0          # "more gradient far back" means at least this factor
SIMILAR_DECAY = 0.05         # trained models "decay at about the same rate": spread at most this


def check_claims(results: dict) -> list[dict]:
    """Each claim of the lab's text, with this run's numbers and whether they support it.

    Returns a list of ``{"id", "text", "holds"}``; claims about models or data that the run
    does not have are left out.
    """
    m = results["models"]
    claims = []

    def claim(cid: str, holds: bool, text: str) -> None:
        claims.append({"id": cid, "holds": bool(holds), "text": text})

    if {"rnn", "lstm"} <= m.keys():
        rnn, lstm = m["rnn"], m["lstm"]
        k = rnn["far_k"]
        ratio = lstm["gtt_far_rel_init"] / rnn["gtt_far_rel_init"]
        claim("init_far_gradient", ratio >= CLAIM_MARGIN,
              f"At initialisation the default LSTM keeps {ratio:.0f}x more of the gradient {k} steps back than the "
              f"vanilla RNN ({lstm['gtt_far_rel_init']:.1e} vs {rnn['gtt_far_rel_init']:.1e} of the last step's; "
              f"decay per step {lstm['decay_per_step_init']:.2f} vs {rnn['decay_per_step_init']:.2f}).")
        if "recall_accuracy" not in rnn:  # real text: the whole-W_hh norm points the wrong way
            norm_ratio = rnn["grad_norm_first_10pct"] / lstm["grad_norm_first_10pct"]
            claim("weight_hh_norm_misleads", norm_ratio > 1.0,
                  f"Yet the RNN's whole W_hh gradient norm is {norm_ratio:.1f}x the LSTM's (first 10% of training): "
                  "that norm is dominated by short distances and does not show vanishing.")
    if "rnn" in m:
        rnn = m["rnn"]
        kept = rnn["grad_norm_last_10pct"] / rnn["grad_norm_first_10pct"]
        claim("rnn_norm_does_not_vanish", kept >= 0.5,
              f"The RNN's W_hh gradient norm does not fall toward zero during training: the last 10% of steps "
              f"average {rnn['grad_norm_last_10pct']:.3f}, {kept:.2f}x the first 10%.")
    if {"lstm", "lstm_fb1"} <= m.keys():
        gain = m["lstm_fb1"]["gtt_far_rel_init"] / m["lstm"]["gtt_far_rel_init"]
        claim("forget_bias_keeps_gradient", gain >= CLAIM_MARGIN,
              f"Forget-gate bias 1 gives the LSTM {gain:.0f}x more gradient {m['lstm']['far_k']} steps back at "
              f"initialisation (decay per step {m['lstm_fb1']['decay_per_step_init']:.2f}).")
    if len(m) >= 2:
        init = [r["decay_per_step_init"] for r in m.values()]
        final = [r["decay_per_step_final"] for r in m.values()]
        claim("trained_decay_similar", max(final) - min(final) <= SIMILAR_DECAY < max(init) - min(init),
              f"After training the models' gradients decay at about the same rate per step "
              f"({', '.join(f'{v:.2f}' for v in final)}), unlike at initialisation "
              f"({', '.join(f'{v:.2f}' for v in init)}).")
    lstm_best = [r["best_valid_ppl"] for name, r in m.items() if name != "rnn"]
    if "rnn" in m and lstm_best:
        rnn_best = m["rnn"]["best_valid_ppl"]
        if "recall_accuracy" in m["rnn"]:  # the embedded corpus: memory pays off in perplexity too
            claim("lstm_lower_perplexity", rnn_best > max(lstm_best),
                  f"The LSTMs reach a lower validation perplexity ({', '.join(f'{v:.2f}' for v in lstm_best)}) "
                  f"than the RNN ({rnn_best:.2f}).")
        else:  # real text at this scale: no LSTM advantage in perplexity
            claim("no_lstm_perplexity_advantage", rnn_best <= 1.05 * min(lstm_best),
                  f"On this text the LSTMs do not beat the RNN in validation perplexity: best RNN {rnn_best:.1f}, "
                  f"best LSTMs {', '.join(f'{v:.1f}' for v in lstm_best)}.")
    recall = {name: r["recall_accuracy"] for name, r in m.items() if "recall_accuracy" in r}
    if {"rnn", "lstm"} <= recall.keys():
        lstms = [v for name, v in recall.items() if name != "rnn"]
        chance = 1 / len(RECALL_KEYS)
        claim("lstm_learns_recall", min(lstms) >= 0.95 and 2 * chance <= recall["rnn"] <= 0.9,
              f"The LSTMs learn the {results['config']['recall_distance'] + 1}-step recall "
              f"(accuracy {', '.join(f'{v:.2f}' for v in lstms)}); the RNN, same steps and optimiser, reaches "
              f"{recall['rnn']:.2f}: well above chance ({chance:.3f}), well below the LSTMs.")
    return claims


# ----------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------

TABLE_COLUMNS = (
    ("model", "label", "{}"),
    ("steps", "steps", "{}"),
    ("time s", "train_seconds", "{:.1f}"),
    ("best val ppl", "best_valid_ppl", "{:.2f}"),
    ("@step", "best_valid_step", "{}"),
    ("final val ppl", "final_valid_ppl", "{:.2f}"),
    ("recall acc", "recall_accuracy", "{:.3f}"),
    ("|grad W_hh| first/last 10%", None, None),
    ("grad@k init", "gtt_far_rel_init", "{:.2e}"),
    ("grad@k trained", "gtt_far_rel_final", "{:.2e}"),
    ("decay/step init", "decay_per_step_init", "{:.3f}"),
    ("decay/step trained", "decay_per_step_final", "{:.3f}"),
)


def format_table(results: dict) -> str:
    """A plain-text summary table, one row a model."""
    header = [c[0] for c in TABLE_COLUMNS]
    rows = []
    for r in results["models"].values():
        row = []
        for title, key, fmt in TABLE_COLUMNS:
            if key is None:
                row.append(f"{r['grad_norm_first_10pct']:.3f} / {r['grad_norm_last_10pct']:.3f}")
            elif key in r:
                row.append(fmt.format(r[key]))
            else:
                row.append("-")
        rows.append(row)
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    k = next(iter(results["models"].values()))["far_k"]
    notes = (f"grad@k: ||dL_T/de_(T-1-k)|| / ||dL_T/de_(T-1)|| at k={k} on a fixed validation batch; "
             "decay/step: its geometric mean per step.")
    claims = [("holds: " if c["holds"] else "FAILS: ") + c["text"] for c in results.get("claims", [])]
    return "\n".join([f"data: {results['data']}  (vocabulary {results['vocab_size']})",
                      line(header), line(["-" * w for w in widths]), *map(line, rows), notes,
                      *(["claims checked on this run:"] + claims if claims else [])])


def write_results(results: dict, out_dir: str | Path) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(results, indent=1))
    (out / "summary.txt").write_text(format_table(results) + "\n")
    for name, fig in make_figures(results).items():
        fig.savefig(out / f"{name}.png", dpi=110, bbox_inches="tight")


def _smooth(values: list[float], window: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def make_figures(results: dict) -> dict:
    """Matplotlib figures of a run: name -> Figure."""
    import matplotlib.pyplot as plt

    models = results["models"]
    figs = {}

    def per_step(key: str, ylabel: str, title: str, log: bool = False):
        fig, ax = plt.subplots(figsize=(6.4, 4))
        for name, r in models.items():
            ys = r["history"][key]
            window = max(len(ys) // 50, 1)
            ax.plot(range(1, len(ys) + 1), _smooth(ys, window), label=r["label"], color=MODEL_COLORS[name])
        ax.set(xlabel="training step", ylabel=ylabel, title=title)
        if log:
            ax.set_yscale("log")
        ax.legend()
        plt.close(fig)
        return fig

    figs["training_loss"] = per_step("step_loss", "loss (nats, smoothed)", "Training loss")
    figs["training_perplexity"] = per_step("step_ppl", "perplexity (smoothed)", "Training perplexity", log=True)
    figs["grad_norm"] = per_step("step_grad_norm", "||grad W_hh|| (smoothed)",
                                 "Recurrent-weight gradient norm (before clipping)")

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for name, r in models.items():
        v = r["history"]["valid"]
        ax.plot([p["step"] for p in v], [p["ppl"] for p in v], marker="o", label=r["label"], color=MODEL_COLORS[name])
    ax.set(xlabel="training step", ylabel="validation perplexity", title="Validation perplexity", yscale="log")
    ax.legend()
    plt.close(fig)
    figs["valid_perplexity"] = fig

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for name, r in models.items():
        for key, style, when in (("gtt_init", "--", "init"), ("gtt_final", "-", "trained")):
            g = r[key]
            ax.plot(range(len(g)), [v / g[0] for v in g], style, color=MODEL_COLORS[name], label=f"{r['label']}, {when}")
    ax.axvline(next(iter(models.values()))["far_k"], color="grey", lw=0.8)
    ax.set(xlabel="k (steps back from the last position)", ylabel="||dL_T/de_(T-1-k)|| / ||dL_T/de_(T-1)||",
           title="Gradient through time", yscale="log")
    ax.legend(fontsize=7)
    plt.close(fig)
    figs["gradient_through_time"] = fig
    return figs
