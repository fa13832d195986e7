"""Copy detection: which pairs of submissions share unusually much of their own code.

Method (winnowing, as MOSS, JPlag and copydetect use it):

1. Each submission's code (a .py file, or a notebook's code cells) becomes a stream of
   normalised Python tokens: comments and docstrings dropped, every identifier that a student
   can rename consistently (variables, parameters, functions, import aliases) becomes ``V``,
   numbers ``N``, strings ``S``; keywords, built-ins, attribute names (``.fc``, ``.cross_entropy``)
   and keyword-argument names (``ignore_index=``) are kept. Renaming and re-commenting leave the
   stream unchanged; reformatting too, since only tokens count. The team's ``AUTHORS = [...]``
   is left out: every team's is alike but for the names.
2. Every ``KGRAM`` consecutive tokens are hashed; winnowing keeps the rightmost minimum of each
   ``WINDOW`` consecutive hashes, so any shared run of ``KGRAM + WINDOW - 1`` tokens is found.
   Independent lines moved around keep their own k-grams; only the k-grams across the moved
   boundaries change.
3. Code every submission shares by construction does not count: a fingerprint that is a k-gram
   of the student skeleton (given code and stubs), of the reference solution (small tasks converge
   on the same few lines; its ``# BEGIN/END SOLUTION`` markers are comments, so they are not
   tokens) or of the lab notebook's code cells is dropped. What is left is the submission's
   *own* code. Fingerprints that more than ``max(COMMON_MIN, COMMON_SHARE x class size)``
   submissions share are common idioms (MOSS's ``-m``) and are dropped too.
4. The score of a pair is the share of the smaller submission's own fingerprints that the other
   one also has (1.0: all of it). A pair is flagged when its score reaches the threshold, they
   share at least ``MIN_SHARED`` fingerprints, and what they share is at least
   ``MIN_SHARE_OF_LARGER`` of the larger one's own fingerprints: a submission that is the
   solution but for two natural lines is not flagged against everyone who wrote those two lines
   among 200 fingerprints of their own. Unless they share at least ``MIN_SHARED_ANY_SIZE``
   fingerprints, whatever the sizes: a verbatim copy padded with a thousand lines of dead code is
   flagged too (the most two honest submissions of the bank share is 14). An inverted index (fingerprint -> submissions) makes the
   comparison proportional to the shared fingerprints, not to the 125k pairs of a class of 500.

Why not ``copydetect`` (0.5.0, MIT; needs numpy, matplotlib, jinja2, pygments and tqdm, which
this project's environment has): measured on the same submissions with its defaults (25-character
k-grams, every k-gram of the skeleton and the solution as boilerplate), it flags 25 of the 27
disguised copies at 0.7, but it also scores ``rnn_returns_log_probs`` against the correct
``decoder_applied_every_step`` 0.8 (0.0 here), ``rnn_no_padding_idx`` against
``parameters_created_in_another_order`` 0.68 (0.5 here, one shared fingerprint) and an
independently written implementation 0.94 against the latter (0.56 here). It replaces every
name, attribute and module names included, by ``V``, and the lab's own code is short:
``F.cross_entropy(a, b)`` and ``torch.stack(a, b)`` become the same characters. Its speed would
do (125k pairs in about 4 s), but we would use its internals (``CodeFingerprint``,
``compare_files``), not its command, to make one section of our page. The method fits in this
module, with a tokenizer that keeps what the lab's code is made of.

Measured (``tests/test_class_report.py`` checks each against the default threshold; KGRAM 10,
WINDOW 5):

- each of the 27 buggy variants of ``tests/submission_bank.py`` against a copy of it with local
  variables renamed, comments removed and added and independent lines swapped: 26 score 1.0
  (2 to 14 shared fingerprints, at least 13% of the copy's own code, the swaps being own code
  too). The 27th, ``eval_builds_graph``, differs from the solution only by ``if True:``, right
  below the two lines the copy swaps: 1 fingerprint of 4 survives (0.25, below ``MIN_SHARED``),
  so it is not flagged at any threshold;
- the solution and the correct alternatives: 0.0 in every pair (no own code in common);
- the highest score between two different bank submissions: 0.75 (``gtt_leaves_param_grads`` and
  the correct ``gtt_backward_with_inputs``, the same three lines but for ``inputs=[e]``), then
  0.4 (two edits of the same two lines of ``evaluate``);
- two implementations written independently in other styles: 0.11 between them, at most 0.56
  against a bank submission, except 1.0 against ``lstm_without_hidden_dim_attribute``, whose only
  own code (3 fingerprints: the embedding and LSTM lines with nothing between them) one of them
  also has, but as 1.6% of its 191, so it is not flagged (``MIN_SHARE_OF_LARGER``); one of them
  against its disguised copy 0.96, and against itself with two of its six tasks taken from the
  other 0.76.

Hence ``DEFAULT_THRESHOLD`` 0.7: above everything independent measured here, below every copy
(partial ones included). It does flag near-identical short code such as the 0.75 pair; the page
shows the lines, so a TA sees at a glance that they are three lines. The bank's limitation: its
submissions are the solution plus a one-line edit, so two students making the same one-line bug
in otherwise reference code look like a copy (by any token method); the common-idiom rule drops
such a fingerprint once more than ``COMMON_MIN`` submissions share it.
"""

