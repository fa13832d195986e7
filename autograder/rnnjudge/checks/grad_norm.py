"""Task 5: ``l2_grad_norm_recurrent``, called in the worker on a module whose gradients the judge set."""

from __future__ import annotations

import math

import numpy as np

from .. import secret
from ..registry import ATTESTED, GUESSABLE, check

# The fixture ``ManyRecurrent`` of the worker: parameter name -> shape.
MANY_RECURRENT = {
    "lstm.weight_ih_l0": (16, 3), "lstm.weight_hh_l0": (16, 4), "lstm.bias_ih_l0": (16,), "lstm.bias_hh_l0": (16,),
    "lstm.weight_ih_l1": (16, 4), "lstm.weight_hh_l1": (16, 4), "lstm.bias_ih_l1": (16,), "lstm.bias_hh_l1": (16,),
    "cell.weight_ih": (5, 3), "cell.weight_hh": (5, 5), "cell.bias_ih": (5,), "cell.bias_hh": (5,),
    "head.weight": (2, 4), "head.bias": (2,),
}
LINEAR = {"weight": (2, 2), "bias": (2,)}


def random_arrays(shapes: dict, seed: int) -> dict:
    rng = secret.rng("arrays", seed)
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}


def call_norm(worker, model: str, params: dict, grads: dict, same_objects: bool = False, tied: bool = False) -> dict:
    """The submission's norm on the worker's ``model`` with these parameters and gradients; ``tied``: its RNN cell
    registered twice, so that the cell's parameters have two names."""
    arrays = {f"param:{n}": v for n, v in params.items()} | {f"grad:{n}": v for n, v in grads.items()}
    reply, _ = worker.request("grad_norm", {"model": model, "same_objects": same_objects, "tied": tied}, arrays)
    assert reply.get("is_float") is True, f"return a Python float, got {reply.get('type')}"
    assert isinstance(reply.get("value"), (int, float)), "return a Python float"
    return reply


@check(5, "l2_grad_norm_recurrent: sqrt of summed squares over weight_hh* gradients only")
def task5_reference(worker):
    params = random_arrays(MANY_RECURRENT, seed=100)
    got = call_norm(worker, "many_recurrent", params, {})["value"]
    assert got == 0.0, f"with no gradients at all the result should be 0.0, got {got}"
    for seed, skip in ((0, ()), (1, ("lstm.weight_hh_l1",))):
        grads = {n: g for n, g in random_arrays(MANY_RECURRENT, seed).items() if n not in skip}
        squares = [float((g.astype(np.float64) ** 2).sum()) for n, g in grads.items() if "weight_hh" in n]
        want = math.sqrt(sum(squares))
        got = call_norm(worker, "many_recurrent", params, grads)["value"]
        hint = ""
        if math.isclose(got, sum(math.sqrt(s) for s in squares), rel_tol=1e-5):
            hint = " (that is the sum of the per-parameter norms: take one norm over all entries)"
        elif math.isclose(got, math.sqrt(sum(float((p.astype(np.float64) ** 2).sum()) for n, p in params.items()
                                             if "weight_hh" in n)), rel_tol=1e-5):
            hint = " (that is the norm of the weights: use their .grad)"
        assert math.isclose(got, want, rel_tol=1e-5), (
            f"got {got:.6f}, expected {want:.6f} over the {len(squares)} weight_hh parameters with a gradient{hint}")
    # A shared parameter, the hard case of "counts once": the RNN cell registered under a second name.
    grads = random_arrays(MANY_RECURRENT, seed=8)
    want = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for n, g in grads.items() if "weight_hh" in n))
    got = call_norm(worker, "many_recurrent", params, grads, tied=True)["value"]
    assert math.isclose(got, want, rel_tol=1e-5), (
        f"with the RNN cell registered twice (model.cell and model.cell_again, one module): got {got:.6f}, expected "
        f"{want:.6f}: a parameter shared under two names counts once (model.named_parameters() lists it once)")


@check(5, "l2_grad_norm_recurrent: each call on its own (the same model, other gradients)")
def task5_each_call_on_its_own(worker):
    """Nothing kept from one call for the next: training calls it on the same model after every step."""
    params = random_arrays(MANY_RECURRENT, seed=100)
    for which, seed in (("first", 6), ("second", 7)):
        grads = random_arrays(MANY_RECURRENT, seed)
        want = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for n, g in grads.items() if "weight_hh" in n))
        got = call_norm(worker, "many_recurrent", params, grads, same_objects=True)["value"]
        assert math.isclose(got, want, rel_tol=1e-5), (
            f"the {which} of two calls on the same model object with other gradients (as after each training "
            f"step): got {got:.6f}, expected {want:.6f}: compute each call afresh")


@check(5, "l2_grad_norm_recurrent: 0.0 when no recurrent weight has a gradient, or the model has none",
       gated=GUESSABLE)
def task5_edge_cases(worker):
    grads = {n: g for n, g in random_arrays(MANY_RECURRENT, seed=2).items() if "weight_hh" not in n}
    got = call_norm(worker, "many_recurrent", random_arrays(MANY_RECURRENT, seed=100), grads)["value"]
    assert got == 0.0, f"only non-recurrent parameters have gradients, so the result should be 0.0, got {got}"
    got = call_norm(worker, "linear", random_arrays(LINEAR, seed=3), random_arrays(LINEAR, seed=4))["value"]
    assert got == 0.0, f"a model without weight_hh parameters has norm 0.0, got {got}"


@check(5, "l2_grad_norm_recurrent: gradients left as they are (as your process reports them)", gated=ATTESTED)
def task5_grads_untouched(worker):
    params, grads = random_arrays(MANY_RECURRENT, seed=100), random_arrays(MANY_RECURRENT, seed=5)
    assert call_norm(worker, "many_recurrent", params, grads).get("grads_unchanged") is True, \
        "l2_grad_norm_recurrent must not change any gradient"
