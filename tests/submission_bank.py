"""Submissions for testing the autograder, made by editing the reference solution.

Each variant is a list of (old, new) edits applied to solution/rnn_lm.py; every edit must
apply, so a variant cannot silently become the solution when the solution changes.
``BUGGY`` variants must lose points on their task (and only there); ``CORRECT`` ones must
get full marks. ``HOSTILE`` submissions attack the grader itself.
"""

from pathlib import Path

SOLUTION = (Path(__file__).resolve().parent.parent / "solution" / "rnn_lm.py").read_text()


def apply_edits(edits) -> str:
    src = SOLUTION
    for old, new in edits:
        assert src.count(old) == 1, f"edit must match exactly one place of the solution: {old!r}"
        src = src.replace(old, new, 1)
    return src


RNN_STEP = "            h = self.rnn_cell(e[:, t], h)  # (B, H)\n"
RNN_H0 = "        h = e.new_zeros(B, self.hidden_dim) if h0 is None else h0  # (B, H)\n"
RNN_RETURN = "        return self.fc(hs), h  # decode all steps at once: (B, T, V)\n"
RNN_EMB = "        self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)\n        self.rnn_cell"
LOSS_CALL = """    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1),
                           ignore_index=ignore_index, reduction=reduction)"""
EVAL_ACC = """            total_loss += lm_loss(logits, y, ignore_index=pad_id, reduction="sum").item()
            total_tokens += int((y != pad_id).sum())"""
NORM_ACC = "            total += p.grad.detach().double().pow(2).sum().item()\n    return math.sqrt(total)"
LSTM_RUN = "        out, (h_n, c_n) = self.lstm(self.emb(x), state)  # out: (B, T, H)\n"
LSTM_RETURN = "        return self.fc(out), (h_n, c_n)  # (B, T, V)\n"
GTT_GRAD = "    (grad_e,) = torch.autograd.grad(last_loss, e)  # (B, T, E)\n"
EVAL_LOOP = """        for x, y in data_loader:
            logits, _ = model(x)"""
EVAL_START = "    modes = [(module, module.training) for module in model.modules()]"
EVAL_RESTORE = """    for module, was_training in modes:  # one flag each: module.train(mode) would also reset its submodules
        module.training = was_training
"""
EVAL_NO_GRAD = "    with torch.no_grad():\n        for x, y in data_loader:"
EVAL_RETURN = "    return mean_loss, math.exp(mean_loss)"
EVAL_DEF = "def evaluate(model: nn.Module"
GTT_START = "    captured = []"
GTT_RETURN = "    return norms.flip(0)  # k = T-1-t"
GTT_DEF = "def gradient_through_time(model: nn.Module"
# Whole task bodies, for variants that rewrite a task from scratch.
RNN_BODY = """        B, T = x.shape
        e = self.emb(x)  # (B, T, E)
        h = e.new_zeros(B, self.hidden_dim) if h0 is None else h0  # (B, H)
        states = []
        for t in range(T):
            h = self.rnn_cell(e[:, t], h)  # (B, H)
            states.append(h)
        hs = torch.stack(states, dim=1)  # (B, T, H)
        return self.fc(hs), h  # decode all steps at once: (B, T, V)
"""
EVAL_BODY = """    total_loss, total_tokens = 0.0, 0
    with torch.no_grad():
        for x, y in data_loader:
            logits, _ = model(x)
            total_loss += lm_loss(logits, y, ignore_index=pad_id, reduction="sum").item()
            total_tokens += int((y != pad_id).sum())
    for module, was_training in modes:  # one flag each: module.train(mode) would also reset its submodules
        module.training = was_training
"""
NORM_BODY = """    total = 0.0
    for name, p in model.named_parameters():
        if "weight_hh" in name and p.grad is not None:
            total += p.grad.detach().double().pow(2).sum().item()
    return math.sqrt(total)
"""
GTT_BODY = """    captured = []
    handle = model.emb.register_forward_hook(lambda module, inputs, output: captured.append(output))
    try:
        logits, _ = model(x)
    finally:
        handle.remove()
    e = captured[0]  # (B, T, E)
    last_loss = lm_loss(logits[:, -1:], y[:, -1:], ignore_index=pad_id)
    (grad_e,) = torch.autograd.grad(last_loss, e)  # (B, T, E)
    norms = grad_e.detach().pow(2).sum(dim=(0, 2)).sqrt()  # (T,), t = 0 .. T-1
    return norms.flip(0)  # k = T-1-t
"""

