"""The given (non-task) parts of the reference module: vocabulary, encoding, windows, training loop."""

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.utils.data import DataLoader

import lab_support
import rnn_lm


def test_build_vocab_specials_and_order():
    stoi, itos = rnn_lm.build_vocab(["b a a", "C c c", "b"])
    assert itos == ["<pad>", "<unk>", "c", "a", "b"]  # frequency, then alphabetical
    assert all(stoi[t] == i for i, t in enumerate(itos))


def test_literal_unk_and_pad_get_no_second_id():
    # WikiText marks rare words with a literal <unk>; the original counted it as a word,
    # so len(stoi) < len(itos) and the embedding indexed out of range.
    stoi, itos = rnn_lm.build_vocab(["the <unk> <unk> <unk> cat <pad>", "<UNK> the"], max_tokens=10)
    assert len(stoi) == len(itos) == 4
    assert itos[:2] == ["<pad>", "<unk>"]
    ids = rnn_lm.encode("the <unk> dog", stoi)
    assert ids == [stoi["the"], 1, 1]
    assert max(ids) < len(itos)


def test_build_vocab_cap_includes_specials():
    _, itos = rnn_lm.build_vocab(["a b c d e f"], max_tokens=4)
    assert len(itos) == 4


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(n=st.integers(2, 200), seq_len=st.integers(1, 12), stride=st.one_of(st.none(), st.integers(1, 12)))
def test_windows_are_next_token_pairs_and_cover_every_target(n, seq_len, stride):
    stride = None if stride is None else min(stride, seq_len)  # larger strides skip tokens by design
    ids = list(range(2, n + 2))  # no pad id inside the stream
    ds = rnn_lm.LMDataset(ids, seq_len=seq_len, stride=stride)
    seen = set()
    for j in range(len(ds)):
        x, y = ds[j]
        assert x.shape == y.shape == (seq_len,)
        real = y != 0
        assert torch.equal(x[1:][real[:-1]], y[:-1][real[:-1]])  # y is x shifted by one
        seen.update(y[real].tolist())
    assert seen == set(ids[1:])  # every token after the first is a target
    if stride is None:  # non-overlapping: each target exactly once
        assert sum(int((ds[j][1] != 0).sum()) for j in range(len(ds))) == n - 1


def test_stride_one_is_the_original_every_offset_dataset():
    ds = rnn_lm.LMDataset(list(range(2, 42)), seq_len=30, stride=1, pad_last=False)
    assert len(ds) == 40 - 30


def test_train_model_logs_every_step_and_validates():
    torch.manual_seed(0)
    ids = torch.randint(2, 20, (600,)).tolist()
    loader = DataLoader(rnn_lm.LMDataset(ids, 10), batch_size=8, shuffle=True)
    model = rnn_lm.VanillaRNNLM(20, 8, 16)
    hist = rnn_lm.train_rnn(model, loader, loader, epochs=2, lr=1e-2, eval_every=5, progress=False)
    steps = 2 * len(loader)
    assert len(hist["step_loss"]) == len(hist["step_grad_norm"]) == steps
    assert all(g > 0 for g in hist["step_grad_norm"])
    assert [v["step"] for v in hist["valid"]][-1] == steps
    assert hist["step_loss"][-1] < hist["step_loss"][0]


def test_set_forget_gate_bias():
    lstm = torch.nn.LSTM(3, 4)
    rnn_lm.set_forget_gate_bias(lstm, 1.0)
    total = lstm.bias_ih_l0 + lstm.bias_hh_l0
    assert torch.allclose(total[4:8], torch.ones(4))


def test_progress_bar_updates_by_steps_whatever_the_clock(monkeypatch, capsys):
    """On a slow machine (every step 30 s by this fake clock) a bar still prints at most
    BAR_UPDATES updates plus its first and last lines: a saved notebook stays small."""
    import itertools

    import tqdm.std

    clock = itertools.count(0.0, 30.0)
    monkeypatch.setattr(tqdm.std, "time", lambda: next(clock))
    torch.manual_seed(0)
    ids = torch.randint(2, 20, (2000,)).tolist()
    loader = DataLoader(rnn_lm.LMDataset(ids, 5), batch_size=4)  # 100 steps an epoch
    rnn_lm.train_rnn(rnn_lm.VanillaRNNLM(20, 4, 8), loader, loader, epochs=2, eval_every=7, progress=True)
    updates = capsys.readouterr().err.count("\r")
    assert 5 <= updates <= rnn_lm.BAR_UPDATES + 3, updates


@pytest.fixture
def four_default_threads(monkeypatch):
    """PyTorch's default faked to 4 threads; the threads the tests set are undone afterwards."""
    before = torch.get_num_threads()
    monkeypatch.setattr(lab_support, "DEFAULT_THREADS", 4)
    yield
    torch.set_num_threads(before)


def test_threads_default_to_the_cores_no_other_program_keeps_busy(monkeypatch, four_default_threads):
    """Next to a busy program, PyTorch's threads wait for the one held off its core: the lab leaves
    that core out (benchmarks/bench_busy.py measures why); an explicit `threads` always wins."""
    for busy, threads in ((0.1, 4), (1.2, 3), (2.6, 1), (9.0, 1)):
        monkeypatch.setattr(lab_support, "cores_busy_elsewhere", lambda busy=busy: busy)
        assert lab_support.set_threads(lab_support.LabConfig()) == threads == torch.get_num_threads()
    assert lab_support.set_threads(lab_support.LabConfig(threads=2)) == 2


def test_each_model_records_the_threads_it_trained_with(monkeypatch, four_default_threads):
    """Threads are chosen again before each model: a neighbour that starts mid-experiment counts."""
    from rnnlab.cli import dry_run_overrides

    busy_counts = iter((0.1, 1.2, 2.6))  # the neighbours found before each of the three models
    monkeypatch.setattr(lab_support, "cores_busy_elsewhere", lambda: next(busy_counts))
    results = lab_support.run_experiment(lab_support.LabConfig(**dry_run_overrides()), progress=False)
    assert [r["threads"] for r in results["models"].values()] == [4, 3, 1]


def test_cores_busy_elsewhere_is_a_count_of_cores():
    """Between none and every core of the machine, whatever else runs beside the test."""
    import os

    busy = lab_support.cores_busy_elsewhere(0.2)
    assert 0.0 <= busy <= os.cpu_count() + 0.5
