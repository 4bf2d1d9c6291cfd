"""Refitting a chosen config on every training row, then evaluating it on the test split: the end of `nntrain
kfold --refit` and of `nntrain tune --refit`. Without validation rows, the val_ callbacks are left out; the
epoch count is the one the search found best."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nntrain.commands.folds import STOP, train_fold


def refit(cfg_path: Path, overrides: list, base_dir, name: str, raw, run_dir: Path, epochs: int, on_event,
          info: dict) -> dict:
    """Train the config `cfg_path` (with `overrides`) on all of raw.train for `epochs` epochs into `run_dir`, then
    evaluate its last checkpoint on the test split (when the data has one).

    Returns:
        {status, epochs, run_dir (its name), final, message, test (test metrics, when evaluated)}.
    """
    from nntrain.config import load_config

    cfg = load_config(cfg_path, [*overrides, f"training.epochs={epochs}"], base_dir=base_dir)
    cfg.resolved["name"] = name
    on_event({"type": "start", "fold": "refit", "epochs": epochs})
    everything = np.arange(len(raw.train), dtype=np.int64)
    try:
        with STOP.on_signals(raise_on_exit=True):
            result = train_fold(cfg, raw, everything, None, run_dir, "refit", on_event, info)
    except KeyboardInterrupt:
        result = {"status": "interrupted", "final": {}, "message": "interrupted"}
    out = {"status": result["status"], "epochs": epochs, "run_dir": Path(run_dir).name, "final": result["final"],
           "message": result["message"]}
    if result["status"] == "finished" and raw.test is not None:
        from nntrain.commands.evaluate import evaluate

        out["test"] = evaluate(run_dir, checkpoint="last", split="test").report["metrics"]
    return out
