"""Given code for the RNN-vs-LSTM lab: data, the experiment, the distance sweep, their plots.

Nothing here is a task; it imports your ``rnn_lm`` module and runs it. Do not edit it: it is
generated from the course's source, and grading never uses your copy (a re-run of your experiment,
where the course makes one, uses the course's own).

Contents, in file order (each section starts with a ``# ---`` banner):

* The embedded corpus and its perplexity floor: ``make_recall_corpus``, ``recall_corpus_floor``.
* Loading texts: ``load_wikitext``, ``load_folder``, ``resolve_device``, ``resolve_bf16``.
* The experiment: ``LabConfig`` (every setting of a run), ``set_threads``, ``prepare_data``,
  ``build_model``, ``probe_gradient``, ``run_model``, ``run_experiment`` (what the notebook calls).
* The distance sweep: ``run_sweep``, ``sweep_config``, ``longest_learned``.
* The claims the lab makes, checked on a run's own numbers: ``claim``, ``check_claims``.
* Reporting: ``format_table``, ``ran_as_line``, ``format_claims``, ``format_sweep_table``,
  ``make_figures``, ``sweep_figure``; then the claims over the course's seeds and the sweep's:
  ``check_recall_claims``, ``format_seed_report``, ``check_sweep_claims``.

Data sources (``LabConfig.data``):

* ``"embedded"`` (default, offline): a generated corpus with one long-range
  dependency per line, see ``make_recall_corpus``.
* ``"wikitext"``: WikiText-2 (raw) through Hugging Face ``datasets``
  (``pip install -r requirements-wikitext.txt``); needs the network the first
  time, then the local cache.
* a folder path: plain text files, one line = one document: ``train.txt``
  (or ``test.txt`` as a stand-in) and ``valid.txt``.

Devices (``LabConfig.device``): ``"auto"`` (default) trains on a CUDA GPU when
PyTorch sees one, else on Apple's MPS, else on the CPU. Batches reach your task
code already on the model's device, so it needs no device handling of its own
beyond creating new tensors next to existing float ones (``e.new_zeros(B, H)``
with ``e`` the embeddings; ``x`` holds int64 ids).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import textwrap
import time
from dataclasses import dataclass
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
MODEL_SHORT = {"rnn": "RNN", "lstm": "LSTM", "lstm_fb1": "LSTM fb1"}  # table rows
MODEL_COLORS = {"rnn": "tab:red", "lstm": "tab:blue", "lstm_fb1": "tab:green"}


class LabSetupError(RuntimeError):
    """A run that cannot start as configured; the message says what to change."""


class DataSourceError(LabSetupError):
    """A data source that cannot be had; the message says how to get it."""


# ----------------------------------------------------------------------------
# The embedded corpus and its perplexity floor
# ----------------------------------------------------------------------------

RECALL_KEYS = ("anna", "boris", "chen", "dara", "emil", "fatma", "goran", "hana")
RECALL_MARKER = "recall"
RECALL_CHANCE = 1.0 / len(RECALL_KEYS)  # recall accuracy of a uniform guess among the names
FILLER_WORDS = tuple(
    "the of and to in a is was for on as with by he it at from his an were are which this be "
    "that first also has its had one two new after their but who or not they her she been "
    "city film game time year most made other only some over into more early later when "
    "during part three world".split()
)
FILLER_WEIGHTS = tuple(1.0 / (rank + 1) for rank in range(len(FILLER_WORDS)))  # Zipf: p ~ 1/rank


def make_recall_corpus(n_docs: int, seed: int, distance: int = 20, seq_len: int = 30) -> list[str]:
    """Documents with one long-range dependency each, ``seq_len`` tokens long.

    Each line is ``prefix fillers, KEY, distance fillers, "recall", KEY``: a
    name, ``distance`` filler words drawn from a Zipfian distribution over 63
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
    docs = []
    for _ in range(n_docs):
        key = rng.choice(RECALL_KEYS)
        fillers = rng.choices(FILLER_WORDS, FILLER_WEIGHTS, k=prefix + distance)
        docs.append(" ".join(fillers[:prefix] + [key] + fillers[prefix:] + [RECALL_MARKER, key]))
    return docs


def recall_corpus_floor(seq_len: int) -> float:
    """The best mean loss (nats a token) any model can reach on the recall corpus.

    It is the corpus's entropy under its own generator, per token. A model that
    knows the generator (it can count positions, since windows start at line
    starts) pays the filler entropy for each of the ``seq_len - 3`` fillers
    (the first token of a line is the target of the previous window's last
    step), ``ln 8`` for the name's first occurrence, nothing for ``recall``
    and nothing for the recalled name.
    """
    total = sum(FILLER_WEIGHTS)
    filler_entropy = -sum(w / total * math.log(w / total) for w in FILLER_WEIGHTS)
    return ((seq_len - 3) * filler_entropy + math.log(len(RECALL_KEYS))) / seq_len


def recall_text_loss(texts: list[str], distance: int, seq_len: int) -> float:
    """The generator's own mean loss (nats a target) on one recall text: its floor on that sample.

    ``recall_corpus_floor`` is its expectation. A validation text of 1,600 lines differs from it by
    about 1% in perplexity, up or down, as its fillers happen to be common or rare: models are
    compared with the floor of the text they are scored on, which shares that luck. Every token
    but the first is a target once (``evaluate`` scores each once), at its position in its line.
    Words, not ids: a filler too rare to be in the vocabulary still has its probability.
    """
    words = [word for text in texts for word in rnn_lm.tokenize(text)]
    total = sum(FILLER_WEIGHTS)
    filler_loss = {word: -math.log(w / total) for word, w in zip(FILLER_WORDS, FILLER_WEIGHTS)}
    name_at = seq_len - distance - 3

    def loss(i: int) -> float:
        position = i % seq_len
        if position == name_at:
            return math.log(len(RECALL_KEYS))
        return 0.0 if position >= seq_len - 2 else filler_loss[words[i]]  # recall, recalled name: certain

    return sum(loss(i) for i in range(1, len(words))) / (len(words) - 1)


# ----------------------------------------------------------------------------
# Loading texts
# ----------------------------------------------------------------------------

OFFLINE_HINT = ('Offline, use data="embedded" (the default), or a folder with train.txt and valid.txt '
                '(one document a line): data="path/to/folder".')


