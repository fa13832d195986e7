"""Task 4: ``evaluate``, called in the worker on fixture models whose logits the judge knows."""

from __future__ import annotations

import math

import numpy as np

from .. import secret
from ..references import gru_forward, nll, random_params
from ..registry import ATTESTED, check
from . import judged_loss

V = 12


def fixed_logits(x: np.ndarray) -> np.ndarray:
    """The logits of the fixture ``FixedLM`` on ``x``, in float64."""
    return fixed_table().astype(np.float64)[x] * 1.5


def fixed_table() -> np.ndarray:
    """The fixture ``FixedLM``'s table: its logits are ``1.5 * table[x]``."""
    return secret.rng("fixed table").standard_normal((V, V)).astype(np.float32)


def uneven_batches(pad_id=0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Batches of different sizes and very different pad counts (sizes drawn under the secret)."""
    out = []
    T = secret.integer(4, 9, "evaluate T")
    for i, pad_frac in enumerate((0.0, 0.8, 0.5, 0.1)):
        rng = secret.rng("evaluate batch", i)
        B = int(rng.integers(1, 6))
        x = rng.integers(1, V, (B, T)).astype(np.int64)
        y = rng.integers(1, V, (B, T)).astype(np.int64)
        y[rng.random((B, T)) < pad_frac] = pad_id
        y[0, 0] = 1 if pad_id != 1 else 3
        out.append((x, y))
    return out


def even_batches(pad_id=0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Batches of one size (a state carried from one batch into the next then fits, and shows)."""
    rng = secret.rng("evaluate even batches")
    B, T = int(rng.integers(2, 5)), secret.integer(4, 9, "evaluate even T")
    out = []
    for _ in range(3):
        x, y = rng.integers(1, V, (B, T)).astype(np.int64), rng.integers(1, V, (B, T)).astype(np.int64)
        y[rng.random((B, T)) < 0.3] = pad_id
        y[0, 0] = 1
        out.append((x, y))
    return out


def call_evaluate(worker, model: dict, model_arrays: dict, batches, logits_of, pad_id=0, training=True,
                  preset_grad=None, as_generator=False, same_objects=False, submodule_modes=None, frozen=(),
                  caller_grad=True) -> dict:
    """The submission's ``evaluate`` on a fixture model whose logits on ``x`` are ``logits_of(x)``, in
    ``training``'s mode but for the submodules named in ``submodule_modes`` (name -> training), with the
    parameters named in ``frozen`` frozen, called with autograd on or off (``caller_grad``)."""
    arrays = dict(model_arrays)
    for i, (x, y) in enumerate(batches):
        arrays[f"x{i}"], arrays[f"y{i}"] = x, y
    # The calls the check answers: with the pad id, and (a common mistake) with lm_loss's default 0,
    # unless the pads then fall outside the vocabulary, where any cross-entropy raises.
    ignores = sorted({pad_id, 0} if 0 <= pad_id < V else {pad_id})
    cases = [judged_loss.loss_case(logits_of(x), y, ignore) for x, y in batches for ignore in ignores]
    loss_header, loss_arrays = judged_loss.pack(cases)
    reply, _ = worker.request("evaluate", {**model, **loss_header, "batches": len(batches), "pad_id": pad_id,
                                           "training": training, "preset_grad": preset_grad,
                                           "as_generator": as_generator, "same_objects": same_objects,
                                           "submodule_modes": submodule_modes or {}, "frozen": list(frozen),
                                           "caller_grad": caller_grad},
                                 arrays | loss_arrays)
    assert reply.get("pair") is True, f"evaluate should return (mean_loss, perplexity), got {reply.get('result_type')}"
    assert reply.get("floats") is True, "return two Python floats (use .item())"
    values = reply.get("values")
    assert isinstance(values, list) and len(values) == 2 and all(isinstance(v, (int, float)) for v in values), \
        "evaluate should return two numbers"
    return reply


@check(4, "evaluate: token-weighted mean loss and exp perplexity over uneven batches")
def task4_token_weighted(worker):
    for pad_id in (0, 2, -100):  # -100: PyTorch's own ignore_index, outside the vocabulary
        batches = uneven_batches(pad_id=pad_id)
        sums = [nll(fixed_logits(x), y, pad_id) for x, y in batches]
        want = sum(s for s, _ in sums) / sum(c for _, c in sums)
        loss, ppl = call_evaluate(worker, {"model": "fixed"}, {"table": fixed_table()}, batches, fixed_logits,
                                  pad_id=pad_id)["values"]
        per_batch = float(np.mean([s / c for s, c in sums]))
        hint = " (that is the average of per-batch means: weight by tokens)" if math.isclose(loss, per_batch, rel_tol=1e-4) else ""
        assert math.isclose(loss, want, rel_tol=1e-4), (
            f"pad_id={pad_id}: mean loss {loss:.5f}, expected {want:.5f} = total loss over all non-pad targets / "
            f"their number{hint}")
        hint = " (base 2? perplexity uses the natural exponential)" if math.isclose(ppl, 2 ** want, rel_tol=1e-4) else ""
        assert math.isclose(ppl, math.exp(want), rel_tol=1e-4), \
            f"perplexity {ppl:.4f}, expected exp(mean loss) = {math.exp(want):.4f}{hint}"
    # one non-pad target in the whole data: its own loss (no special case for a count of 1)
    x, y = uneven_batches()[0]
    batches = [(x, np.where(np.arange(y.size).reshape(y.shape) == 0, y, 0))]
    total, count = nll(fixed_logits(x), batches[0][1], 0)
    loss, _ = call_evaluate(worker, {"model": "fixed"}, {"table": fixed_table()}, batches, fixed_logits)["values"]
    assert count == 1 and math.isclose(loss, total, rel_tol=1e-4), \
        f"with one non-pad target in all the batches: mean loss {loss:.5f}, expected its own loss {total:.5f}"


# A caller's mixed modes, the hard case of "as it found them": a model that trains with its frozen
# embedding kept in eval mode, called with autograd on, and a model in eval mode with its GRU in train
# mode, called inside torch.no_grad(). model.train(was_training) gives every submodule the model's mode.
MIXED = ({"training": True, "submodule_modes": {"emb": False}, "frozen": ("emb.weight",), "caller_grad": True},
         {"training": False, "submodule_modes": {"gru": True}, "frozen": (), "caller_grad": False})


def assert_called_in_eval_mode_without_gradients(reply: dict) -> None:
    calls = reply.get("calls")
    assert isinstance(calls, list) and calls, "evaluate never called the model"
    assert not any(isinstance(c, dict) and c.get("grad") for c in calls), \
        "the model ran with gradients enabled: use torch.no_grad()"
    assert not any(isinstance(c, dict) and c.get("training") for c in calls), (
        "the model, or one of its submodules, ran in train mode: call model.eval() before the batches (it puts "
        "every submodule in eval mode; dropout would stay on otherwise), then restore the modes they had")


def assert_autograd_as_the_caller_had_it(reply: dict, caller_grad: bool) -> None:
    where = "with gradients on" if caller_grad else "inside torch.no_grad()"
    assert reply.get("grad_enabled_after") is caller_grad, (
        f"called {where}, evaluate left gradient tracking {'off' if caller_grad else 'on'}: use `with "
        "torch.no_grad():` around the batches rather than switching it globally (torch.set_grad_enabled)")


@check(4, "evaluate: no autograd graph; parameters, gradients, autograd and every submodule's mode as found, "
          "mixed modes and frozen parameters included (as your process reports them)", gated=ATTESTED)
def task4_no_side_effects(worker):
    for training in (True, False):
        reply = call_evaluate(worker, {"model": "fixed"}, {"table": fixed_table()}, uneven_batches(),
                              fixed_logits, training=training, preset_grad=0.25)
        assert_called_in_eval_mode_without_gradients(reply)
        assert reply.get("params_unchanged") is True, "evaluate changed the parameters"
        assert reply.get("grads_unchanged") is True, "evaluate changed the parameters' .grad"
        assert reply.get("training_after") is training, \
            f"evaluate should leave the model in {'train' if training else 'eval'} mode as it found it"
        assert_autograd_as_the_caller_had_it(reply, True)
    params = random_params("gru", V, 4, 5, seed=0)
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    for case in MIXED:
        reply = call_evaluate(worker, {"model": "gru", "V": V, "E": 4, "H": 5}, params, uneven_batches(),
                              lambda x: gru_forward(p64, x, None)[0], **case)
        assert_called_in_eval_mode_without_gradients(reply)
        assert_autograd_as_the_caller_had_it(reply, case["caller_grad"])
        before = {"": case["training"], "emb": case["training"], "gru": case["training"], "fc": case["training"],
                  **case["submodule_modes"]}
        after = reply.get("modes_after") if isinstance(reply.get("modes_after"), dict) else {}
        if after != before:
            changed = ", ".join(f"{name or 'the model'} {'train' if mode else 'eval'} -> "
                                f"{'train' if after.get(name) else 'eval'}"
                                for name, mode in before.items() if after.get(name) is not mode)
            raise AssertionError(
                f"evaluate changed train/eval modes ({changed}): leave the model's and every submodule's as it "
                "found them. Note each module's own mode first, [(m, m.training) for m in model.modules()], and set "
                "each back at the end (model.train(was_training) would give every submodule the model's mode)")
        assert reply.get("frozen_after") == sorted(case["frozen"]), (
            f"parameters frozen before evaluate: {sorted(case['frozen'])}, after: {reply.get('frozen_after')}: "
            "leave requires_grad as it was (torch.no_grad() needs no change to it)")


@check(4, "evaluate: any iterable of batches; a real model")
def task4_generator_and_model(worker):
    params = random_params("gru", V, 4, 5, seed=0)
    batches = uneven_batches()
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    logits_of = lambda x: gru_forward(p64, x, None)[0]  # noqa: E731
    sums = [nll(logits_of(x), y, 0) for x, y in batches]
    want = sum(s for s, _ in sums) / sum(c for _, c in sums)
    loss, _ = call_evaluate(worker, {"model": "gru", "V": V, "E": 4, "H": 5}, params, batches, logits_of,
                            as_generator=True)["values"]
    assert math.isclose(loss, want, rel_tol=1e-4), f"with a generator of batches: mean loss {loss:.5f}, expected {want:.5f}"


@check(4, "evaluate: each call on its own (two models in a row, one loader of equal-size batches)")
def task4_each_call_on_its_own(worker):
    """Nothing kept from one call or one batch for the next: no cache keyed by the model or the
    loader (the lab evaluates the same model object after every epoch), no recurrent state carried
    from one batch into the next (the batches here are of one size)."""
    batches = even_batches()
    for seed in (21, 22):
        params = random_params("gru", V, 4, 5, seed=seed)
        p64 = {k: v.astype(np.float64) for k, v in params.items()}
        logits_of = lambda x, p64=p64: gru_forward(p64, x, None)[0]  # noqa: E731 - each batch from a fresh state
        sums = [nll(logits_of(x), y, 0) for x, y in batches]
        want = sum(s for s, _ in sums) / sum(c for _, c in sums)
        loss, _ = call_evaluate(worker, {"model": "gru", "V": V, "E": 4, "H": 5}, params, batches, logits_of,
                                same_objects=True)["values"]
        assert math.isclose(loss, want, rel_tol=1e-4), (
            f"{'second' if seed == 22 else 'first'} of two calls (the same model object with other weights, as after "
            f"an epoch of training, the same loader object, batches of equal size): mean loss {loss:.5f}, expected {want:.5f}. Each batch starts from a fresh state (call "
            "model(x), do not pass the last batch's state on), and nothing is kept from one call for the next")
