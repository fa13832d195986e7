"""The correct bank is correct: each variant differs from the reference solution in style only, so
its values and gradients equal the reference's on random inputs (differential tests, as minGPT's
and tinygrad's). A variant that is really wrong cannot enter the bank, where the grader would
have to give it full marks."""

import math
import types

import pytest
import torch

from submission_bank import CORRECT, SOLUTION, apply_edits


def module_of(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - our own bank, not a submission
    return module


REFERENCE = module_of(SOLUTION, "reference_rnn_lm")
V, E, H, B, T = 11, 4, 6, 3, 7


def batch(seed: int, pad_id: int = 0, steps: int = T) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randint(2, V, (B, steps), generator=g), torch.randint(2, V, (B, steps), generator=g)
    y[torch.rand(B, steps, generator=g) < 0.3] = pad_id
    y[0, 0] = 3  # at least one non-pad target
    return x, y


def twin_models(variant, kind: str):
    """The reference's model and the variant's, with the same weights."""
    ref = getattr(REFERENCE, kind)(V, E, H)
    mine = getattr(variant, kind)(V, E, H)
    mine.load_state_dict(ref.state_dict())
    return ref, mine


def assert_close(a, b, what: str) -> None:
    assert torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                          rtol=1e-5, atol=1e-6), f"{what}: {a} != {b}"


@pytest.fixture(params=sorted(CORRECT), scope="module")
def variant(request):
    return module_of(apply_edits(CORRECT[request.param]), request.param)


def given_state(kind: str):
    g = torch.Generator().manual_seed(6)
    h = torch.randn(B, H, generator=g)
    return h if kind == "VanillaRNNLM" else (h.unsqueeze(0), torch.randn(1, B, H, generator=g))


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("kind", ["VanillaRNNLM", "LSTMLM"])
def test_models_forward_and_gradients(variant, kind, with_state):
    ref, mine = twin_models(variant, kind)
    x, _ = batch(1)
    R = torch.randn(B, T, V, generator=torch.Generator().manual_seed(2))
    outs = []
    for model in (ref, mine):
        logits, state = model(x, given_state(kind)) if with_state else model(x)
        (logits * R).sum().backward()
        outs.append((logits, state, {n: p.grad.clone() for n, p in model.named_parameters()}))
    assert_close(outs[0][0], outs[1][0], "logits")
    for a, b in zip(torch.utils._pytree.tree_leaves(outs[0][1]), torch.utils._pytree.tree_leaves(outs[1][1])):
        assert_close(a, b, "state")
    for name, grad in outs[0][2].items():
        assert_close(grad, outs[1][2][name], f"d/d {name}")


@pytest.mark.parametrize("ignore_index", [0, -100, V + 2])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_lm_loss_value_and_gradient(variant, ignore_index, reduction):
    _, y = batch(3, pad_id=ignore_index)
    base = torch.randn(B, T, V, generator=torch.Generator().manual_seed(4), dtype=torch.float32)
    results = []
    for module in (REFERENCE, variant):
        logits = base.clone().requires_grad_(True)
        loss = module.lm_loss(logits.transpose(0, 1).transpose(0, 1), y, ignore_index=ignore_index, reduction=reduction)
        loss.backward()
        results.append((loss.detach(), logits.grad))
    assert_close(results[0][0], results[1][0], "loss")
    assert_close(results[0][1], results[1][1], "d loss / d logits")


def test_evaluate_norm_and_gradient_through_time(variant):
    ref, _ = twin_models(variant, "LSTMLM")
    loader = [batch(5 + i, pad_id=0) for i in range(3)]
    expected = REFERENCE.evaluate(ref, loader, pad_id=0)
    got = variant.evaluate(ref, loader, pad_id=0)
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(expected, got)), (expected, got)
    x, y = batch(9, steps=15)  # beyond 10 steps back
    two_layers = torch.nn.LSTM(E, H, num_layers=2, batch_first=True)
    out, _ = two_layers(torch.randn(B, T, E, generator=torch.Generator().manual_seed(10)))
    out.pow(2).sum().backward()
    assert math.isclose(variant.l2_grad_norm_recurrent(two_layers), REFERENCE.l2_grad_norm_recurrent(two_layers),
                        rel_tol=1e-6)
    ref.zero_grad()
    assert_close(variant.gradient_through_time(ref, x, y), REFERENCE.gradient_through_time(ref, x, y), "g")