def load_wikitext(max_train_lines: int, max_valid_lines: int) -> tuple[list[str], list[str]]:
    """WikiText-2 raw from the Hugging Face hub (or its local cache)."""
    try:
        from datasets import load_dataset
    except ImportError:
        raise DataSourceError('data="wikitext" needs the Hugging Face `datasets` package: '
                              "pip install -r requirements-wikitext.txt (or pip install datasets). "
                              + OFFLINE_HINT) from None
    try:
        ds = load_dataset("wikitext", "wikitext-2-raw-v1")
    except Exception as err:  # datasets raises many types for "no network"
        raise DataSourceError(
            "Could not load WikiText-2 ('wikitext', 'wikitext-2-raw-v1') from the Hugging Face hub: "
            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}\n"
            "It needs the network the first time (then it is cached). " + OFFLINE_HINT) from None
    return list(ds["train"]["text"][:max_train_lines]), list(ds["validation"]["text"][:max_valid_lines])


def load_folder(folder: str | Path, max_train_lines: int, max_valid_lines: int) -> tuple[list[str], list[str]]:
    """Plain text files in a folder: train.txt (or test.txt) and valid.txt."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataSourceError(f"Data folder {folder} does not exist. Give a folder holding train.txt and valid.txt, "
                              'or use data="embedded" (offline) or data="wikitext" (network).')
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


def resolve_device(name: str) -> torch.device:
    """``"auto"``: CUDA, then Apple's MPS, then the CPU; any other name must be available here."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise LabSetupError(f'device {name!r} is not a device name: use "auto", "cpu", "cuda" or "mps".') from None
    if (device.type == "cuda" and not torch.cuda.is_available()) or (device.type == "mps" and not has_mps):
        raise LabSetupError(f'device {name!r}: PyTorch sees no such device here (on Colab: Runtime > Change runtime '
                            'type > GPU). Use device="auto" to take the best one available.')
    return device


def resolve_bf16(cfg: "LabConfig", model: str) -> bool:
    """Whether ``model`` trains under bfloat16 autocast: ``cfg.bf16``, or when it is None, a choice measured.

    The LSTMs use bfloat16 on a CUDA GPU that has it and on a CPU where oneDNN (PyTorch's CPU
    kernels) supports it (AVX-512 or newer): on the course's test CPU an LSTM step ran 1.7-2.3x
    faster. The RNN stays in float32: its Python loop over time pays autocast's casts at every
    step, and on that CPU this made its steps 1.4x slower, not faster.
    """
    if cfg.bf16 is not None:
        return cfg.bf16
    if model == "rnn":
        return False
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return (device.type == "cpu" and torch.backends.mkldnn.is_available()
            and torch.ops.mkldnn._is_mkldnn_bf16_supported())


class OnDevice:
    """A data loader whose batches arrive on ``device``, so task code needs no device handling."""

    def __init__(self, loader: DataLoader, device: torch.device):
        self.loader, self.device = loader, device

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            yield x.to(self.device), y.to(self.device)


# ----------------------------------------------------------------------------
# The experiment
# ----------------------------------------------------------------------------

@dataclass
class LabConfig:
    """Everything one run depends on; it is written next to the results."""
    data: str = "embedded"          # "embedded", "wikitext" or a folder
    max_train_lines: int = 2000     # wikitext / folder: the original lab's slice
    max_valid_lines: int = 500
    embedded_docs: int = 12800      # embedded corpus: training lines
    embedded_valid_docs: int = 1600  # ... and validation lines
    recall_distance: int = 20       # embedded corpus: fillers between the name and "recall"
    vocab_size: int = 15000         # cap, <pad> and <unk> included
    seq_len: int = 30
    stride: int | None = None       # None: seq_len (non-overlapping windows)
    batch_size: int = 64
    emb_dim: int = 128
    hidden_dim: int = 256
    lr: float = 3e-3
    lr_decay: float = 1 / 3         # over this last fraction of the steps lr falls linearly to 0
    clip: float | None = 1.0
    epochs: int = 6
    max_steps: int | None = None
    eval_every: int = 0             # 0: validate after every epoch only
    bf16: bool | None = None        # bfloat16 autocast; None: where the device supports it well
    seed: int = 0
    models: tuple[str, ...] = MODEL_NAMES
    far_k: int = 20                 # text data: the distance at which gradients are compared
    device: str = "auto"            # "auto": CUDA, then MPS, then CPU
    threads: int | None = None       # CPU threads; None: PyTorch's default less the cores busy elsewhere

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


DEFAULT_THREADS = torch.get_num_threads()  # PyTorch's own choice (the physical cores, or OMP_NUM_THREADS)


