"""history.csv and metrics.json while a run trains: the first epoch at once, then at most every few seconds (so a
long run of fast epochs is not quadratic in its file writes), and the whole history when the run ends."""

from __future__ import annotations

from types import SimpleNamespace

from nntrain.commands import recorder as recorder_mod
from nntrain.commands.recorder import RunRecorder
from nntrain.runs import read_history_csv
from nntrain.training.loop import History


def test_files_are_written_at_the_first_epoch_then_every_interval(tmp_path, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(recorder_mod.time, "monotonic", lambda: clock[0])
    rec = RunRecorder(tmp_path, monitor="loss", interval=2.0)
    rec.trainer = SimpleNamespace(history=History())
    rows = []
    for epoch in range(10):  # ten epochs of 0.5 s each
        rec.trainer.history.append(epoch, {"loss": 1.0 / (epoch + 1)})
        rec.on_epoch_end(epoch, {})
        rows.append(len(read_history_csv(tmp_path / "history.csv")["epoch"]))
        clock[0] += 0.5
    # epoch 1 at once; then whenever 2 s have passed since the last write: epochs 5 and 9
    assert rows == [1, 1, 1, 1, 5, 5, 5, 5, 9, 9]
    summary = rec.write()  # what session.py does however the run ends
    assert len(read_history_csv(tmp_path / "history.csv")["epoch"]) == 10 and summary["epochs"] == 10
