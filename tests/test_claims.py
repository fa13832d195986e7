"""The scientific claims of the lab (README, notebook answers), pinned on fixed seeds.

Each test runs the experiment and asserts that `lab_support.check_claims` finds every claim
supported by the run's own numbers: if a code change makes a number stop supporting a claim,
the test fails and the text has to change with it.
"""

import pytest
import torch

import lab_support
import rnn_lm


def assert_claims_hold(results, expected_ids):
    claims = {c["id"]: c for c in lab_support.check_claims(results)}
    assert set(claims) == set(expected_ids)
    failing = [c["text"] for c in claims.values() if not c["holds"]]
    assert not failing, "claims no longer supported by the run:\n" + "\n".join(failing)


@pytest.mark.slow
def test_default_embedded_run_supports_every_claim():
    """The exact `make lab` configuration (about 2 minutes on 2 cores)."""
    results = lab_support.run_experiment(lab_support.LabConfig(), progress=False)
    assert_claims_hold(results, {"init_far_gradient", "rnn_norm_does_not_vanish", "forget_bias_keeps_gradient",
                                 "trained_decay_similar", "lstm_learns_recall", "lstm_lower_perplexity"})


@pytest.mark.slow
def test_wikitext_run_supports_its_claims(wikitext_dir):
    """Real text: the README's WikiText-2 run, shortened to 2 epochs to keep the suite fast."""
    cfg = lab_support.LabConfig(data=str(wikitext_dir), epochs=2, eval_every=0)
    results = lab_support.run_experiment(cfg, progress=False)
    assert_claims_hold(results, {"init_far_gradient", "weight_hh_norm_misleads", "rnn_norm_does_not_vanish",
                                 "forget_bias_keeps_gradient", "trained_decay_similar",
                                 "no_lstm_perplexity_advantage"})


def test_init_gradient_margin_holds_over_seeds():
    """The initialisation claims are not a lucky seed: 10 seeds, the lab's default sizes."""
    cfg = lab_support.LabConfig(embedded_docs=200)
    data = lab_support.prepare_data(cfg)
    x, y = data.probe_batch()
    k = cfg.far_k
    for seed in range(10):
        rel = {}
        for name in lab_support.MODEL_NAMES:
            model = lab_support.build_model(name, len(data.itos), lab_support.LabConfig(seed=seed))
            g = rnn_lm.gradient_through_time(model, x, y)
            rel[name] = (g[k] / g[0]).item()
        assert rel["lstm"] >= lab_support.CLAIM_MARGIN * rel["rnn"], (seed, rel)
        assert rel["lstm_fb1"] >= lab_support.CLAIM_MARGIN * rel["lstm"], (seed, rel)


def test_claims_fail_when_numbers_stop_supporting_them():
    """check_claims can say no: swap the RNN's and the LSTM's numbers and the claims flip."""
    fake = {"config": {"recall_distance": 20}, "models": {}}
    base = dict(far_k=20, grad_norm_first_10pct=1.0, grad_norm_last_10pct=0.1, decay_per_step_init=0.5,
                decay_per_step_final=0.5, recall_accuracy=0.5, best_valid_ppl=20.0)
    fake["models"]["rnn"] = dict(base, gtt_far_rel_init=1e-3)
    fake["models"]["lstm"] = dict(base, gtt_far_rel_init=1e-5, decay_per_step_final=0.9, recall_accuracy=0.9)
    holds = {c["id"]: c["holds"] for c in lab_support.check_claims(fake)}
    assert holds == {"init_far_gradient": False, "rnn_norm_does_not_vanish": False, "trained_decay_similar": False,
                     "lstm_learns_recall": False, "lstm_lower_perplexity": False}
    for r in fake["models"].values():  # as if on real text: the RNN now clearly ahead would break the claim
        del r["recall_accuracy"]
    fake["models"]["lstm"]["best_valid_ppl"] = 10.0
    holds = {c["id"]: c["holds"] for c in lab_support.check_claims(fake)}
    assert holds["no_lstm_perplexity_advantage"] is False and holds["weight_hh_norm_misleads"] is False
