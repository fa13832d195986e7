"""The worker: the only process that runs submission code. It starts inside the sandbox.

    python worker.py SUBMISSION.py        (requests on stdin, replies on the original stdout)

It gives up the network for good (``no_network``), loads the submission as the module ``rnn_lm``
once, answers ``hello``, and then, for each check, forks a child that answers the judge's requests
("build VanillaRNNLM(13, 5, 7) under seed 0 and report its parameters", "run lm_loss on these
arrays", ...) until the judge ends the check. A check therefore starts from the state the
submission had after loading, whatever an earlier check did to its process. After each child the parent reports how it ended.

Nothing here is trusted by the judge: the submission shares this process and can change any of
it. Replies are plain data that the judge checks against its own references. Whatever the
submission prints goes to stderr, which the judge keeps in a log for the TA only.
"""

from __future__ import annotations

import os
import sys
import traceback

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -I leaves the script's folder out
from no_network import NetworkNotGivenUp, give_up_the_network  # noqa: E402
from protocol import ProtocolError, logit_key, opens, read_message, unseal, write_message  # noqa: E402

REQUESTS = 0
MESSAGE_CAP = 1500  # characters of an exception's text that are sent back


# ----------------------------------------------------------------------------
# Fixture models: hosts for the submission's functions (Tasks 3-6), weights sent by the judge
# ----------------------------------------------------------------------------

def record_call(model: nn.Module) -> None:
    """Note, for the judge, how the submission called the model: with gradients or not, and
    whether any of its modules (the model or a submodule) was in train mode."""
    model.calls.append({"grad": torch.is_grad_enabled(), "training": any(m.training for m in model.modules())})


class FixtureGRU(nn.Module):
    """A GRU language model: a host for Tasks 4 and 6 that is neither Task 1's nor Task 2's answer;
    records how it was called."""

    def __init__(self, V, E, H, pad_idx=0):
        super().__init__()
        self.emb = nn.Embedding(V, E, padding_idx=pad_idx)
        self.gru = nn.GRU(E, H, batch_first=True)
        self.fc = nn.Linear(H, V)
        self.calls = []

    def forward(self, x, state=None):
        record_call(self)
        out, state = self.gru(self.emb(x), state)
        return self.fc(out), state


class FixedLM(nn.Module):
    """Logits = a table lookup; records, for the judge, how ``evaluate`` called it."""

    def __init__(self, table):
        super().__init__()
        self.table = nn.Parameter(table)
        self.calls = []

    def forward(self, x, state=None):
        record_call(self)
        return self.table[x] * 1.5, None


class ManyRecurrent(nn.Module):
    """Several recurrent weights (two LSTM layers, an RNN cell) and non-recurrent ones; ``tied``
    registers the RNN cell a second time, as ``cell_again``, so its parameters have two names."""

    def __init__(self, tied: bool = False):
        super().__init__()
        self.lstm = nn.LSTM(3, 4, num_layers=2)
        self.cell = nn.RNNCell(3, 5)
        self.head = nn.Linear(4, 2)
        if tied:
            self.cell_again = self.cell


FIXTURES = {"gru": FixtureGRU}

# The canonical parameter names the judge uses, by model kind: name -> attribute path.
PARAMETER_PATHS = {
    "rnn": {"emb": "emb.weight", "W_ih": "rnn_cell.weight_ih", "W_hh": "rnn_cell.weight_hh",
            "b_ih": "rnn_cell.bias_ih", "b_hh": "rnn_cell.bias_hh", "W_fc": "fc.weight", "b_fc": "fc.bias"},
    "lstm": {"emb": "emb.weight", "W_ih": "lstm.weight_ih_l0", "W_hh": "lstm.weight_hh_l0",
             "b_ih": "lstm.bias_ih_l0", "b_hh": "lstm.bias_hh_l0", "W_fc": "fc.weight", "b_fc": "fc.bias"},
    "gru": {"emb": "emb.weight", "W_ih": "gru.weight_ih_l0", "W_hh": "gru.weight_hh_l0",
            "b_ih": "gru.bias_ih_l0", "b_hh": "gru.bias_hh_l0", "W_fc": "fc.weight", "b_fc": "fc.bias"},
}
SUBMISSION_CLASSES = {"VanillaRNNLM": "rnn", "LSTMLM": "lstm"}