from __future__ import annotations

import builtins
import json
import keyword
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from rnnjudge.code_reading import hidden_code, raw_tokens
from rnnjudge.judge import UnreadableSubmission, submission_code
from rnnlab import ASSIGNMENT_DIR, SOLUTION_DIR

KGRAM = 10  # tokens a fingerprint covers
WINDOW = 5  # winnowing window: shared runs of KGRAM + WINDOW - 1 = 14 tokens are always found
DEFAULT_THRESHOLD = 0.7
MIN_SHARED = 2  # fingerprints two submissions must share to be flagged at all
MIN_SHARE_OF_LARGER = 0.05  # ... and that share of the larger one's own fingerprints,
MIN_SHARED_ANY_SIZE = 40  # ... or this many, whatever the larger one's size: a copy padded with dead code
# (the most two honest submissions of the bank share is 14: two independent implementations)
COMMON_MIN, COMMON_SHARE = 10, 0.05  # a fingerprint in more submissions than this is a common idiom

KEPT_NAMES = frozenset(keyword.kwlist + keyword.softkwlist + [n for n in dir(builtins) if not n.startswith("_")])
STATEMENT_START = {"", "NEWLINE", "INDENT", "DEDENT"}
AUTHORS = "AUTHORS"  # the team's names: alike in every submission but for the names, so not compared
OPENING, CLOSING = {"(", "[", "{"}, {")", "]", "}"}
API_STRING = re.compile(r"""(["'])[A-Za-z_][\w.]{0,30}\1""")


@dataclass
class Tokens:
    """A submission's normalised tokens and where each one is in its code."""

    texts: list[str]  # V, N, S, a keyword, an attribute name, an operator, NEWLINE, ...
    first_lines: np.ndarray  # 1-based line of each token's start in the displayed code
    last_lines: np.ndarray


@dataclass
class Fingerprint:
    """One submission, ready to compare."""

    name: str
    code: str  # the text the report shows (a notebook's code cells joined)
    tokens: Tokens
    kgrams: np.ndarray  # the hash of every k-gram, in order
    own_kgrams: np.ndarray  # the k-grams that are not boilerplate, unique and sorted (for highlighting)
    own: np.ndarray  # the winnowed ones among them: the fingerprints compared


@dataclass
class SimilarPair:
    a: str
    b: str
    score: float  # shared / min(own fingerprints of a, of b); own ones exclude common idioms
    shared: int  # fingerprints in both, common idioms excluded
    share_of_a: float  # shared / own fingerprints of a
    share_of_b: float
    lines_a: list[int]  # lines of a's code in a shared k-gram (own code only)
    lines_b: list[int]


# ----------------------------------------------------------------------------
# Reading code
# ----------------------------------------------------------------------------

def read_code(path: Path) -> str:
    """The code the judge grades (a .py file, or a notebook's code cells); "" for anything it refuses
    (a symbolic link, an oversized or invalid file). Never raises."""
    try:
        return submission_code(Path(path))
    except (UnreadableSubmission, OSError):
        return ""


# ----------------------------------------------------------------------------
# Tokens
# ----------------------------------------------------------------------------

