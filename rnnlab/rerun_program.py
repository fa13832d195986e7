"""The lab's experiment, run as a plan says: ``rnnlab grade --rerun`` starts it in a process of its own.

    python -I -B rerun_program.py FOLDER PLAN_JSON

FOLDER holds an ``rnn_lm.py`` and the course's own ``lab_support.py`` (never a team's copy). Two
uses, told apart only by whose ``rnn_lm.py`` is there (``rnnlab.rerun`` decides which, and trusts
only the first):

- the course's reference: the certified run, all of it course code;
- a team's file, in the sandbox: what that code makes of the experiment (a claim of the team's
  process, since its code runs here and may write anything).

PLAN_JSON: {"config": LabConfig's fields, checked by ``rnnlab.rerun``, "threads": {model: count},
"bf16": {model: bool or null}}. Each model is trained as ``lab_support.run_experiment`` trains it,
with its own thread count and precision (the vanilla RNN's training is chaotic in float32 rounding:
another thread count gives other numbers; null precision: the lab's own choice on this CPU). The
result is one JSON line on the channel the program was started with: each model's compared numbers
and the claims' verdicts; whatever the code prints goes to the log. Nothing here compares or judges.
"""

import dataclasses
import json
import os
import sys

NUMBERS = ("recall_accuracy", "best_valid_ppl", "best_valid_step", "gtt_far_rel_init", "gtt_far_rel_final", "threads")


def main(folder: str, plan_text: str) -> None:
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # the code's prints go to the log, not into the result
    sys.path.insert(0, folder)
    import torch

    import lab_support

    plan = json.loads(plan_text)
    result: dict = {}
    try:
        config = lab_support.LabConfig(**{**plan["config"], "models": tuple(plan["config"]["models"]),
                                          "device": "cpu"})
        data = lab_support.prepare_data(config)
        results = lab_support.results_header(config, data)
        for name in config.models:
            cfg = dataclasses.replace(config, threads=plan["threads"][name], bf16=plan["bf16"][name])
            results["models"][name] = lab_support.run_model(name, data, cfg, progress=False)
            results["bf16"][name] = lab_support.resolve_bf16(cfg, name)
        result = {"models": {name: {key: numbers.get(key) for key in NUMBERS}
                             for name, numbers in results["models"].items()},
                  "claims": [{"id": c["id"], "holds": bool(c["holds"])} for c in lab_support.check_claims(results)],
                  "bf16": results["bf16"], "torch": torch.__version__}
    except Exception as err:  # noqa: BLE001 - the code failed: say how, the grader decides
        result = {"error": f"{type(err).__name__}: {err}"[:500]}
    channel.write(json.dumps(result) + "\n")
    channel.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