# name -> (task that must lose points, edits)
BUGGY = {
    # Mistakes that add behaviour (something kept from one call or one batch for the next): no
    # mutant of the solution makes them, since the solution keeps nothing.
    "eval_state_carried_when_it_fits": (4, [(EVAL_LOOP, """        state = None
        for x, y in data_loader:
            fits = state is not None and state.shape[-2] == x.shape[0]
            logits, state = model(x, state) if fits else model(x)
            state = state[0] if isinstance(state, tuple) else state""")]),
    "eval_cached_by_loader": (4, [(EVAL_START, """    key = id(data_loader)
    if key in _EVAL_CACHE:
        return _EVAL_CACHE[key]
    modes = [(module, module.training) for module in model.modules()]"""), (EVAL_RETURN, """    _EVAL_CACHE[key] = (mean_loss, math.exp(mean_loss))
    return _EVAL_CACHE[key]"""), (EVAL_DEF, "_EVAL_CACHE = {}\n\n\n" + EVAL_DEF)]),
    # The hurried student's two broken promises of gradient_through_time.
    "gtt_backward_then_zero_grad": (6, [(GTT_GRAD, "    e.retain_grad()\n    last_loss.backward()\n    grad_e = e.grad\n"
                                                   "    model.zero_grad()\n")]),
    "gtt_hook_kept_when_forward_raises": (6, [("""    try:
        logits, _ = model(x)
    finally:
        handle.remove()""", """    logits, _ = model(x)
    handle.remove()""")]),
    # Shortcuts that keep the easy case (every module in one mode, a forward pass that succeeds, autograd on)
    # and break the hard one the docstrings promise (issue 33).
    "eval_restores_only_the_top_module": (4, [(EVAL_RESTORE, "    model.training = modes[0][1]\n")]),
    "eval_gives_every_submodule_the_model_mode": (4, [(EVAL_START, "    was_training = model.training"),
                                                      (EVAL_RESTORE, "    model.train(was_training)\n")]),
    "eval_switches_autograd_off_and_on": (4, [(EVAL_NO_GRAD, "    torch.set_grad_enabled(False)\n    if True:\n"
                                                             "        for x, y in data_loader:"),
                                              (EVAL_RESTORE, EVAL_RESTORE + "    torch.set_grad_enabled(True)\n")]),
    "eval_unfreezes_every_parameter": (4, [(EVAL_RESTORE, EVAL_RESTORE + "    for p in model.parameters():\n"
                                                                         "        p.requires_grad_(True)\n")]),
    "gtt_eval_mode_restored_to_the_model_mode": (6, [(GTT_START, "    was_training = model.training\n    model.eval()\n"
                                                                 "    captured = []"),
                                                     ("        handle.remove()\n", "        handle.remove()\n"
                                                                                   "        model.train(was_training)\n")]),
    "norm_counts_shared_parameters_twice": (5, [("    for name, p in model.named_parameters():\n        if \"weight_hh\"",
                                                 "    for name, p in model.named_parameters(remove_duplicate=False):\n"
                                                 "        if \"weight_hh\"")]),
    "rnn_state_made_from_the_ids": (1, [(RNN_H0, "        h = x.new_zeros(B, self.hidden_dim) if h0 is None else h0\n")]),
    "gtt_cached_by_inputs": (6, [(GTT_START, """    key = (id(x), id(y), pad_id)
    if key in _GTT_CACHE:
        return _GTT_CACHE[key]
    captured = []"""), (GTT_RETURN, """    _GTT_CACHE[key] = norms.flip(0)
    return _GTT_CACHE[key]"""), (GTT_DEF, "_GTT_CACHE = {}\n\n\n" + GTT_DEF)]),
    # What a hurried student kept after passing the public checks (issue 15): each breaks something a user does.
    "rnn_state_made_on_the_cpu": (1, [(RNN_H0, "        h = torch.zeros(B, self.hidden_dim) if h0 is None else h0\n")]),
    "loss_gather_on_raw_targets": (3, [(LOSS_CALL, """    logp = F.log_softmax(logits, dim=-1)
    mask = (targets != ignore_index).float()
    picked = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1) * mask
    return picked.sum() if reduction == "sum" else picked.sum() / mask.sum()""")]),
    "loss_view_needs_contiguous": (3, [(LOSS_CALL, LOSS_CALL.replace(".reshape(", ".view("))]),
    "gtt_hook_never_removed": (6, [("""    try:
        logits, _ = model(x)
    finally:
        handle.remove()
""", "    logits, _ = model(x)\n")]),
    "rnn_hidden_reset_every_step": (1, [(RNN_STEP, "            h = self.rnn_cell(e[:, t])\n")]),
    "rnn_h0_ignored": (1, [(RNN_H0, "        h = e.new_zeros(B, self.hidden_dim)\n")]),
    "rnn_relu_cell": (1, [('        self.rnn_cell = nn.RNNCell(emb_dim, hidden_dim, nonlinearity="tanh")',
                           '        self.rnn_cell = nn.RNNCell(emb_dim, hidden_dim, nonlinearity="relu")')]),
    "rnn_returns_log_probs": (1, [(RNN_RETURN, "        return F.log_softmax(self.fc(hs), dim=-1), h\n")]),
    "rnn_returns_first_state": (1, [(RNN_RETURN, "        return self.fc(hs), states[0]\n")]),
    "rnn_no_padding_idx": (1, [(RNN_EMB, "        self.emb = nn.Embedding(vocab_size, emb_dim)\n        self.rnn_cell")]),
    "rnn_time_batch_mixed": (1, [("        hs = torch.stack(states, dim=1)  # (B, T, H)\n",
                                  "        hs = torch.stack(states, dim=0).reshape(B, T, -1)\n")]),
    "lstm_not_batch_first": (2, [("        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)",
                                  "        self.lstm = nn.LSTM(emb_dim, hidden_dim)")]),
    "lstm_decodes_last_step_only": (2, [(LSTM_RETURN, "        return self.fc(out[:, -1]).unsqueeze(1).expand(-1, x.size(1), -1), (h_n, c_n)\n")]),
    "lstm_state_ignored": (2, [(LSTM_RUN, "        out, (h_n, c_n) = self.lstm(self.emb(x))\n")]),
    "lstm_softmax_output": (2, [(LSTM_RETURN, "        return torch.softmax(self.fc(out), dim=-1), (h_n, c_n)\n")]),
    "loss_no_pad_mask": (3, [(LOSS_CALL, "    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction=reduction)")]),
    "loss_always_sum": (3, [(LOSS_CALL, LOSS_CALL.replace("reduction=reduction", 'reduction="sum"'))]),
    "loss_time_batch_mixed": (3, [(LOSS_CALL, LOSS_CALL.replace("logits.reshape(-1, V)", "logits.transpose(0, 1).reshape(-1, V)"))]),
    "loss_softmax_twice": (3, [(LOSS_CALL, LOSS_CALL.replace("logits.reshape(-1, V)", "F.softmax(logits, dim=-1).reshape(-1, V)"))]),
    "loss_mean_counts_pads": (3, [(LOSS_CALL, """    total = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=ignore_index, reduction="sum")
    return total if reduction == "sum" else total / targets.numel()""")]),
    "eval_mean_of_batch_means": (4, [(EVAL_ACC, """            total_loss += lm_loss(logits, y, ignore_index=pad_id).item()
            total_tokens += 1""")]),
    "eval_counts_pad_tokens": (4, [("            total_tokens += int((y != pad_id).sum())", "            total_tokens += y.numel()")]),
    "eval_base2_perplexity": (4, [("    return mean_loss, math.exp(mean_loss)", "    return mean_loss, 2 ** mean_loss")]),
    "eval_builds_graph": (4, [("    with torch.no_grad():\n        for x, y in data_loader:", "    if True:\n        for x, y in data_loader:")]),
    "eval_leaves_eval_mode": (4, [(EVAL_RESTORE, "")]),
    "eval_never_calls_eval": (4, [("    model.eval()\n", "")]),  # dropout would stay on
    "norm_of_weights_not_grads": (5, [(NORM_ACC, NORM_ACC.replace("p.grad.detach()", "p.detach()"))]),
    "norm_sum_of_norms": (5, [(NORM_ACC, "            total += p.grad.norm().item()\n    return total")]),
    "norm_all_parameters": (5, [('        if "weight_hh" in name and p.grad is not None:', "        if p.grad is not None:")]),
    # A crash or a hang inside one task's function costs that task only (the judge restarts the worker).
    "loss_exits_the_process": (3, [(LOSS_CALL, "    import os\n    os._exit(1)")]),
    "loss_never_returns": (3, [(LOSS_CALL, "    while True:\n        pass")]),
    "gtt_reversed": (6, [("    return norms.flip(0)  # k = T-1-t", "    return norms")]),
    # Right for the short windows of a quick test, wrong where the lab measures (k = 20 and beyond).
    "gtt_zero_beyond_distance_10": (6, [("    return norms.flip(0)  # k = T-1-t",
                                         "    g = norms.flip(0)\n    g[11:] = 0.0\n    return g")]),
    "gtt_loss_of_all_steps": (6, [("lm_loss(logits[:, -1:], y[:, -1:], ignore_index=pad_id)", "lm_loss(logits, y, ignore_index=pad_id)")]),
    "gtt_leaves_param_grads": (6, [(GTT_GRAD, "    e.retain_grad()\n    last_loss.backward()\n    grad_e = e.grad\n")]),
}

