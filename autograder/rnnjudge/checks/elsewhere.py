"""Running a task on another device than the CPU, without a GPU: PyTorch's ``meta`` device (shapes,
no data). Code that makes a tensor on a fixed device while its inputs live elsewhere fails there
as it would on CUDA or MPS (Colab, a laptop's GPU), which the CPU alone never shows.

The meta device has no data, so operations whose output depends on it (a boolean mask,
``nonzero``, ``masked_select``, ``.item()``, ``unique``) cannot run there, though they run on any
GPU. An error that names two devices counts against the code; one that names the meta device
(PyTorch's words for an operation it cannot run there) leaves the check undecided
(``CannotDecide``): no point is lost, and the feedback says the check could not run. Any other
error (a stub's, a bug's) counts as it would on the CPU. The device checks are gated, so an unsolved task earns nothing from that.
"""

from __future__ import annotations

import re

from ..session import NotImplementedInSubmission, SubmissionError

ELSEWHERE_HINT = ("a tensor made on the CPU for itself while the inputs are on another device (tested on PyTorch's "
                  "meta device; on a GPU this crashes): create new tensors next to existing float ones, e.g. "
                  "e.new_zeros(B, H) with e the embeddings, or torch.zeros(B, H, device=x.device) (x.new_zeros would "
                  "be int64, like the token ids)")
# PyTorch's words when an operation mixes devices ("Tensor on device cpu is not on the expected device
# meta!", "Expected all tensors to be on the same device, but found at least two devices").
DEVICE_MISMATCH = re.compile(r"not on the expected device|same device|two devices|different devices?", re.I)


class CannotDecide(Exception):
    """The stand-in device could not run the code for a reason other than mixed devices."""


def on_other_device(request):
    """Run ``request()``; a device mismatch in the submission's code becomes feedback in its terms."""
    try:
        return request()
    except (SubmissionError, NotImplementedInSubmission) as err:
        if DEVICE_MISMATCH.search(str(err)):
            raise AssertionError(f"{err}\nThat is {ELSEWHERE_HINT}.") from None
        if "meta" not in str(err).lower():  # not the stand-in's limit: a stub, or a bug any device shows
            raise
        raise CannotDecide("could not run on PyTorch's meta device, this grader's stand-in for a GPU (your code "
                           f"uses an operation that needs the data, which is fine on a GPU): {err}") from None