def attribute(obj, path: str):
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def load_parameters(model: nn.Module, kind: str, arrays: dict) -> nn.Module:
    with torch.no_grad():
        for name, path in PARAMETER_PATHS[kind].items():
            attribute(model, path).copy_(torch.from_numpy(arrays[name]))
    return model


def fixture(header: dict, arrays: dict) -> nn.Module:
    kind = header["model"]
    model = FIXTURES[kind](header["V"], header["E"], header["H"])
    return load_parameters(model, kind, arrays)


# ----------------------------------------------------------------------------
# Converting what the submission returned into plain data
# ----------------------------------------------------------------------------

def as_array(value, what: str) -> np.ndarray:
    """A tensor's values as a float32/float64 array; anything else is an error the student reads."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{what} should be a torch.Tensor, got {type(value).__name__}")
    value = value.detach().cpu()
    if not value.is_floating_point():
        raise TypeError(f"{what} should be a floating-point tensor, got {value.dtype}")
    return value.to(torch.float64 if value.dtype == torch.float64 else torch.float32).numpy()


def describe_value(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def state_arrays(kind: str, state) -> dict:
    if kind == "rnn":
        return {"h": as_array(state, "the returned h_T")}
    if not (isinstance(state, tuple) and len(state) == 2):
        raise TypeError(f"the LSTM should return (logits, (h_n, c_n)); the state is {describe_value(state)}")
    return {"h": as_array(state[0], "h_n"), "c": as_array(state[1], "c_n")}


def given_state(kind: str, arrays: dict):
    if "h0" not in arrays:
        return None
    if kind == "rnn":
        return torch.from_numpy(arrays["h0"])
    return torch.from_numpy(arrays["h0"]), torch.from_numpy(arrays["c0"])


# ----------------------------------------------------------------------------
# Operations: one per kind of request
# ----------------------------------------------------------------------------

def submission(name: str):
    value = getattr(sys.modules["rnn_lm"], name, None)
    if value is None:
        raise LookupError(f"`{name}` is not defined in rnn_lm.py (keep the names and signatures of the skeleton)")
    return value


def describe_module(module) -> dict:
    """What the judge's structure check reads (reported by this process, so only attested)."""
    if not isinstance(module, nn.Module):
        return {"type": type(module).__name__}
    info = {"type": f"{type(module).__module__}.{type(module).__name__}"}
    for key in ("num_embeddings", "embedding_dim", "padding_idx", "input_size", "hidden_size", "nonlinearity",
                "batch_first", "num_layers", "bidirectional", "in_features", "out_features"):
        value = getattr(module, key, None)
        if isinstance(value, (bool, int, str)):
            info[key] = value
    return info


def op_build(header, arrays, objects):
    kind = SUBMISSION_CLASSES[header["cls"]]
    cls = submission(header["cls"])
    torch.manual_seed(header["seed"])
    model = cls(header["V"], header["E"], header["H"], pad_idx=header["pad_idx"])
    objects["model"], objects["kind"] = model, kind
    if arrays:  # the judge's weights: what the model computes is then known to the judge
        try:
            load_parameters(model, kind, arrays)
        except AttributeError as err:
            raise AttributeError(f"the model has no `{err.name}`: keep the attribute names of the skeleton") from None
    params = {}
    for name, path in PARAMETER_PATHS[kind].items():
        try:
            params[name] = as_array(attribute(model, path), path)
        except AttributeError:
            raise AttributeError(f"the model has no `{path}`: keep the attribute names of the skeleton") from None
    hidden_dim = getattr(model, "hidden_dim", None)
    structure = {attr: describe_module(getattr(model, attr, None)) for attr in ("emb", "rnn_cell", "lstm", "fc")}
    structure["hidden_dim"] = hidden_dim if type(hidden_dim) is int else None
    return {"structure": structure}, params


def op_forward(header, arrays, objects):
    model, kind = objects["model"], objects["kind"]
    x, state = torch.from_numpy(arrays["x"]), given_state(kind, arrays)
    with torch.set_grad_enabled(not header.get("no_grad", True)):
        out = model(x) if state is None else model(x, state)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"forward should return (logits, state), got {describe_value(out)}")
    logits, new_state = out
    dtype = str(logits.dtype).replace("torch.", "") if isinstance(logits, torch.Tensor) else None
    return {"logits_dtype": dtype}, {"logits": as_array(logits, "logits"), **state_arrays(kind, new_state)}