def cores_busy_elsewhere(seconds: float = 0.25) -> float:
    """How many cores other programs keep busy right now: the machine's CPU time over a short
    window, less this process's (Linux's /proc/stat); elsewhere the 1-minute load average.
    A quarter of a second is 25 clock ticks a core: enough to see a busy program, and it is paid
    before each model (at 0.5 s, the 1.5 s for three models was 13% of a 150-step experiment's 11.8 s)."""
    def machine_busy() -> float:  # CPU seconds spent by everything but the idle task
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:8]]
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait

    def own_busy() -> float:
        t = os.times()
        return t.user + t.system

    try:
        machine, own, start = machine_busy(), own_busy(), time.perf_counter()
        time.sleep(seconds)
        return max(0.0, (machine_busy() - machine - (own_busy() - own)) / (time.perf_counter() - start))
    except (OSError, ValueError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def set_threads(cfg: LabConfig) -> int:
    """Sets PyTorch's CPU threads: ``cfg.threads``, or by default one per core not busy elsewhere
    (measured again before each model is trained).

    Why: PyTorch's threads wait for each other at every operation, so on a shared machine a thread
    that another program holds off its core stalls all of them: next to one busy program on 2
    cores, 2 threads ran an RNN step 6x slower than 1 thread (benchmarks/bench_busy.py)."""
    threads = cfg.threads or max(1, DEFAULT_THREADS - round(cores_busy_elsewhere()))
    torch.set_num_threads(threads)
    return threads


def load_texts(cfg: LabConfig) -> tuple[list[str], list[str], str]:
    """(train texts, valid texts, a description of the source)."""
    if cfg.data == "embedded":
        return (make_recall_corpus(cfg.embedded_docs, cfg.seed + 1000, cfg.recall_distance, cfg.seq_len),
                make_recall_corpus(cfg.embedded_valid_docs, cfg.seed + 2000, cfg.recall_distance, cfg.seq_len),
                f"embedded recall corpus ({cfg.embedded_docs} lines, distance {cfg.recall_distance})")
    if cfg.data == "wikitext":
        train, valid = load_wikitext(cfg.max_train_lines, cfg.max_valid_lines)
        return train, valid, f"WikiText-2 raw (train[:{cfg.max_train_lines}], validation[:{cfg.max_valid_lines}])"
    train, valid = load_folder(cfg.data, cfg.max_train_lines, cfg.max_valid_lines)
    return train, valid, f"folder {cfg.data} ({len(train)} train lines, {len(valid)} valid lines)"


@dataclass
class Probe:
    """The fixed batch the gradient-through-time curves are measured on.

    ``gradient_through_time`` differentiates the loss of the batch's last
    step; ``k`` is how far back from that prediction the information it needs
    sits (on real text, where no single distance is special: ``LabConfig.far_k``).
    """
    x: torch.Tensor                 # (N, T) inputs
    y: torch.Tensor                 # (N, T) targets; y[:, -1] is the probed prediction
    k: int
    what: str


def recall_probe(valid_ids: list[int], marker_id: int, n: int = 64) -> Probe:
    """Windows from a line's start to its ``recall`` marker: the last target is the recalled name.

    The name's first occurrence is found in each window, and must lie at the same
    distance in all of them (it does by construction of the corpus).
    """
    ids = torch.as_tensor(valid_ids)
    markers = (ids == marker_id).nonzero().flatten()
    line_len = int(markers[1] - markers[0])  # lines are all the same length
    ends = markers[markers >= line_len - 2][:n]  # the marker is a line's second-to-last token
    window = ends[:, None] + torch.arange(-(line_len - 2), 1)  # (N, line_len - 1)
    x, y = ids[window], ids[window + 1]
    first = (x == y[:, -1:]).int().argmax(dim=1)  # first occurrence of the name in each window
    if not (first == first[0]).all():
        raise ValueError("recall probe: the name is not at the same distance in every window")
    k = x.shape[1] - 1 - int(first[0])
    return Probe(x, y, k, f"loss at the recalled name; the name entered {k} steps earlier")


def text_probe(valid: rnn_lm.LMDataset, far_k: int, n: int = 64) -> Probe:
    """The first full validation windows; the probed prediction is each window's last."""
    xs, ys = zip(*(valid[i] for i in range(min(len(valid), n))))
    x, y = torch.stack(xs), torch.stack(ys)
    k = min(far_k, x.shape[1] - 1)
    return Probe(x, y, k, f"loss at the last position of {len(xs)} validation windows, compared {k} steps back")


@dataclass
class LabData:
    stoi: dict
    itos: list
    train: rnn_lm.LMDataset
    valid: rnn_lm.LMDataset
    description: str
    probe: Probe
    marker_id: int | None = None    # the "recall" token, when the corpus has one
    ppl_floor: float | None = None  # the best perplexity possible, when the generator is known
    valid_floor: float | None = None  # ... and the generator's own on this validation text

    def train_loader(self, cfg: LabConfig) -> OnDevice:
        # Seeded on its own, so every model sees the same batches in the same order.
        gen = torch.Generator().manual_seed(cfg.seed)
        loader = DataLoader(self.train, batch_size=cfg.batch_size, shuffle=True, generator=gen)
        return OnDevice(loader, resolve_device(cfg.device))

    def valid_loader(self, cfg: LabConfig) -> OnDevice:
        return OnDevice(DataLoader(self.valid, batch_size=256), resolve_device(cfg.device))


def prepare_data(cfg: LabConfig) -> LabData:
    train_texts, valid_texts, description = load_texts(cfg)
    stoi, itos = rnn_lm.build_vocab(train_texts, max_tokens=cfg.vocab_size)
    train_ids = rnn_lm.encode_corpus(train_texts, stoi)
    valid_ids = rnn_lm.encode_corpus(valid_texts, stoi)
    if len(train_ids) < 2 or len(valid_ids) < 2:
        raise DataSourceError(f"{description}: too little text ({len(train_ids)} train, {len(valid_ids)} valid tokens).")
    valid = rnn_lm.LMDataset(valid_ids, cfg.seq_len, cfg.stride)
    if cfg.data == "embedded":
        marker = stoi[RECALL_MARKER]
        probe, floor = recall_probe(valid_ids, marker), math.exp(recall_corpus_floor(cfg.seq_len))
        valid_floor = math.exp(recall_text_loss(valid_texts, cfg.recall_distance, cfg.seq_len))
    else:
        marker, probe, floor, valid_floor = None, text_probe(valid, cfg.far_k), None, None
    return LabData(stoi, itos, rnn_lm.LMDataset(train_ids, cfg.seq_len, cfg.stride), valid, description, probe,
                   marker, floor, valid_floor)


def build_model(name: str, vocab_size: int, cfg: LabConfig) -> torch.nn.Module:
    """A fresh model on the config's device, its initialisation seeded on its own (not by what ran before).

    The seed draws the start weights module by module in one order (embedding, recurrent layer,
    decoder), whatever order your ``__init__`` creates them in: two correct files then train the
    same model from the same weights, so the course can repeat your run when it checks your notebook.
    """
    if name == "rnn":
        model = rnn_lm.VanillaRNNLM(vocab_size, cfg.emb_dim, cfg.hidden_dim)
    elif name in ("lstm", "lstm_fb1"):
        model = rnn_lm.LSTMLM(vocab_size, cfg.emb_dim, cfg.hidden_dim)
    else:
        raise ValueError(f"unknown model {name!r}; choose from {MODEL_NAMES}")
    torch.manual_seed(cfg.seed)
    for attribute in ("emb", "rnn_cell" if name == "rnn" else "lstm", "fc"):
        module = getattr(model, attribute, None)
        if not hasattr(module, "reset_parameters"):
            raise AttributeError(f"{type(model).__name__} has no {attribute!r} module: Tasks 1 and 2 name the "
                                 "model's modules emb, rnn_cell (or lstm) and fc")
        module.reset_parameters()  # PyTorch's default initialisation, drawn again in the lab's order
    if name == "lstm_fb1":
        rnn_lm.set_forget_gate_bias(model.lstm, 1.0)
    return model.to(resolve_device(cfg.device))


def probe_gradient(model: torch.nn.Module, probe: Probe) -> list[float]:
    """``gradient_through_time`` on the probe batch, on the model's device: g[k] for k = 0, 1, ..."""
    device = next(model.parameters()).device
    return rnn_lm.gradient_through_time(model, probe.x.to(device), probe.y.to(device)).tolist()


def recall_metrics(model: torch.nn.Module, loader, marker_id: int) -> tuple[float, float]:
    """(accuracy, mean loss in nats) of the model's prediction right after the marker: the recalled name."""
    hits = total = 0
    loss = 0.0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            logits, _ = model(x)
            at_marker = x == marker_id
            hits += int((logits.argmax(-1)[at_marker] == y[at_marker]).sum())
            loss += float(torch.nn.functional.cross_entropy(logits[at_marker].float(), y[at_marker], reduction="sum"))
            total += int(at_marker.sum())
    model.train(was_training)
    return (hits / total, loss / total) if total else (float("nan"), float("nan"))


def decay_per_step(curve: list[float], k: int) -> float:
    """Geometric-mean factor by which the gradient shrinks per step, from k=0 to k."""
    return (curve[k] / curve[0]) ** (1.0 / k)


def median_of_tenth(values: list[float], last: bool) -> float:
    """Median of the first (or last) 10% of a per-step series: its typical value, robust to a spike."""
    tenth = max(len(values) // 10, 1)
    return float(torch.tensor(values[-tenth:] if last else values[:tenth]).median())


def run_model(name: str, data: LabData, cfg: LabConfig, progress: bool = True) -> dict:
    """Train one model; measure it before and after. Returns its numbers (``format_table`` shows them)."""
    threads = set_threads(cfg)  # for each model: a program that started since the last may hold a core now
    model = build_model(name, len(data.itos), cfg)
    gtt_init = probe_gradient(model, data.probe)
    train_loader, valid_loader = data.train_loader(cfg), data.valid_loader(cfg)
    start = time.perf_counter()
    history = rnn_lm.train_model(model, train_loader, valid_loader, epochs=cfg.epochs, lr=cfg.lr, clip=cfg.clip,
                                 eval_every=cfg.eval_every, max_steps=cfg.max_steps, bf16=resolve_bf16(cfg, name),
                                 progress=progress, name=MODEL_SHORT[name], lr_decay=cfg.lr_decay)
    train_seconds = time.perf_counter() - start
    gtt_final = probe_gradient(model, data.probe)
    k = data.probe.k
    valid = history["valid"]
    best = min(valid, key=lambda v: v["ppl"])
    two_thirds = [v for v in valid if v["step"] <= 2 * valid[-1]["step"] / 3] or valid[:1]
    result = {
        "label": MODEL_LABELS[name],
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": len(history["step_loss"]),
        "train_seconds": train_seconds,
        "threads": threads,
        "final_train_loss": median_of_tenth(history["step_loss"], last=True),
        "best_valid_ppl": best["ppl"],
        "best_valid_step": best["step"],
        "final_valid_ppl": valid[-1]["ppl"],
        # How much the validation perplexity still fell over the last third of training.
        "valid_drop_last_third": two_thirds[-1]["ppl"] / valid[-1]["ppl"] - 1,
        "grad_norm_init": history["step_grad_norm"][0],  # the first step's: the model as initialised
        "grad_norm_first_10pct": median_of_tenth(history["step_grad_norm"], last=False),
        "grad_norm_last_10pct": median_of_tenth(history["step_grad_norm"], last=True),
        "far_k": k,
        "gtt_far_rel_init": gtt_init[k] / gtt_init[0],
        "gtt_far_rel_final": gtt_final[k] / gtt_final[0],
        "decay_per_step_init": decay_per_step(gtt_init, k),
        "decay_per_step_final": decay_per_step(gtt_final, k),
        "gtt_init": gtt_init,
        "gtt_final": gtt_final,
        "history": history,
    }
    if data.marker_id is not None:
        result["recall_accuracy"], result["recall_loss"] = recall_metrics(model, valid_loader, data.marker_id)
    return result


def run_header(cfg: LabConfig) -> dict:
    """What every results file starts with: the config and how it ran (device, precision per model;
    each model's CPU threads are in its own numbers)."""
    return {"config": cfg.to_dict(), "device": str(resolve_device(cfg.device)),
            "bf16": {name: resolve_bf16(cfg, name) for name in cfg.models}}


def results_header(cfg: LabConfig, data: LabData) -> dict:
    """A run's results before any model is trained: how it ran and what its data is (``models`` empty)."""
    results = {**run_header(cfg), "data": data.description, "vocab_size": len(data.itos),
               "train_windows": len(data.train), "valid_windows": len(data.valid), "probe": data.probe.what,
               "ppl_floor": data.ppl_floor, "valid_floor": data.valid_floor, "models": {}}
    if data.marker_id is not None:
        results["recall_chance"] = RECALL_CHANCE
    return results


def run_experiment(cfg: LabConfig, out_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Train every model in ``cfg.models`` on the same data; write results and plots to ``out_dir``."""
    start = time.perf_counter()
    data = prepare_data(cfg)
    results = results_header(cfg, data)
    for name in cfg.models:
        results["models"][name] = run_model(name, data, cfg, progress=progress)
    results["claims"] = check_claims(results)
    results["wall_seconds"] = time.perf_counter() - start
    if out_dir is not None:
        write_results(results, out_dir)
    return results


# ----------------------------------------------------------------------------
# The distance sweep: how far back can each model learn to look?
# ----------------------------------------------------------------------------

SWEEP_DISTANCES = (10, 20, 30, 40, 90)
SWEEP_PREFIX = 2  # fillers before the name: a line (and a window) is distance + 5 tokens
SWEEP_KEYS = ("recall_accuracy", "recall_loss", "gtt_far_rel_init", "gtt_far_rel_final", "grad_norm_init",
              "grad_norm_first_10pct", "grad_norm_last_10pct", "best_valid_ppl", "steps", "train_seconds", "far_k")


def sweep_config(cfg: LabConfig, distance: int) -> LabConfig:
    """The run at one distance: the window is just long enough to hold one whole dependency.

    The same number of steps as ``cfg``, as one epoch over as many fresh lines: the sweep needs
    the trained model, not a validation curve, and one validation pass saves a minute.
    """
    return dataclasses.replace(cfg, data="embedded", recall_distance=distance, seq_len=distance + 3 + SWEEP_PREFIX,
                               embedded_docs=cfg.embedded_docs * cfg.epochs, epochs=1, eval_every=0)


def run_sweep(cfg: LabConfig, distances=SWEEP_DISTANCES, out_dir: str | Path | None = None,
              progress: bool = True) -> dict:
    """Train every model at every distance (same steps, sizes and seed); write sweep.json and sweep.png."""
    from tqdm import tqdm

    start = time.perf_counter()
    rows = []
    bar = tqdm(total=len(distances) * len(cfg.models), desc="sweep", disable=not progress, mininterval=1)
    for distance in distances:
        dcfg = sweep_config(cfg, distance)
        data = prepare_data(dcfg)
        for name in dcfg.models:
            bar.set_postfix_str(f"distance {distance}, {MODEL_SHORT[name]}")
            r = run_model(name, data, dcfg, progress=False)
            rows.append({"distance": distance, "model": name, "seq_len": dcfg.seq_len,
                         "ppl_floor": data.ppl_floor, **{key: r[key] for key in SWEEP_KEYS}})
            bar.update(1)
    bar.close()
    sweep = {**run_header(cfg), "distances": list(distances), "recall_chance": RECALL_CHANCE, "rows": rows}
    sweep["claims"] = check_sweep_claims(sweep)
    sweep["wall_seconds"] = time.perf_counter() - start
    if out_dir is not None:
        write_sweep(sweep, out_dir)
    return sweep


def write_sweep(sweep: dict, out_dir: str | Path) -> None:
    text = format_sweep_table(sweep) + "\n\nclaims checked on this sweep:\n" + format_claims(sweep["claims"])
    write_files(out_dir, "sweep", sweep, text, {"sweep": sweep_figure(sweep)})


def longest_learned(sweep: dict, model: str) -> int | None:
    """The longest distance at which ``model`` learned the recall (accuracy at least ``LEARNED``)."""
    learned = [r["distance"] for r in sweep["rows"] if r["model"] == model and r["recall_accuracy"] >= LEARNED]
    return max(learned) if learned else None


# ----------------------------------------------------------------------------
# The claims the lab makes, checked on a run's own numbers
# ----------------------------------------------------------------------------

def claim(cid: str, holds: bool, text: str, numbers: dict[str, float]) -> dict:
    """One claim of the lab's text: its id, whether this run's numbers support it, the text with them,
    and those numbers by name (the course's ``make bench-seeds`` gathers them over seeds)."""
    return {"id": cid, "holds": bool(holds), "text": text, "numbers": {key: float(v) for key, v in numbers.items()}}


CLAIM_MARGIN = 10.0          # "more gradient far back" means at least this factor
PERPLEXITY_GAP = 0.10        # real text: "a small gap" between the models' best validation perplexities
LEARNED = 0.95               # recall accuracy that counts as "learned the dependency"
NOT_LEARNED = 0.5            # ... and as "did not"
NEAR_FLOOR = 0.02            # "at the floor": best validation perplexity within 2% of the text's floor, under a
                             # third of what the recall alone is worth (7.2%); the LSTMs end 0.6-0.9% above it
REACHED = 0.1                # "the gradient reaches the name": at least this fraction of the recall step's own


def check_claims(results: dict) -> list[dict]:
    """Each claim of the lab's text, with this run's numbers and whether they support it.

    Returns a list of ``{"id", "text", "holds", "numbers"}``; claims about models or data that the
    run does not have are left out.
    """
    m = results["models"]
    claims = []

    def add(cid: str, holds: bool, text: str, **numbers: float) -> None:
        claims.append(claim(cid, holds, text, numbers))

    embedded = results.get("ppl_floor") is not None
    if {"rnn", "lstm"} <= m.keys():
        rnn, lstm = m["rnn"], m["lstm"]
        k = rnn["far_k"]
        where = f"at the name, {k} steps back" if embedded else f"{k} steps back"
        ratio = lstm["gtt_far_rel_init"] / rnn["gtt_far_rel_init"]
        add("init_far_gradient", ratio >= CLAIM_MARGIN,
              f"At initialisation the default LSTM keeps {ratio:.0f}x more of the gradient {where} than the "
              f"vanilla RNN ({lstm['gtt_far_rel_init']:.1e} vs {rnn['gtt_far_rel_init']:.1e} of the probed step's; "
              f"decay per step {lstm['decay_per_step_init']:.2f} vs {rnn['decay_per_step_init']:.2f}).",
              ratio=ratio, far_lstm=lstm["gtt_far_rel_init"], far_rnn=rnn["gtt_far_rel_init"],
              decay_lstm=lstm["decay_per_step_init"], decay_rnn=rnn["decay_per_step_init"])
        norm_ratio = rnn["grad_norm_first_10pct"] / lstm["grad_norm_first_10pct"]
        add("weight_hh_norm_misleads", norm_ratio > 1.0,
              f"Yet the RNN's whole W_hh gradient norm is {norm_ratio:.1f}x the LSTM's (first 10% of training): "
              "that norm is dominated by short distances and does not show vanishing.", ratio=norm_ratio)
    if "rnn" in m and not embedded:
        rnn = m["rnn"]
        kept = rnn["grad_norm_last_10pct"] / rnn["grad_norm_first_10pct"]
        add("rnn_norm_does_not_vanish", kept >= 0.5,
              f"The RNN's W_hh gradient norm does not fall toward zero during training: its median over the last "
              f"10% of steps is {rnn['grad_norm_last_10pct']:.3f}, {kept:.2f}x the first 10%'s.",
              last=rnn["grad_norm_last_10pct"], kept=kept)
    if {"lstm", "lstm_fb1"} <= m.keys():
        gain = m["lstm_fb1"]["gtt_far_rel_init"] / m["lstm"]["gtt_far_rel_init"]
        add("forget_bias_keeps_gradient", gain >= CLAIM_MARGIN,
              f"Forget-gate bias 1 gives the LSTM {gain:.0f}x more gradient {m['lstm']['far_k']} steps back at "
              f"initialisation (decay per step {m['lstm_fb1']['decay_per_step_init']:.2f}).",
              gain=gain, far_lstm_fb1=m["lstm_fb1"]["gtt_far_rel_init"],
              decay_lstm_fb1=m["lstm_fb1"]["decay_per_step_init"])
    if embedded:
        claims.extend(check_recall_claims(results))
    elif "rnn" in m and len(m) >= 2:  # real text at this scale: a small perplexity gap, if any
        best = {name: r["best_valid_ppl"] for name, r in m.items()}
        lstm_best = min(v for name, v in best.items() if name != "rnn")
        gap = max(best.values()) / min(best.values()) - 1
        add("perplexity_gap_small", gap <= PERPLEXITY_GAP,
              f"On this text the models' best validation perplexities are within {PERPLEXITY_GAP:.0%} of each other "
              f"(RNN {best['rnn']:.1f}, LSTMs {', '.join(f'{v:.1f}' for name, v in best.items() if name != 'rnn')}: "
              f"the RNN {best['rnn'] / lstm_best - 1:+.0%} against the best LSTM): the LSTM's far larger long-range "
              "gradient buys little perplexity at this scale.",
              gap=gap, **{f"ppl_{name}": v for name, v in best.items()})
    if len(m) >= 2 and not embedded:
        init = [r["decay_per_step_init"] for r in m.values()]
        final = [r["decay_per_step_final"] for r in m.values()]
        spread_init, spread_final = max(init) - min(init), max(final) - min(final)
        add("trained_decay_converges", spread_final <= 0.5 * spread_init,
              f"After training the models' gradients decay at much closer rates per step "
              f"({', '.join(f'{v:.2f}' for v in final)}: spread {spread_final:.2f}) than at initialisation "
              f"({', '.join(f'{v:.2f}' for v in init)}: spread {spread_init:.2f}): training reshapes the dynamics.",
              spread_final=spread_final, spread_init=spread_init)
    return claims


# ----------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------

WIDTH = 100  # characters a line of the printed tables and claims: fits a notebook cell


def note(text: str) -> str:
    return textwrap.fill(text, WIDTH)


def text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a plain-text table, columns padded to their widest cell."""
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *map(line, rows)]


def ran_as_line(results: dict) -> str:
    """How each model ran, on one line: what the course reads to re-run your experiment on your code."""
    runs = ", ".join(f"{MODEL_SHORT[name]} {'bf16' if results['bf16'][name] else 'fp32'} x{r['threads']}"
                     for name, r in results["models"].items())
    return f"ran as: {runs} (precision x CPU threads)"


def format_table(results: dict) -> str:
    """Two plain-text tables (training, gradients), one row a model, each under 100 characters wide."""
    models = results["models"]
    floor = results.get("valid_floor")
    k = next(iter(models.values()))["far_k"]
    training = [[MODEL_SHORT[name], str(r["steps"]), f"{r['train_seconds']:.1f}",
                 f"{r['best_valid_ppl']:.2f} @{r['best_valid_step']}",
                 f"{r['best_valid_ppl'] / floor - 1:+.1%}" if floor else "-",
                 f"{-r['valid_drop_last_third']:+.1%}",
                 f"{r['recall_accuracy']:.3f}" if "recall_accuracy" in r else "-"]
                for name, r in models.items()]
    gradients = [[MODEL_SHORT[name], f"{r['gtt_far_rel_init']:.2e}", f"{r['gtt_far_rel_final']:.2e}",
                  f"{r['decay_per_step_init']:.3f} / {r['decay_per_step_final']:.3f}",
                  f"{r['grad_norm_first_10pct']:.3f} / {r['grad_norm_last_10pct']:.3f}"]
                 for name, r in models.items()]
    floor_note = (f" of this validation text, {floor:.2f}: the generator's own perplexity on it (the corpus's entropy, "
                  f"its average over texts, is perplexity {results['ppl_floor']:.2f})" if floor
                  else " (known only for the embedded corpus)")
    return "\n".join([
        f"data: {results['data']}, vocabulary {results['vocab_size']}, device {results['device']}",
        note("models: " + "; ".join(f"{MODEL_SHORT[name]} = {MODEL_LABELS[name]}"
                                    + (" [bfloat16]" if results["bf16"][name] else "") for name in models)),
        *([ran_as_line(results)] if all("threads" in r for r in models.values()) else []),
        *text_table(["model", "steps", "time s", "best val ppl", "vs floor", "last third", "recall acc"], training),
        note(f"vs floor: best validation perplexity above the perplexity floor{floor_note}; last third: change of "
             "validation perplexity over the last third of training."),
        "",
        *text_table(["model", f"grad@{k} init", f"grad@{k} trained", "decay/step init / trained",
                     "|grad W_hh| first / last 10%"], gradients),
        note(f"grad@{k}: ||dL/de|| {k} steps back / at the probed step ({results.get('probe', '')})."),
        "|grad W_hh|: median over the first and the last 10% of training steps (l2_grad_norm_recurrent).",
    ])


def format_claims(claims: list[dict]) -> str:
    """One paragraph a claim, HOLDS or FAILS first, wrapped to fit a notebook cell."""
    return "\n".join(textwrap.fill(("HOLDS  " if c["holds"] else "FAILS  ") + c["text"], WIDTH, subsequent_indent="       ")
                     for c in claims)


def format_sweep_table(sweep: dict) -> str:
    rows = [[str(r["distance"]), MODEL_SHORT[r["model"]], f"{r['recall_accuracy']:.2f}",
             f"{r['gtt_far_rel_init']:.1e}", f"{r['gtt_far_rel_final']:.1e}", f"{r['grad_norm_init']:.3f}",
             f"{r['grad_norm_first_10pct']:.3f} / {r['grad_norm_last_10pct']:.3f}"] for r in sweep["rows"]]
    return "\n".join(text_table(["distance", "model", "recall", "grad@name init", "trained", "|grad W_hh| init",
                                 "first / last 10%"], rows)
                     + [note(f"{sweep['rows'][0]['steps']} steps per run; recall chance {sweep['recall_chance']:.3f}; "
                             "grad@name: ||dL/de|| at the name / at the recall step; |grad W_hh|: at the first "
                             "step (the model as initialised), and the median over the first and the last 10% "
                             "of steps.")])


def write_files(out_dir: str | Path, stem: str, numbers: dict, text: str, figures: dict) -> None:
    """``stem.json`` (every number), ``stem.txt`` (what was printed) and one PNG a figure."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(numbers, indent=1))
    (out / f"{stem}.txt").write_text(text + "\n")
    for name, fig in figures.items():
        fig.savefig(out / f"{name}.png", dpi=110, bbox_inches="tight")


def write_results(results: dict, out_dir: str | Path) -> None:
    text = format_table(results) + "\n\nclaims checked on this run:\n" + format_claims(results["claims"])
    write_files(out_dir, "summary", results, text, make_figures(results))


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
    figs["grad_norm"] = per_step("step_grad_norm", "||grad W_hh|| (smoothed)",
                                 "Recurrent-weight gradient norm (before clipping)")

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for name, r in models.items():
        v = r["history"]["valid"]
        ax.plot([p["step"] for p in v], [p["ppl"] for p in v], marker="o", label=r["label"], color=MODEL_COLORS[name])
    if results.get("valid_floor"):
        ax.axhline(results["valid_floor"], color="black", ls=":", label="perplexity floor of this validation text")
    ax.set(xlabel="training step", ylabel="validation perplexity", title="Validation perplexity", yscale="log")
    ax.legend()
    plt.close(fig)
    figs["valid_perplexity"] = fig

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for name, r in models.items():
        for key, style, when in (("gtt_init", "--", "init"), ("gtt_final", "-", "trained")):
            g = r[key]
            ax.plot(range(len(g)), [v / g[0] for v in g], style, color=MODEL_COLORS[name], label=f"{r['label']}, {when}")
    k = next(iter(models.values()))["far_k"]
    ax.axvline(k, color="grey", lw=0.8)
    ax.annotate("the name" if results.get("ppl_floor") else f"k={k}", (k, 1), textcoords="offset points",
                xytext=(3, -12), fontsize=8, color="grey")
    ax.set(xlabel="k (steps back from the probed prediction)", ylabel="||dL/de_(T-1-k)|| / ||dL/de_(T-1)||",
           title="Gradient through time", yscale="log")
    ax.legend(fontsize=7)
    plt.close(fig)
    figs["gradient_through_time"] = fig
    return figs


def sweep_figure(sweep: dict):
    """Recall accuracy, the gradient at the name, and the W_hh gradient norm, against distance."""
    import matplotlib.pyplot as plt

    fig, (acc, grad, norm) = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")  # labels clear of panels
    for name in sweep["config"]["models"]:
        rows = [r for r in sweep["rows"] if r["model"] == name]
        d = [r["distance"] for r in rows]
        color, label = MODEL_COLORS[name], MODEL_LABELS[name]
        acc.plot(d, [r["recall_accuracy"] for r in rows], "o-", color=color, label=label)
        grad.plot(d, [r["gtt_far_rel_init"] or math.nan for r in rows], "o--", color=color, label="_")
        grad.plot(d, [r["gtt_far_rel_final"] or math.nan for r in rows], "o-", color=color, label="_")
        norm.plot(d, [r["grad_norm_init"] for r in rows], "o--", color=color, label="_")
        norm.plot(d, [r["grad_norm_last_10pct"] for r in rows], "o-", color=color, label="_")
    acc.axhline(sweep["recall_chance"], color="black", ls=":", label="chance")
    acc.set(xlabel="distance (fillers between the name and recall)", ylabel="recall accuracy", ylim=(0, 1.05),
            title="Who learns the dependency")
    grad.set(xlabel="distance", ylabel="||dL/de|| at the name / at recall", yscale="log",
             title="Gradient reaching the name (0, underflow: not drawn)")
    norm.set(xlabel="distance", ylabel="||grad W_hh||", yscale="log",
             title="Recurrent-weight gradient norm")
    acc.legend(fontsize=7)  # colours are models; in the other panels the line style says when
    for ax, solid in ((grad, "trained"), (norm, "median of the last 10% of steps")):
        ax.plot([], [], "k--", label="at initialisation")
        ax.plot([], [], "k-", label=solid)
        ax.legend(fontsize=7, loc="lower left")
    plt.close(fig)
    return fig


def check_recall_claims(results: dict) -> list[dict]:
    """The claims about the recall corpus: who learns the dependency, where the gradient goes, the floor."""
    m = results["models"]
    lstms = {name: r for name, r in m.items() if name != "rnn"}
    if "rnn" not in m or not lstms:
        return []
    rnn, chance, k = m["rnn"], results["recall_chance"], m["rnn"]["far_k"]
    lstm_acc = ", ".join(f"{r['recall_accuracy']:.2f}" for r in lstms.values())
    learns = claim(
        "lstm_learns_recall",
        min(r["recall_accuracy"] for r in lstms.values()) >= LEARNED and rnn["recall_accuracy"] <= NOT_LEARNED,
        f"In {rnn['steps']} steps the LSTMs learn to recall the name {k} steps back (accuracy {lstm_acc}); "
        f"the RNN, same steps and optimiser, does not ({rnn['recall_accuracy']:.2f}; chance {chance:.3f}).",
        {f"accuracy_{name}": r["recall_accuracy"] for name, r in m.items()})

    first = len(rnn["gtt_final"]) - 1  # the window's first input: it starts the state from zero, unlike any other

    def step_up(curve: list[float]) -> float:
        """The gradient at the name over the largest at a filler before it (k+1 .. first-1): > 1, a step up."""
        before = max(curve[k + 1:first], default=0.0)
        return curve[k] / before if before else math.inf

    def after(curve: list[float]) -> float:
        """The largest gradient at a filler after the name (nearer the recall step), relative to that step's."""
        return max(curve[1:k]) / curve[0]

    lstm_far = [r["gtt_far_rel_final"] for r in lstms.values()]
    lstm_far_init = [r["gtt_far_rel_init"] for r in lstms.values()]
    steps_up = {name: step_up(r["gtt_final"]) for name, r in lstms.items()}
    fillers_after = {name: after(r["gtt_final"]) for name, r in lstms.items()}
    reaches = claim(
        "trained_gradient_reaches_name",
        min(lstm_far) >= REACHED and min(steps_up.values()) > 1.0,
        f"After training the gradient of the recall loss reaches the name in the LSTMs: at k={k} it is "
        f"{', '.join(f'{v:.2f}' for v in lstm_far)} times the recall step's own (at initialisation "
        f"{', '.join(f'{v:.0e}' for v in lstm_far_init)}), and "
        f"{', '.join(f'{v:.1f}x' for v in steps_up.values())} the most a filler before the name gets "
        f"(k={k + 1} to {first - 1}; the window's first input, k={first}, which starts the state, aside): "
        f"the curve steps up at the name. The fillers after it, nearer the recall, get up to "
        f"{', '.join(f'{v:.2f}' for v in fillers_after.values())}. In the RNN it is "
        f"{rnn['gtt_far_rel_final']:.1e} of the recall step's own.",
        {**{f"far_{name}": r["gtt_far_rel_final"] for name, r in m.items()},
         **{f"step_up_{name}": v for name, v in steps_up.items()},
         **{f"after_{name}": v for name, v in fillers_after.items()}})

    floor = results["valid_floor"]
    lstm_gap = [r["best_valid_ppl"] / floor - 1 for r in lstms.values()]
    rnn_excess = math.log(rnn["best_valid_ppl"] / floor)  # nats a token above the floor
    from_recall = rnn["recall_loss"] / results["config"]["seq_len"] / rnn_excess  # one recall target a window
    recall_worth = len(RECALL_KEYS) ** (1 / results["config"]["seq_len"]) - 1  # ln 8 nats in every window
    at_floor = claim(
        "perplexity_floor", max(lstm_gap) <= NEAR_FLOOR and from_recall >= 0.5,
        f"The perplexity floor of this validation text (the generator's own perplexity on it) is {floor:.2f}; "
        f"the corpus's entropy, its average over texts, is perplexity {results['ppl_floor']:.2f}. The LSTMs end within {', '.join(f'{v:.1%}' for v in lstm_gap)} of that, "
        f"where the recall alone is worth {recall_worth:.1%}: almost nothing is left to learn. The RNN ends "
        f"{rnn['best_valid_ppl'] / floor - 1:.1%} above it, and {from_recall:.0%} of that excess is its loss at "
        f"the recalled name ({rnn['recall_loss']:.2f} nats; guessing among the {len(RECALL_KEYS)} names "
        f"costs {math.log(len(RECALL_KEYS)):.2f}).",
        {"valid_floor": floor, **{f"gap_{name}": r["best_valid_ppl"] / floor - 1 for name, r in m.items()},
         "rnn_excess_from_recall": from_recall, "recall_loss_rnn": rnn["recall_loss"]})
    return [learns, reaches, at_floor]


SEED_REPORT_PARTS = {"experiment": "the default experiment", "sweep": "the distance sweep",
                     "reversed": "the experiment, models whose layers are created in reverse order"}


def format_seed_report(report: dict) -> str:
    """The claims over the course's seeds (``seeds.json``): how often each held, its numbers' ranges."""
    lines = []
    for part, what in SEED_REPORT_PARTS.items():
        seeds = report[part]["seeds"]
        if not seeds:
            continue
        lines.append(note(f"{what}, seeds {', '.join(map(str, seeds))}:"))
        for cid, r in report[part]["claims"].items():
            numbers = ", ".join(f"{key} {low:.3g}" + (f" to {high:.3g}" if high != low else "")
                                for key, (low, high) in r["numbers"].items())
            lines.append(textwrap.fill(f"{r['held']}/{r['runs']}  {cid}: {numbers}", WIDTH,
                                       subsequent_indent="       "))
    lines.append(note("held/runs, then each number's range over the runs. far: the gradient at the name over the "
                      "recall step's (far_10: at distance 10); ratio, gain: factors between models' far at "
                      "initialisation; step_up: the name's gradient over the most a filler before it gets; after: "
                      "the most a filler after the name gets; gap: best validation perplexity over the perplexity "
                      "floor of its validation text, minus 1; longest_learned: a distance (0: none)."))
    return "\n".join(lines)


SWEEP_NORM_SPREAD = 1.5      # "the W_hh norm hardly changes with distance": max/min at most this
SWEEP_FAR_DROP = 1e6         # ... while the gradient at the name falls by at least this factor
VANISHED = 1e-10             # a gradient this small, relative to the recall step's, has vanished


def check_sweep_claims(sweep: dict) -> list[dict]:
    """The claims about the distance sweep, on its own numbers (as ``check_claims``)."""
    rows = {(r["model"], r["distance"]): r for r in sweep["rows"]}
    models, distances = sweep["config"]["models"], sweep["distances"]
    if not {"rnn", "lstm", "lstm_fb1"} <= set(models) or len(distances) < 3:
        return []
    shortest, longest = min(distances), max(distances)
    chance, steps = sweep["recall_chance"], sweep["rows"][0]["steps"]

    reach = {m: longest_learned(sweep, m) or 0 for m in models}
    at_longest = [rows[m, longest]["recall_accuracy"] for m in models]
    best_rnn = max((rows["rnn", d]["recall_accuracy"], d) for d in distances)
    learned = "; ".join(f"{MODEL_LABELS[m]} {'up to ' + str(reach[m]) if reach[m] else 'at no distance'}"
                        for m in ("lstm_fb1", "lstm", "rnn"))
    who_learns = claim(
        "sweep_who_learns",
        (reach["lstm_fb1"] >= reach["lstm"] >= reach["rnn"] and reach["lstm"] >= shortest
         and max(at_longest) <= 2 * chance),
        f"In {steps} steps the recall is learned (accuracy >= {LEARNED}) by the {learned} (the RNN's best: "
        f"{best_rnn[0]:.2f} at {best_rnn[1]}). At distance {longest} every model is at chance "
        f"({', '.join(f'{v:.2f}' for v in at_longest)}; chance {chance:.3f}).",
        {**{f"longest_learned_{m}": reach[m] for m in models}, "best_rnn": best_rnn[0],
         **{f"accuracy_at_{longest}_{m}": v for m, v in zip(models, at_longest)}})

    def far(m: str) -> list[float]:
        return [rows[m, d]["gtt_far_rel_init"] for d in distances]

    shrinks = all(all(a >= b for a, b in zip(far(m), far(m)[1:])) and far(m)[0] > far(m)[-1] for m in models)
    ordered = all(rows["rnn", d]["gtt_far_rel_init"] <= rows["lstm", d]["gtt_far_rel_init"]
                  <= rows["lstm_fb1", d]["gtt_far_rel_init"] for d in distances)
    vanishes = claim(
        "sweep_init_gradient_vanishes", shrinks and ordered and far("rnn")[-1] <= VANISHED,
        f"At initialisation the gradient reaching the name shrinks as the distance grows, fastest in the "
        f"RNN and slowest with forget-gate bias 1: from distance {shortest} to {longest} it goes from "
        + ", ".join(f"{far(m)[0]:.0e} to {far(m)[-1]:.0e} ({MODEL_SHORT[m]})" for m in models)
        + f". The RNN's is below {VANISHED:.0e}"
        + (", in fact exactly 0 (float32 underflow)" if far("rnn")[-1] == 0 else "")
        + ": at that distance it has vanished.",
        {**{f"far_{shortest}_{m}": far(m)[0] for m in models}, **{f"far_{longest}_{m}": far(m)[-1] for m in models}})

    norms = [rows["rnn", d]["grad_norm_init"] for d in distances]
    drop = far("rnn")[0] / far("rnn")[-1] if far("rnn")[-1] > 0 else math.inf
    norm_flat = claim(
        "sweep_weight_hh_norm_flat", max(norms) <= SWEEP_NORM_SPREAD * min(norms) and drop >= SWEEP_FAR_DROP,
        f"Yet the RNN's W_hh gradient norm at initialisation hardly changes with the sequence length "
        f"({min(norms):.3f} to {max(norms):.3f} for windows of {rows['rnn', shortest]['seq_len']} to "
        f"{rows['rnn', longest]['seq_len']} tokens) while its gradient at the name falls by "
        + (f"{drop:.0e}x" if drop < math.inf else "everything (to 0)")
        + ": the norm is the mean over all positions and distances, dominated by the short ones.",
        {"norm_min": min(norms), "norm_max": max(norms), "far_drop": drop})
    return [who_learns, vanishes, norm_flat]