def normalise(raw: list[tuple[str, str, int, int]]) -> Tokens:
    """Replace what a student can rename or reword by placeholders; drop docstrings and the
    statements that bind ``AUTHORS``."""
    texts, first_lines, last_lines = [], [], []
    depth = 0  # brackets open: a name followed by "=" inside them is a keyword argument
    in_authors = False
    for i, (kind, text, first, last) in enumerate(raw):
        previous = raw[i - 1] if i else ("", "", 0, 0)
        following = raw[i + 1] if i + 1 < len(raw) else ("", "", 0, 0)
        if kind == "NAME" and text == AUTHORS and previous[0] in STATEMENT_START:
            in_authors = True
        if in_authors:
            in_authors = kind != "NEWLINE"
            continue
        if kind == "OP" and text in OPENING:
            depth += 1
        elif kind == "OP" and text in CLOSING:
            depth = max(depth - 1, 0)
        if kind == "STRING" and previous[0] in STATEMENT_START and following[0] in ("NEWLINE", ""):
            continue  # a docstring or a bare string statement
        normalised = normalised_text(kind, text, previous[1], following[1], depth)
        if normalised:
            texts.append(normalised)
            first_lines.append(first)
            last_lines.append(last)
    return Tokens(texts, np.array(first_lines, dtype=np.int64), np.array(last_lines, dtype=np.int64))


def normalised_text(kind: str, text: str, previous: str, following: str, depth: int) -> str:
    """The token as fingerprints see it ("" to drop it); ``previous``/``following`` are its neighbours' texts."""
    if kind == "NAME":
        kept = text in KEPT_NAMES or previous == "." or (depth and following == "=")
        return text if kept else "V"
    if kind == "NUMBER":
        return "N"
    if kind == "STRING" and API_STRING.fullmatch(text):
        return text.strip("'\"")  # "relu", "weight_hh", "sum": values an API takes, not prose
    if kind in ("STRING", "FSTRING_START"):
        return "S"
    if kind in ("FSTRING_MIDDLE", "FSTRING_END"):
        return ""
    if kind in ("NEWLINE", "INDENT", "DEDENT"):
        return kind
    return text.strip()  # an operator, or what the tokenizer could not place ("$", "?")


# ----------------------------------------------------------------------------
# Fingerprints
# ----------------------------------------------------------------------------

def kgram_hashes(tokens: Tokens) -> np.ndarray:
    """A deterministic 64-bit hash of every KGRAM consecutive tokens (polynomial, wrapping)."""
    if len(tokens.texts) < KGRAM:
        return np.zeros(0, dtype=np.uint64)
    ids = np.array([zlib.crc32(text.encode()) for text in tokens.texts], dtype=np.uint64)
    count = len(ids) - KGRAM + 1
    hashes = np.zeros(count, dtype=np.uint64)
    for offset in range(KGRAM):
        hashes = hashes * np.uint64(1_000_003) + ids[offset : offset + count]
    return hashes


def winnow(hashes: np.ndarray) -> np.ndarray:
    """The positions winnowing selects: the rightmost minimum of every WINDOW consecutive hashes."""
    if len(hashes) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(hashes) < WINDOW:
        return np.array([len(hashes) - 1 - int(np.argmin(hashes[::-1]))])
    windows = sliding_window_view(hashes, WINDOW)
    rightmost = WINDOW - 1 - np.argmin(windows[:, ::-1], axis=1)
    return np.unique(np.arange(len(windows)) + rightmost)


def boilerplate_hashes() -> np.ndarray:
    """Every k-gram of the student skeleton, the reference solution and the lab notebook."""
    sources = [ASSIGNMENT_DIR / "rnn_lm.py", SOLUTION_DIR / "rnn_lm.py", ASSIGNMENT_DIR / "lab.ipynb"]
    return np.unique(np.concatenate([kgram_hashes(normalise(raw_tokens(read_code(p)))) for p in sources]))


def fingerprint(name: str, code: str, boilerplate: np.ndarray) -> Fingerprint:
    tokens = normalise(raw_tokens(code))
    kgrams = kgram_hashes(tokens)
    own_kgrams = np.setdiff1d(kgrams, boilerplate)
    own = np.intersect1d(kgrams[winnow(kgrams)], own_kgrams)
    return Fingerprint(name, code, tokens, kgrams, own_kgrams, own)