CORRECT = {
    "parameters_created_in_another_order": [(
        "        self.hidden_dim = hidden_dim\n        self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)\n"
        "        self.rnn_cell = nn.RNNCell(emb_dim, hidden_dim, nonlinearity=\"tanh\")\n"
        "        self.fc = nn.Linear(hidden_dim, vocab_size)\n",
        "        self.fc = nn.Linear(hidden_dim, vocab_size)\n        self.rnn_cell = nn.RNNCell(emb_dim, hidden_dim)\n"
        "        self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)\n        self.hidden_dim = hidden_dim\n")],
    "decoder_applied_every_step": [
        (RNN_STEP, "            h = self.rnn_cell(e[:, t], h)  # (B, H)\n            logits_t.append(self.fc(h))\n"),
        ("        states = []\n", "        states, logits_t = [], []\n"),
        (RNN_RETURN, "        return torch.stack(logits_t, dim=1), h\n")],
    "loss_log_softmax_nll": [(LOSS_CALL, """    logp = F.log_softmax(logits, dim=-1).reshape(-1, V)
    return F.nll_loss(logp, targets.reshape(-1), ignore_index=ignore_index, reduction=reduction)""")],
    "eval_mean_times_count": [(EVAL_ACC, """            n = int((y != pad_id).sum())
            if n:
                total_loss += lm_loss(logits, y, ignore_index=pad_id).item() * n
            total_tokens += n""")],
    "norm_via_cat": [(NORM_ACC, """            total += 0.0
    grads = [p.grad.flatten() for n, p in model.named_parameters() if "weight_hh" in n and p.grad is not None]
    return float(torch.cat(grads).norm()) if grads else 0.0""")],
    "gtt_backward_with_inputs": [(GTT_GRAD, "    e.retain_grad()\n    last_loss.backward(inputs=[e])\n    grad_e = e.grad\n")],
    "lstm_state_unpacked": [(LSTM_RUN, "        out, hc = self.lstm(self.emb(x), state)\n        h_n, c_n = hc\n")],
    # Data-dependent operations (no kernel on the meta device, fine on any GPU): the padded loss as
    # students often write it, with a boolean mask, nonzero/index_select, masked_select, or a count.
    "loss_boolean_mask": [(LOSS_CALL, """    flat, tgt = logits.reshape(-1, V), targets.reshape(-1)
    keep = tgt != ignore_index
    return F.cross_entropy(flat[keep], tgt[keep], reduction=reduction)""")],
    "loss_nonzero_index_select": [(LOSS_CALL, """    flat, tgt = logits.reshape(-1, V), targets.reshape(-1)
    idx = (tgt != ignore_index).nonzero().squeeze(1)
    return F.cross_entropy(flat.index_select(0, idx), tgt.index_select(0, idx), reduction=reduction)""")],
    "loss_gather_masked_select": [(LOSS_CALL, """    tgt = targets.reshape(-1)
    keep = tgt != ignore_index
    logp = F.log_softmax(logits.reshape(-1, V), dim=-1)
    nll = -logp.gather(1, torch.where(keep, tgt, 0).unsqueeze(1)).squeeze(1)  # (B*T,)
    picked = torch.masked_select(nll, keep)
    return picked.sum() if reduction == "sum" else picked.mean()""")],
    "loss_where_over_item_count": [(LOSS_CALL, """    tgt = targets.reshape(-1)
    keep = tgt != ignore_index
    nll = F.cross_entropy(logits.reshape(-1, V), torch.where(keep, tgt, 0), reduction="none")
    total = torch.where(keep, nll, torch.zeros_like(nll)).sum()
    return total if reduction == "sum" else total / max(int(keep.sum().item()), 1)""")],
    "gtt_own_masked_last_loss": [(
        "    last_loss = lm_loss(logits[:, -1:], y[:, -1:], ignore_index=pad_id)\n",
        "    last_y = y[:, -1]\n    keep = last_y != pad_id\n"
        "    last_loss = F.cross_entropy(logits[:, -1][keep], last_y[keep])\n")],
    # Models written in other styles: the loop time-first, torch.unbind over time, the input term hoisted out
    # of the loop, PyTorch's fused tanh RNN on rnn_cell's own weights, an explicit zero LSTM state.
    "rnn_time_major_loop": [(RNN_BODY, """        e = self.emb(x).transpose(0, 1)  # time first: (T, B, E)
        h = e.new_zeros(e.size(1), self.hidden_dim) if h0 is None else h0
        hs = []
        for e_t in e:  # a tensor iterates over its first axis: one (B, E) step at a time
            h = self.rnn_cell(e_t, h)
            hs.append(h)
        logits = self.fc(torch.stack(hs))  # (T, B, V)
        return logits.permute(1, 0, 2), h
""")],
    "rnn_unbind_over_time": [(RNN_BODY, """        e = self.emb(x)
        h = h0 if h0 is not None else torch.zeros(x.size(0), self.hidden_dim, dtype=e.dtype, device=x.device)
        outputs = []
        for e_t in torch.unbind(e, dim=1):
            h = self.rnn_cell(e_t, h)
            outputs.append(h)
        return self.fc(torch.stack(outputs, dim=1)), h
""")],
    "rnn_input_projection_hoisted": [(RNN_BODY, """        B, T = x.shape
        cell = self.rnn_cell
        xw = F.linear(self.emb(x), cell.weight_ih, cell.bias_ih)  # every step's input term at once: (B, T, H)
        h = xw.new_zeros(B, self.hidden_dim) if h0 is None else h0
        states = []
        for t in range(T):
            h = torch.tanh(xw[:, t] + F.linear(h, cell.weight_hh, cell.bias_hh))  # what RNNCell computes
            states.append(h)
        return self.fc(torch.stack(states, dim=1)), h
""")],
    "rnn_fused_rnn_tanh_time_major": [(RNN_BODY, """        e = self.emb(x).transpose(0, 1)  # nn.RNN's default layout: (T, B, E)
        h = e.new_zeros(1, e.size(1), self.hidden_dim) if h0 is None else h0.unsqueeze(0)
        c = self.rnn_cell
        out, h_n = torch.rnn_tanh(e, h, [c.weight_ih, c.weight_hh, c.bias_ih, c.bias_hh], True, 1, 0.0,
                                  self.training, False, False)  # the kernel nn.RNN calls, batch_first=False
        return self.fc(out.transpose(0, 1)), h_n[0]
""")],
    "lstm_explicit_zero_state": [(LSTM_RUN, """        e = self.emb(x)
        if state is None:
            zeros = e.new_zeros(1, x.size(0), self.lstm.hidden_size)
            state = (zeros, zeros.clone())
        out, (h_n, c_n) = self.lstm(e, state)
""")],
    # The padded loss without a data-dependent operation: gather on targets made safe by a clamp, then a
    # multiplicative mask or torch.where (a pad id outside [0, V) must never index).
    "loss_log_softmax_gather_clamp": [(LOSS_CALL, """    logp = F.log_softmax(logits.reshape(-1, V), dim=-1)  # (B*T, V)
    tgt = targets.reshape(-1)
    mask = (tgt != ignore_index).to(logp.dtype)
    picked = logp.gather(1, tgt.clamp(0, V - 1).unsqueeze(1)).squeeze(1)  # pad ids clamped into range, then masked
    total = -(picked * mask).sum()
    return total if reduction == "sum" else total / mask.sum()""")],
    "loss_logsumexp_where_clamp": [(LOSS_CALL, """    keep = targets != ignore_index  # (B, T)
    safe = targets.clamp(min=0, max=V - 1)
    nll = logits.logsumexp(dim=-1) - logits.gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # (B, T), no reshape
    nll = torch.where(keep, nll, torch.zeros_like(nll))
    return nll.sum() if reduction == "sum" else nll.sum() / keep.sum()""")],
    # evaluate in other styles: inference_mode with the mode restored in a finally, exact float sums over
    # the batches, a float64 cross-entropy of its own, the modes restored by name, parents first.
    "eval_inference_mode_in_finally": [(EVAL_BODY, """    total_loss, total_tokens = 0.0, 0
    try:
        with torch.inference_mode():
            for x, y in data_loader:
                logits, _ = model(x)
                total_loss += lm_loss(logits, y, ignore_index=pad_id, reduction="sum").item()
                total_tokens += int((y != pad_id).sum())
    finally:
        for module, was_training in modes:
            module.training = was_training
""")],
    "eval_fsum_of_batch_sums": [(EVAL_BODY, """    per_batch = []  # (summed loss, non-pad targets) of each batch
    with torch.no_grad():
        for x, y in data_loader:
            logits, _ = model(x)
            n = int(y.ne(pad_id).sum())
            per_batch.append((float(lm_loss(logits, y, ignore_index=pad_id, reduction="sum")), n))
    for module, was_training in modes:
        module.training = was_training
    total_loss = math.fsum(loss for loss, _ in per_batch)  # exact sum of the batch sums
    total_tokens = sum(n for _, n in per_batch)
""")],
    "eval_float64_own_cross_entropy": [(EVAL_ACC, """            V = logits.size(-1)
            nll = F.cross_entropy(logits.reshape(-1, V).double(), y.reshape(-1), ignore_index=pad_id,
                                  reduction="sum")
            total_loss += nll.item()
            total_tokens += y.ne(pad_id).sum().item()""")],
    "eval_restores_modes_parents_first": [
        (EVAL_START, "    modes = {name: m.training for name, m in model.named_modules()}"),
        (EVAL_RESTORE, "    for name, mode in modes.items():  # parents before children: each ends in its own mode\n"
                       "        model.get_submodule(name).train(mode)\n")],
    # gradient_through_time may change modes if it puts each module's own back, even when the forward pass raises.
    "gtt_eval_mode_each_module_restored": [
        (GTT_START, "    modes = [(m, m.training) for m in model.modules()]\n    model.eval()\n    captured = []"),
        ("        handle.remove()\n", "        handle.remove()\n        for m, mode in modes:\n"
                                     "            m.training = mode\n")],
    # The recurrent gradient norm through PyTorch's norm functions (per-tensor norms, then their norm).
    "norm_foreach_norm": [(NORM_BODY, """    grads = [p.grad for name, p in model.named_parameters() if "weight_hh" in name and p.grad is not None]
    if not grads:
        return 0.0
    per_tensor = torch._foreach_norm(grads)  # one 2-norm per tensor, as clip_grad_norm_ does
    return torch.linalg.vector_norm(torch.stack(per_tensor)).item()
""")],
    "norm_vector_norm_float64": [(NORM_BODY, """    grads = [p.grad.detach() for name, p in model.named_parameters() if "weight_hh" in name and p.grad is not None]
    if len(grads) == 0:
        return 0.0
    norms = torch.stack([torch.linalg.vector_norm(g, dtype=torch.float64) for g in grads])
    return float(torch.linalg.vector_norm(norms))
""")],
    "norm_get_total_norm": [(NORM_BODY, """    grads = [p.grad for name, p in model.named_parameters() if "weight_hh" in name and p.grad is not None]
    return torch.nn.utils.get_total_norm(grads, norm_type=2.0).item() if grads else 0.0
""")],
    "norm_clip_grad_norm_without_limit": [(NORM_BODY, """    params = [p for name, p in model.named_parameters() if "weight_hh" in name and p.grad is not None]
    # an infinite max_norm scales every gradient by exactly 1.0: the .grad values stay as they were
    return float(torch.nn.utils.clip_grad_norm_(params, max_norm=float("inf")))
""")],
    # gradient_through_time without capturing the embedding output: a hook that swaps in a detached leaf,
    # torch.func.grad on the course's lm_loss through a hook that feeds its argument in (the judge's
    # stand-in for lm_loss must read the logits torch.func wraps), .grad saved and put back around backward().
    "gtt_hook_returns_leaf": [(GTT_BODY, """    leaves = []

    def swap_in_leaf(module, inputs, output):
        leaf = output.detach().requires_grad_()  # the graph of the loss now starts at the embedding output
        leaves.append(leaf)
        return leaf

    handle = model.emb.register_forward_hook(swap_in_leaf)
    try:
        logits, _ = model(x)
    finally:
        handle.remove()
    last_loss = lm_loss(logits[:, -1:], y[:, -1:], ignore_index=pad_id)
    (grad_e,) = torch.autograd.grad(last_loss, leaves[0])
    norms = torch.linalg.vector_norm(grad_e, dim=(0, 2))  # (T,)
    return norms[torch.arange(x.size(1) - 1, -1, -1, device=norms.device)]
""")],
    "gtt_func_grad_lm_loss": [(GTT_BODY, """    def last_step_loss(e):
        handle = model.emb.register_forward_hook(lambda module, inputs, output: e)  # the model reads e
        try:
            logits, _ = model(x)
        finally:
            handle.remove()
        return lm_loss(logits[:, -1:], y[:, -1:], ignore_index=pad_id)

    grad_e = torch.func.grad(last_step_loss)(model.emb(x).detach())  # (B, T, E)
    return grad_e.norm(dim=(0, 2)).flip(0)
""")],
    "gtt_backward_then_grads_restored": [(GTT_GRAD, """    params = list(model.parameters())
    saved = [p.grad for p in params]
    for p in params:
        p.grad = None
    e.retain_grad()
    last_loss.backward()
    grad_e = e.grad
    for p, g in zip(params, saved):  # put back what the caller had
        p.grad = g
""")],
}

