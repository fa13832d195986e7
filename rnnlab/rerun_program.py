"""Runs in the sandbox, never in the grader: the lab's default experiment on a team's own ``rnn_lm.py``.

    python -I -B rerun_program.py FOLDER PLAN_JSON

FOLDER holds the team's ``rnn_lm.py`` and the course's own ``lab_support.py`` (never the team's copy).
PLAN_JSON: {"config": LabConfig's fields as the notebook printed them, "threads": {model: count},
"bf16": {model: bool}}. Each model is trained as ``lab_support.run_experiment`` trains it, with the
thread count and precision the team's run recorded for it (the vanilla RNN's training is chaotic in
float32 rounding: another thread count gives other numbers). The result is one JSON line, written
on the channel the program was started with; whatever the team's code prints goes to the log.
Nothing here compares or judges: ``rnnlab.rerun`` does, outside the sandbox.
"""

import dataclasses
import json
import os
import sys


def main(folder: str, plan_text: str) -> None:
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # the team's prints go to the log, not into the result
    sys.path.insert(0, folder)
    import torch

    import lab_support

    plan = json.loads(plan_text)
    result: dict = {"models": {}}
    try:
        config = lab_support.LabConfig(**{**plan["config"], "models": tuple(plan["config"]["models"]),
                                          "device": "cpu"})
        data = lab_support.prepare_data(config)
        for name in config.models:
            cfg = dataclasses.replace(config, threads=int(plan["threads"][name]),
                                                  bf16=bool(plan["bf16"][name]))
            numbers = lab_support.run_model(name, data, cfg, progress=False)
            result["models"][name] = {key: numbers.get(key) for key in (
                "recall_accuracy", "best_valid_ppl", "best_valid_step", "gtt_far_rel_init", "gtt_far_rel_final",
                "threads")}
        result["torch"] = torch.__version__
    except Exception as err:  # noqa: BLE001 - the team's code failed: say how, the grader decides
        result["error"] = f"{type(err).__name__}: {err}"[:500]
    channel.write(json.dumps(result) + "\n")
    channel.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