def op_forward_on_meta(header, arrays, objects):
    """The model and its inputs on PyTorch's ``meta`` device (shapes, no data): code that makes a
    tensor on the CPU for itself (``torch.zeros(B, H)`` with no device) fails here as on a GPU."""
    model, kind = objects["model"].to("meta"), objects["kind"]
    state = given_state(kind, arrays)
    if state is not None:
        state = state.to("meta") if kind == "rnn" else tuple(s.to("meta") for s in state)
    x = torch.from_numpy(arrays["x"]).to("meta")
    with torch.no_grad():
        logits, new_state = model(x) if state is None else model(x, state)
    states = [new_state] if kind == "rnn" else list(new_state)
    return {"devices": [t.device.type for t in (logits, *states)], "shapes": [list(t.shape) for t in (logits, *states)]}, {}


def op_forward_backward(header, arrays, objects):
    """Gradients of sum(logits * R) + sum(h_T * S) with respect to the model's parameters."""
    model, kind = objects["model"], objects["kind"]
    model.zero_grad()
    logits, state = model(torch.from_numpy(arrays["x"]), given_state(kind, arrays))
    h_last = state if kind == "rnn" else state[0][0]
    ((logits * torch.from_numpy(arrays["R"])).sum() + (h_last * torch.from_numpy(arrays["S"])).sum()).backward()
    grads = {}
    for name, path in PARAMETER_PATHS[kind].items():
        grad = attribute(model, path).grad
        if grad is not None:
            grads[name] = as_array(grad, f"the gradient of {path}")
    return {}, grads


def op_lm_loss(header, arrays, objects):
    """``lm_loss`` on the judge's logits; ``layout`` "time_major" sends them (T, B, V) and passes their
    transpose (non-contiguous, as a model that runs time-major returns them); ``dtype`` "bfloat16"
    passes them in bfloat16; ``device`` "meta" passes them on the meta device (the reply then has no
    value)."""
    logits = torch.from_numpy(arrays["logits"]).requires_grad_(header["grad"])
    targets = torch.from_numpy(arrays["targets"])
    if header.get("same_objects"):  # the first call's tensor objects, holding this call's values
        logits, targets = same_objects(objects, "tensors", (logits, targets))
    passed = logits
    if header.get("layout") == "time_major":
        passed, targets = logits.transpose(0, 1), targets.t()
    if header.get("dtype") == "bfloat16":  # as under the lab's bfloat16 autocast
        passed = passed.to(torch.bfloat16)
    keep_alive(objects, logits, passed, targets)
    if header.get("device") == "meta":
        value = submission("lm_loss")(passed.detach().to("meta"), targets.to("meta"), **header["kwargs"])
        return {"is_scalar_tensor": isinstance(value, torch.Tensor) and value.dim() == 0,
                "device": value.device.type if isinstance(value, torch.Tensor) else None}, {}
    value = submission("lm_loss")(passed, targets, **header["kwargs"])
    reply = {"is_scalar_tensor": isinstance(value, torch.Tensor) and value.dim() == 0, "type": describe_value(value),
             "dtype": str(value.dtype).removeprefix("torch.") if isinstance(value, torch.Tensor) else None}
    out = {"value": np.asarray(float(value.detach() if isinstance(value, torch.Tensor) else value), dtype=np.float64)}
    if header["grad"]:
        value.backward()
        reply["has_grad"] = logits.grad is not None
        if logits.grad is not None:
            out["grad"] = as_array(logits.grad, "d loss / d logits")
    return reply, out


def values_of(t: torch.Tensor) -> np.ndarray:
    """The numbers of ``t`` as float64, also inside a ``torch.func`` transform (``grad``, ``vjp``), whose
    tensors wrap the real one and have no storage of their own."""
    while torch._C._functorch.is_functorch_wrapped_tensor(t):
        t = torch._C._functorch.get_unwrapped(t)
    with torch._C._DisableFuncTorch():
        return t.detach().double().numpy().copy()