# ----------------------------------------------------------------------------
# Comparison
# ----------------------------------------------------------------------------

def common_limit(class_size: int) -> int:
    return max(COMMON_MIN, int(COMMON_SHARE * class_size))


def shared_counts(prints: list[Fingerprint]) -> tuple[Counter, list[int]]:
    """Shared fingerprints of every pair that shares any (an inverted index), and each
    submission's own fingerprints once common idioms are dropped."""
    holders: dict[int, list[int]] = {}
    for index, fp in enumerate(prints):
        for value in fp.own.tolist():
            holders.setdefault(value, []).append(index)
    limit = common_limit(len(prints))
    own_counts = [0] * len(prints)
    pairs: Counter = Counter()
    for owners in holders.values():
        if len(owners) > limit:
            continue
        for i, a in enumerate(owners):
            own_counts[a] += 1
            for b in owners[i + 1 :]:
                pairs[a, b] += 1
    return pairs, own_counts


def similar_pairs(prints: list[Fingerprint], threshold: float) -> list[SimilarPair]:
    """Pairs whose score reaches ``threshold``, the most similar first."""
    pairs, own_counts = shared_counts(prints)
    found = []
    for (a, b), shared in pairs.items():
        smaller, larger = sorted((own_counts[a], own_counts[b]))
        score = shared / smaller
        if score >= threshold and shared >= MIN_SHARED and (shared / larger >= MIN_SHARE_OF_LARGER
                                                            or shared >= MIN_SHARED_ANY_SIZE):
            lines_a, lines_b = matching_lines(prints[a], prints[b])
            found.append(SimilarPair(prints[a].name, prints[b].name, round(score, 4), shared,
                                     round(shared / own_counts[a], 4), round(shared / own_counts[b], 4),
                                     lines_a, lines_b))
    return sorted(found, key=lambda p: (-p.score, -p.shared, p.a, p.b))


def matching_lines(a: Fingerprint, b: Fingerprint) -> tuple[list[int], list[int]]:
    """The lines of each with own code that the other has too."""
    shared = np.intersect1d(a.own_kgrams, b.own_kgrams, assume_unique=True)
    return shared_code_lines(a, shared), shared_code_lines(b, shared)


def shared_code_lines(fp: Fingerprint, shared: np.ndarray) -> list[int]:
    """Lines of the own code that the k-grams in ``shared`` cover.

    A run of consecutive own k-grams starting at s..e covers tokens s..e+KGRAM-1, but only tokens
    s+KGRAM-1..e are own code (the rest is the boilerplate around it); when the run is shorter
    than a k-gram (a few tokens changed or deleted), the tokens e..s+KGRAM-1 are where it changed."""
    starts = np.flatnonzero(np.isin(fp.kgrams, shared))
    lines: set[int] = set()
    for run in np.split(starts, np.flatnonzero(np.diff(starts) > 1) + 1) if len(starts) else []:
        low, high = sorted((int(run[0]) + KGRAM - 1, int(run[-1])))
        firsts, lasts = fp.tokens.first_lines[low : high + 1], fp.tokens.last_lines[low : high + 1]
        for first, last in zip(firsts.tolist(), lasts.tolist()):
            lines.update(range(first, last + 1))
    return sorted(lines)


@dataclass
class SimilarityResult:
    pairs: list[SimilarPair]
    codes: dict[str, str]  # name -> the code shown for it
    without_code: list[str]  # submissions with too little readable code to compare
    hidden_code: dict[str, str] = field(default_factory=dict)  # name -> what builds code at run time


def find_similar(sources: dict[str, Path], threshold: float) -> SimilarityResult:
    """Read, fingerprint and compare every submission."""
    boilerplate = boilerplate_hashes()
    prints = [fingerprint(name, read_code(path), boilerplate) for name, path in sorted(sources.items())]
    without_code = [fp.name for fp in prints if len(fp.kgrams) == 0]
    hidden = {fp.name: why for fp in prints if (why := hidden_code(fp.code))}  # named for the TA to read
    return SimilarityResult(similar_pairs(prints, threshold), {fp.name: fp.code for fp in prints},
                            without_code, hidden)