FUTURE = "from __future__ import annotations\n"


def before_solution(code: str) -> str:
    """The solution with ``code`` run first (after the __future__ import, which must stay first)."""
    return SOLUTION.replace(FUTURE, FUTURE + code, 1)


HOSTILE = {
    # name -> (source, what the grade must show)
    "syntax_error": ("def broken(:\n    pass\n" + SOLUTION, "syntax error"),
    "crash_at_import": (before_solution("raise RuntimeError('boom')\n"), "crashed while loading"),
    "sys_exit_at_import": (before_solution("import sys\nsys.exit(0)\n"), "sys.exit"),
    "os_exit_at_import": (before_solution("import os\nos._exit(3)\n"), "exited before grading finished"),
    "endless_loop": (before_solution("while True:\n    pass\n"), "timed out"),
    "runaway_memory": (before_solution("blocks = [bytearray(2**30) for _ in range(64)]\n"), "MemoryError"),
}
LOUD_SOLUTION = before_solution("for _i in range(300000):\n    print('spam' * 10, _i)\n")  # megabytes of output, still 100%

# The original notebook's LSTMLM has no hidden_dim attribute (nothing uses it): still full marks.
CORRECT["lstm_without_hidden_dim_attribute"] = [(
    "        self.hidden_dim = hidden_dim\n        self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)\n"
    "        self.lstm", "        self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)\n        self.lstm")]