def install_judged_loss(header: dict, arrays: dict) -> None:
    """Tasks 4 and 6 run with the judge's ``lm_loss`` (in this child only), so a Task 3 bug costs
    Task 3 only. It computes no loss: for each call the check expects it holds the targets and the
    loss sealed with a key that only the model's own logits there make; it answers those calls
    alone (NaN for other logits, an error for other targets)."""
    cases = []
    for i, case in enumerate(header["loss_cases"]):
        case = dict(case, targets=torch.from_numpy(arrays[f"case{i}_targets"]), usable=arrays[f"case{i}_usable"],
                    salt=bytes.fromhex(case["salt"]))
        if f"case{i}_grad" in arrays:
            case["grad"] = torch.from_numpy(arrays[f"case{i}_grad"])
        cases.append(case)

    def lm_loss(logits, targets, ignore_index=0, reduction="mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        flat = logits.reshape(-1, logits.size(-1))
        expected = [case for case in cases if case["ignore_index"] == ignore_index
                    and targets.numel() == case["targets"].numel() and torch.equal(targets.reshape(-1), case["targets"])]
        if not expected:
            raise ValueError(f"lm_loss was called on targets (ignore_index={ignore_index}) that the check did not expect")
        for case in expected:  # batches may share their targets (all padding, say), never their logits
            key = logit_key(values_of(flat), case["usable"], case["salt"]) \
                if tuple(flat.shape) == case["usable"].shape else b""
            if not opens(key, case["id"]):
                continue
            value = unseal(case[reduction], key, reduction)
            if "grad" not in case:
                return torch.tensor(value, dtype=torch.float64)
            scale = float((targets != ignore_index).sum()) if reduction == "sum" else 1.0
            linear = (flat.double() * case["grad"]).sum() * scale
            return linear - linear.detach() + value  # the loss's value, with its gradient
        return flat.sum() * float("nan")  # not the model's logits
    sys.modules["rnn_lm"].lm_loss = lm_loss


def same_objects(objects: dict, key: str, tensors: tuple) -> tuple:
    """The tensors this check's first call was given, now holding ``tensors``' values (as a training
    loop reuses its buffers): code that caches by an argument's identity then sees a stale hit."""
    kept = objects.setdefault(key, tensors)
    if kept is not tensors:
        with torch.no_grad():
            for old, new in zip(kept, tensors):
                old.copy_(new)
    return kept


def keep_alive(objects: dict, *values) -> None:
    """Hold what this check passed to the submission until the check ends: no later object of the
    check then has the id of an earlier one, so code that keys something by ``id()`` behaves the
    same on every run."""
    objects.setdefault("kept", []).extend(values)


def set_modes(model: nn.Module, training: bool, submodule_modes: dict[str, bool]) -> None:
    """The model in ``training``'s mode, then each submodule named in ``submodule_modes`` in its own (a
    caller's mixed modes: a frozen embedding kept in eval mode in a model that trains)."""
    model.train(training)
    for name, mode in submodule_modes.items():
        model.get_submodule(name).training = mode


def modes_of(model: nn.Module) -> dict[str, bool]:
    """Each module's own train/eval flag, by name ("" is the model itself)."""
    return {name: module.training for name, module in model.named_modules()}


def op_evaluate(header, arrays, objects):
    install_judged_loss(header, arrays)
    if header["model"] == "fixed":
        model = FixedLM(torch.from_numpy(arrays["table"]))
    else:
        model = fixture(header, arrays)
    set_modes(model, header["training"], header.get("submodule_modes", {}))
    for name in header.get("frozen", []):  # parameters the caller froze
        model.get_parameter(name).requires_grad_(False)
    if header["preset_grad"] is not None:
        for p in model.parameters():
            p.grad = torch.full_like(p, header["preset_grad"])
    before = [p.detach().clone() for p in model.parameters()]
    batches = [(torch.from_numpy(arrays[f"x{i}"]), torch.from_numpy(arrays[f"y{i}"])) for i in range(header["batches"])]
    if header.get("same_objects"):  # one model and one loader object for every call of this check
        model = load_parameters(objects.setdefault("model", model), header["model"], arrays)
        batches = objects.setdefault("loader", batches)
    data = (b for b in batches) if header["as_generator"] else batches
    keep_alive(objects, model, batches, data)
    with torch.set_grad_enabled(header.get("caller_grad", True)):  # the caller's own autograd setting
        result = submission("evaluate")(model, data, pad_id=header["pad_id"])
        grad_enabled_after = torch.is_grad_enabled()
    ok_shape = isinstance(result, tuple) and len(result) == 2
    reply = {"result_type": describe_value(result), "pair": ok_shape,
             "floats": ok_shape and all(type(v) is float for v in result),
             "values": [float(v) for v in result] if ok_shape else None,
             "calls": getattr(model, "calls", None), "training_after": model.training,
             "modes_after": modes_of(model), "grad_enabled_after": grad_enabled_after,
             "frozen_after": sorted(name for name, p in model.named_parameters() if not p.requires_grad),
             "params_unchanged": all(torch.equal(a, p.detach()) for a, p in zip(before, model.parameters())),
             "grads_unchanged": header["preset_grad"] is None or all(
                 p.grad is not None and bool((p.grad == header["preset_grad"]).all()) for p in model.parameters())}
    return reply, {}


def op_grad_norm(header, arrays, objects):
    model = ManyRecurrent(tied=header.get("tied", False)) if header["model"] == "many_recurrent" else nn.Linear(2, 2)
    if header.get("same_objects"):  # one model object for every call of this check, with this call's gradients
        model = objects.setdefault("model", model)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(arrays[f"param:{name}"]))
            p.grad = torch.from_numpy(arrays[f"grad:{name}"]).clone() if f"grad:{name}" in arrays else None
    before = {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}
    keep_alive(objects, model)
    value = submission("l2_grad_norm_recurrent")(model)
    unchanged = all((before[n] is None) == (p.grad is None) and (p.grad is None or torch.equal(before[n], p.grad))
                    for n, p in model.named_parameters())
    return {"is_float": type(value) is float, "type": describe_value(value), "value": float(value),
            "grads_unchanged": unchanged}, {}


