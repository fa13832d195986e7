"""Running a task on another device than the CPU, without a GPU: PyTorch's ``meta`` device (shapes,
no data). Code that makes a tensor on a fixed device while its inputs live elsewhere fails there
as it would on CUDA or MPS (Colab, a laptop's GPU), which the CPU alone never shows."""

from __future__ import annotations

from ..session import SubmissionError

ELSEWHERE_HINT = ("a tensor made on the CPU for itself while the inputs are on another device (tested on PyTorch's "
                  "meta device; on a GPU this crashes): create new tensors next to existing ones, e.g. "
                  "x.new_zeros(B, H) or torch.zeros(B, H, device=x.device)")


def on_other_device(request):
    """Run ``request()``; a device mismatch in the submission's code becomes feedback in its terms."""
    try:
        return request()
    except SubmissionError as err:
        if "device" in str(err) or "meta" in str(err):
            raise AssertionError(f"{err}\nThat is {ELSEWHERE_HINT}.") from None
        raise
