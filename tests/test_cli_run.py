"""`rnnlab run`: the dry-run smoke path, the data sources and their errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rnnlab.cli import main

PLOTS = {"training_loss", "grad_norm", "valid_perplexity", "gradient_through_time"}


def test_dry_run_writes_table_json_and_plots(tmp_path, capsys):
    assert main(["run", "--dry-run", "--no-progress", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    words = " ".join(out.split())  # the legend wraps to the table's width
    assert "RNN = vanilla RNN" in words and "LSTM fb1 = LSTM (forget-gate bias 1)" in words
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["models"]) == {"rnn", "lstm", "lstm_fb1"}
    for r in summary["models"].values():
        assert len(r["gtt_init"]) == summary["config"]["seq_len"] - 1  # the probe ends at the recall marker
        assert r["far_k"] == summary["config"]["recall_distance"] + 1
        assert 0.0 <= r["recall_accuracy"] <= 1.0
        assert r["steps"] == 6
    assert {p.stem for p in tmp_path.glob("*.png")} == PLOTS
    assert all(p.stat().st_size > 5000 for p in tmp_path.glob("*.png"))
    assert out.count("claims checked on this run") == 1 and ("HOLDS" in out or "FAILS" in out)
    assert max(len(line) for line in (tmp_path / "summary.txt").read_text().splitlines()) <= 100


def test_sweep_dry_run_writes_json_table_and_figure(tmp_path, capsys):
    assert main(["sweep", "--dry-run", "--no-progress", "--out", str(tmp_path)]) == 0
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert [(r["distance"], r["model"]) for r in sweep["rows"]] == [
        (d, m) for d in (4, 8) for m in ("rnn", "lstm", "lstm_fb1")]
    for r in sweep["rows"]:
        assert r["far_k"] == r["distance"] + 1 and r["seq_len"] == r["distance"] + 5
        assert 0.0 <= r["recall_accuracy"] <= 1.0 and r["grad_norm_first_10pct"] > 0
    assert (tmp_path / "sweep.png").stat().st_size > 5000 and "distance" in (tmp_path / "sweep.txt").read_text()


@pytest.mark.parametrize("device,message", [("gpu0", "not a device name"), ("cuda", "sees no such device")])
def test_unusable_device_is_one_clear_message(tmp_path, capsys, monkeypatch, device, message):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["run", "--dry-run", "--no-progress", "--device", device, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "auto" in err
    assert "Traceback" not in err


def test_explicit_cpu_device_runs(tmp_path):
    assert main(["run", "--dry-run", "--no-progress", "--device", "cpu", "--models", "lstm", "--out",
                 str(tmp_path)]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["device"] == "cpu"


def test_folder_source_with_real_wikitext(tmp_path, wikitext_dir, capsys):
    assert main(["run", "--dry-run", "--no-progress", "--data", str(wikitext_dir), "--models", "rnn,lstm",
                 "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["vocab_size"] > 1000
    assert "recall_accuracy" not in summary["models"]["rnn"]


@pytest.mark.parametrize("folder_content", [None, ["notes.md"]])
def test_bad_folder_is_one_clear_message(tmp_path, capsys, folder_content):
    folder = tmp_path / "corpus"
    if folder_content is not None:
        folder.mkdir()
        for name in folder_content:
            (folder / name).write_text("x\n")
    assert main(["run", "--dry-run", "--no-progress", "--data", str(folder), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "train.txt" in err and "valid.txt" in err
    assert "Traceback" not in err


def test_unreachable_hub_is_one_clear_message(tmp_path):
    # HF_HUB_OFFLINE makes `datasets` fail at once, the way it fails after a time-out without network.
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "rnnlab.cli", "run", "--dry-run", "--no-progress", "--data",
                           "wikitext", "--out", str(tmp_path / "o")], capture_output=True, text=True, env=env,
                          timeout=300, cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Could not load WikiText-2" in proc.stderr and 'data="embedded"' in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unfinished_implementation_is_named(tmp_path, capsys):
    impl = tmp_path / "impl"
    impl.mkdir()
    src = (Path(__file__).resolve().parent.parent / "solution")
    (impl / "lab_support.py").write_text((src / "lab_support.py").read_text())
    (impl / "rnn_lm.py").write_text((src / "rnn_lm.py").read_text().replace(
        "        self.hidden_dim = hidden_dim\n        self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)\n"
        "        self.rnn_cell",
        "        raise NotImplementedError('Task 1: implement VanillaRNNLM.__init__')\n        self.rnn_cell", 1))
    try:
        assert main(["run", "--dry-run", "--no-progress", "--impl", str(impl), "--out", str(tmp_path / "o")]) == 2
    finally:
        from rnnlab.cli import import_lab
        import_lab(src)  # later tests import the reference modules again
    assert "Task 1" in capsys.readouterr().err