# Correct, but slow: each task's code waits 5 s on its first call in a process, as code that reads a
# file or waits on a lock would. The worker forks a process for each check, so this costs 5 s a
# check: about 190 s in all, which the time budget every route shares (rnnjudge.sandbox.TIME_BUDGET_S)
# must hold, with room for a slower machine.
SLOW_FIRST_CALL_S = 5
SLOW_SOLUTION = SOLUTION + f"""

import functools as _functools, os as _os, time as _time
_WAITED = set()
def _waits_on_first_call(task, function):
    @_functools.wraps(function)
    def waiting(*args, **kwargs):
        if (task, _os.getpid()) not in _WAITED:
            _WAITED.add((task, _os.getpid()))
            _time.sleep({SLOW_FIRST_CALL_S})
        return function(*args, **kwargs)
    return waiting
VanillaRNNLM.__init__ = _waits_on_first_call(1, VanillaRNNLM.__init__)
VanillaRNNLM.forward = _waits_on_first_call(1, VanillaRNNLM.forward)
LSTMLM.__init__ = _waits_on_first_call(2, LSTMLM.__init__)
LSTMLM.forward = _waits_on_first_call(2, LSTMLM.forward)
lm_loss = _waits_on_first_call(3, lm_loss)
evaluate = _waits_on_first_call(4, evaluate)
l2_grad_norm_recurrent = _waits_on_first_call(5, l2_grad_norm_recurrent)
gradient_through_time = _waits_on_first_call(6, gradient_through_time)
"""