class FixtureFailure(RuntimeError):
    """Raised on purpose by a fixture model, to see what the submission leaves behind when it fails."""


def hooks_on(model: nn.Module) -> int:
    """Hooks registered on the model's modules (forward, pre-forward, backward)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(getattr(m, "_backward_pre_hooks", {})) for m in model.modules())


def op_gradient_through_time(header, arrays, objects):
    """The submission's function ``repeat`` times on the fixture; ``device`` "meta" runs it there, with a
    stand-in loss that carries no value (the reply then has only shapes and devices)."""
    on_meta = header.get("device") == "meta"
    if on_meta:
        sys.modules["rnn_lm"].lm_loss = lambda logits, targets, ignore_index=0, reduction="mean": (logits * 0).sum()
    else:
        install_judged_loss(header, arrays)
    model = fixture(header, arrays)
    set_modes(model, True, header.get("submodule_modes", {}))
    x, y = torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["y"])
    if header.get("same_objects"):  # one model (this call's weights) and the same x, y for every call of this check
        model = load_parameters(objects.setdefault("model", model), header["model"], arrays)
        x, y = objects.setdefault("inputs", (x, y))
    keep_alive(objects, model, x, y)
    if on_meta:
        model, x, y = model.to("meta"), x.to("meta"), y.to("meta")
    kwargs = {} if header["pad_id"] is None else {"pad_id": header["pad_id"]}
    preset = header.get("preset_grad")
    if preset is not None:  # gradients that were there before the call
        for p in model.parameters():
            p.grad = torch.full_like(p, preset)
    if header.get("raise_in_forward"):  # the embedding runs (its hooks fire), then the forward pass fails
        def failing_forward(inputs, *args, **kwargs):
            model.emb(inputs)
            raise FixtureFailure("the forward pass failed (the grader's model fails here on purpose)")
        model.forward = failing_forward
        try:
            submission("gradient_through_time")(model, x, y, **kwargs)
        except FixtureFailure:
            return {"raised": True, "hooks_after_each_call": [hooks_on(model)], "modes_after": modes_of(model)}, {}
        return {"raised": False, "hooks_after_each_call": [hooks_on(model)], "modes_after": modes_of(model)}, {}
    hooks = []
    for _ in range(header.get("repeat", 1)):
        g = submission("gradient_through_time")(model, x, y, **kwargs)
        hooks.append(hooks_on(model))
    reply = {"type": describe_value(g), "param_grads_none": all(p.grad is None for p in model.parameters()),
             "grads_unchanged": preset is None or all(p.grad is not None and bool((p.grad == preset).all())
                                                      for p in model.parameters()),
             "hooks_after_each_call": hooks, "modes_after": modes_of(model)}
    if on_meta:
        return reply | {"device": g.device.type if isinstance(g, torch.Tensor) else None,
                        "shape": list(g.shape) if isinstance(g, torch.Tensor) else None}, {}
    return reply, {"g": as_array(g, "the returned norms")}


OPS = {"build": op_build, "forward": op_forward, "forward_on_meta": op_forward_on_meta,
       "forward_backward": op_forward_backward,
       "lm_loss": op_lm_loss, "evaluate": op_evaluate, "grad_norm": op_grad_norm,
       "gradient_through_time": op_gradient_through_time}


# ----------------------------------------------------------------------------
# Loading the submission, serving checks
# ----------------------------------------------------------------------------

def capped(text: str) -> str:
    return text if len(text) <= MESSAGE_CAP else text[:MESSAGE_CAP] + " [...]"


def describe_error(err: BaseException, filename: str) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    line = next((f" (rnn_lm.py line {fr.lineno})" for fr in reversed(frames) if fr.filename == filename), "")
    return capped(f"{type(err).__name__}: {err}{line}")


def load_submission(path: str) -> str | None:
    """Execute the submission as module ``rnn_lm``; return what went wrong, or None."""
    import types

    module = types.ModuleType("rnn_lm")
    module.__file__ = path
    sys.modules["rnn_lm"] = module
    with open(path, encoding="utf-8", errors="replace") as f:
        source = f.read()
    try:
        code = compile(source, path, "exec")
    except SyntaxError as err:
        return f"syntax error: line {err.lineno}: {capped(str(err.msg))}"
    try:
        exec(code, module.__dict__)
    except SystemExit as err:
        return f"called sys.exit({capped(repr(err.code))}) while loading"
    except BaseException as err:  # noqa: BLE001 - a broken submission is graded, not fatal
        return f"crashed while loading: {describe_error(err, path)}"
    return None


def serve_check(reply_fd: int, path: str) -> None:
    """In the forked child: answer requests until the judge ends the check."""
    torch.manual_seed(0)
    np.random.seed(0)
    objects: dict = {}
    write_message(reply_fd, {"ok": True})
    while True:
        header, arrays = read_message(REQUESTS)
        if header.get("op") == "end":
            write_message(reply_fd, {"ok": True})
            return
        try:
            reply, out = OPS[header["op"]](header, arrays, objects)
            write_message(reply_fd, {"ok": True, **reply}, out)
        except NotImplementedError as err:
            write_message(reply_fd, {"ok": False, "not_implemented": capped(str(err))})
        except BaseException as err:  # noqa: BLE001 - SystemExit and KeyboardInterrupt too: all are answers
            write_message(reply_fd, {"ok": False, "error": describe_error(err, path)})


def exit_description(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.WEXITSTATUS(status)}"


def warm_up_meta_device() -> None:
    """PyTorch loads its meta-device kernels on first use (about 1.2 s): once here, not in every
    check's forked child."""
    x = torch.zeros(2, 3, dtype=torch.long, device="meta")
    emb = nn.Embedding(5, 4).to("meta")
    e = emb(x).requires_grad_(True)
    out, _ = nn.GRU(4, 4, batch_first=True).to("meta")(e)
    loss = nn.functional.cross_entropy(out.reshape(-1, 4), x.reshape(-1), ignore_index=-100)
    torch.autograd.grad(loss, e)


def main() -> None:
    path = sys.argv[1]
    try:  # for good, for this process and every one it starts, before the submission can run
        give_up_the_network()
        network_kept = None
    except NetworkNotGivenUp as err:
        network_kept = f"not graded: the grader could not cut its network here ({err})"
    torch.set_num_threads(1)  # small tensors; and a forked child must not inherit a thread pool
    warm_up_meta_device()
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # the submission's printing goes to stderr: the TA's log
    sys.stdout = sys.stderr
    if network_kept:  # the submission is never loaded where it could reach the network
        write_message(reply_fd, {"hello": True, "load_error": network_kept})
        os._exit(0)
    load_error = load_submission(path)
    write_message(reply_fd, {"hello": True, "load_error": load_error})
    while True:
        try:
            header, _ = read_message(REQUESTS)
        except ProtocolError:
            os._exit(0)  # the judge is gone or done
        if header.get("op") != "begin":
            continue
        child = os.fork()
        if child == 0:
            try:
                serve_check(reply_fd, path)
            finally:
                os._exit(0)  # no atexit handlers, no teardown
        _, status = os.waitpid(child, 0)
        write_message(reply_fd, {"child_exit": exit_description(status)})


if __name__ == "__main__":
    main()
