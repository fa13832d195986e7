"""The judge of the RNN-vs-LSTM lab: hidden checks that never run submission code themselves.

* ``judge``: runs every check for one submission and returns plain results.
* ``session``: the judge's end of the channel to one worker (start, requests, time limits).
* ``protocol``: the data-only wire format.
* ``worker``: the sandboxed process that loads the submission and answers requests.
* ``sandbox``: how the worker is started (bubblewrap, another user, or plain) and cleaned up.
* ``registry``, ``references`` and ``checks/``: the checks, their float64 references, one module
  per task group.
* ``otter_plugin``: the same judge behind ``otter run``, ``otter grade`` and Gradescope.
"""
