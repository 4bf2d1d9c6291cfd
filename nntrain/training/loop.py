"""The fit / evaluate / predict loop over an engine Model (Keras semantics).

The loop owns batching, shuffling, validation, class and sample weights, callbacks and the state needed
to resume exactly: epoch counter, the shuffle generator, the model's generator (dropout), the optimizer
slots, callback state and the history so far.
"""

from __future__ import annotations

import math
import signal
import time
from contextlib import contextmanager

import numpy as np

from nntrain import interrupts
from nntrain.engine.model import Model
from nntrain.engine.sparse import MultiHot
from nntrain.errors import ConfigError, ShapeError


class History:
    """Per-epoch logs: `history.history["val_loss"][3]` is epoch 4's validation loss, as in Keras."""

    def __init__(self):
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        n = len(self.epoch)
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, [math.nan] * n).append(float(v))
        for k, vals in self.history.items():
            if len(vals) < n + 1:
                vals.append(math.nan)

    def rows(self) -> list[dict[str, float]]:
        return [{"epoch": e + 1, **{k: v[i] for k, v in self.history.items()}} for i, e in enumerate(self.epoch)]

    def get_state(self) -> dict:
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    def set_state(self, state: dict) -> None:
        self.epoch = [int(e) for e in state["epoch"]]
        self.history = {k: [float(x) for x in v] for k, v in state["history"].items()}


def _rows(xs: list) -> int:
    return len(xs[0])


def _buffer(x, batch_size: int):
    """A reusable (batch_size, ...) array for gathering rows of `x`, or None for a MultiHot."""
    if isinstance(x, MultiHot):
        return None
    x = np.asarray(x)
    return np.empty((batch_size, *x.shape[1:]), x.dtype)


def _gather(x, idx: np.ndarray, out):
    """Rows `idx` of x, written into `out` when given. mode="clip" because np.take's default mode buffers the
    output (a hidden copy) to be safe against a bad index; `idx` comes from our own permutation."""
    if out is None:
        return x.take(idx) if isinstance(x, MultiHot) else np.take(x, idx, axis=0)
    return x.take(idx, axis=0, out=out, mode="clip")


def _batch_size(batch_size, n: int) -> int:
    if batch_size == "full" or batch_size is None and n == 0:
        return max(n, 1)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ConfigError(f"batch_size expects a positive integer or \"full\", got {batch_size!r}")
    return batch_size


def class_sample_weights(y: np.ndarray, class_weight: dict) -> np.ndarray:
    """Per-sample weights from a {class index: weight} map; y: sparse labels (batch,) / (batch, 1),
    one-hot (batch, classes) or binary 0/1."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        labels = y.argmax(axis=1)
    else:
        labels = np.rint(y.reshape(len(y))).astype(np.int64)
    classes = np.unique(labels)
    missing = [int(c) for c in classes if int(c) not in class_weight]
    if missing:
        raise ConfigError(f"class_weight has no weight for class(es) {missing}; it has {sorted(class_weight)}")
    lut = np.zeros(int(labels.max()) + 1 if len(labels) else 1, np.float64)
    for c, w in class_weight.items():
        if 0 <= int(c) < len(lut):
            lut[int(c)] = float(w)
    return lut[labels]


class StopRequest:
    """Ctrl-C / SIGTERM turned into a request that the Trainer honours after the current step, so a signal never
    lands inside a checkpoint write. With `insist`, a second signal while the Trainer still runs its steps raises at
    once; once it is stopping (writing the last checkpoint and files) later signals are ignored (nntrain.interrupts).

    Attributes:
        signum: the signal that asked to stop (its exception: `interrupt()`), None while none has.
    """

    def __init__(self):
        self.requested = False
        self.signum: int | None = None
        self.stopping = False

    def interrupt(self) -> KeyboardInterrupt:
        """What stopping raises: KeyboardInterrupt, or its subclass Terminated after SIGTERM."""
        return interrupts.interrupt(self.signum)

    def handler(self, insist: bool = True):
        def handle(signum, frame):
            interrupts.note(signum)
            if not self.requested:
                self.requested, self.signum = True, signum
            elif insist and not self.stopping:
                self.stopping = True
                raise self.interrupt()

        return handle

    @contextmanager
    def on_signals(self, signals=interrupts.SIGNALS, insist: bool = True, raise_on_exit: bool = False):
        """Route `signals` to this request while the block runs. raise_on_exit: a request still pending when the
        block ends (it came between two trainings) raises KeyboardInterrupt (Terminated) then."""
        self.requested, self.signum, self.stopping = False, None, False
        old = {}
        for sig in signals:
            try:
                old[sig] = signal.signal(sig, self.handler(insist))
            except ValueError:  # not the main thread: signals are not ours to take
                pass
        try:
            yield self
        finally:
            for sig, previous in old.items():
                signal.signal(sig, previous)
            if raise_on_exit and self.requested:
                self.requested = False
                raise self.interrupt()


class Trainer:
    """Runs epochs over (x, y) and keeps everything needed to stop and resume bit-exactly.

    Args:
        model: a compiled Model.
        x, y: arrays (or MultiHot) / dicts by input and output name.
        batch_size: positive int, or "full" for batch gradient descent.
        validation_data: (x_val, y_val), (x_val, y_val, sample_weight_val) as in Keras, or None.
        shuffle: reshuffle the training rows every epoch.
        sample_weight: (n,) weights, or None; class_weight: {class: weight} for single-output models.
        callbacks: Callback instances, called in order.
        seed: seeds the shuffling generator.
    """

    def __init__(self, model: Model, x, y, epochs: int = 1, batch_size=32, validation_data=None,
                 shuffle: bool = True, class_weight: dict | None = None, sample_weight=None,
                 callbacks=None, seed: int = 0, stop_request: "StopRequest | None" = None):
        from nntrain.training.callbacks import CallbackList

        if not model.compiled:
            raise ConfigError("compile the model (loss, optimizer) before fitting it")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"epochs expects a positive integer, got {epochs!r}")
        self.model = model
        self.xs, self.ys = model.as_input_list(x), model.as_output_list(y)
        model.check_data(self.xs, self.ys, "the training data")
        self.n = _rows(self.xs)
        if self.n == 0:
            raise ShapeError("the training data has no rows")
        self.batch_size = _batch_size(batch_size, self.n)
        self.epochs = epochs
        self.shuffle = shuffle
        self.val = None
        if validation_data is not None:
            vx, vy = model.as_input_list(validation_data[0]), model.as_output_list(validation_data[1])
            model.check_data(vx, vy, "the validation data")
            vw = validation_data[2] if len(validation_data) > 2 else None
            if _rows(vx):
                self.val = (vx, vy, None if vw is None else np.asarray(vw, dtype=model.dtype).reshape(-1))
        self.sample_weight = None
        if class_weight:
            if len(self.ys) != 1:
                raise ConfigError("class_weight needs a single-output model; give sample weights per output instead")
            self.sample_weight = class_sample_weights(self.ys[0], class_weight).astype(model.dtype)
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=model.dtype).reshape(-1)
            if len(sw) != self.n:
                raise ShapeError(f"sample_weight has {len(sw)} values for {self.n} training rows")
            self.sample_weight = sw if self.sample_weight is None else self.sample_weight * sw
        self.shuffle_rng = np.random.default_rng([seed, 1])
        self.epoch = 0  # next epoch to run (0-based)
        self.history = History()
        self.callbacks = CallbackList(callbacks or [], self)
        self.tracker = None
        self.stop_training = False
        self.stop_reason: str | None = None
        self.nan_detected = False
        self.interrupted = False
        self.stop_request = stop_request or StopRequest()  # Ctrl-C / SIGTERM: stop after the current step
        self.extras: dict = {}  # what checkpoints carry besides the model (config, preprocessing)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def running_logs(self) -> dict[str, float]:
        """Loss and metrics so far in the current epoch (for progress displays)."""
        return self.tracker.result() if self.tracker is not None else {}

    def run(self) -> History:
        """Train from `self.epoch` up to `self.epochs`; returns the history (also on early stop)."""
        cbs = self.callbacks
        self.stop_training = False
        cbs.on_train_begin()
        try:
            while self.epoch < self.epochs and not self.stop_training:
                if self.stop_request.requested:
                    raise self.stop_request.interrupt()
                self._run_epoch()
        except KeyboardInterrupt:
            self.stop_request.stopping = True  # from here a further signal is ignored
            self.interrupted = True
            cbs.on_interrupt()
            raise
        finally:
            cbs.on_train_end()
        return self.history

    def _batch_hooks(self) -> list:
        """The callbacks' on_train_batch_end methods, leaving out those that do nothing (not overridden), so a
        step pays only for callbacks with per-batch work."""
        from nntrain.training.callbacks import Callback

        return [cb.on_train_batch_end for cb in self.callbacks.callbacks
                if getattr(type(cb), "on_train_batch_end", None) is not Callback.on_train_batch_end]

    def _run_epoch(self) -> None:
        model, cbs, epoch = self.model, self.callbacks, self.epoch
        cbs.on_epoch_begin(epoch)
        start = time.perf_counter()
        order = self.shuffle_rng.permutation(self.n) if self.shuffle else None
        self.tracker = tracker = model.new_tracker()
        bs, sw_all = self.batch_size, self.sample_weight
        hooks = self._batch_hooks()
        # Shuffled batches are gathered into buffers reused every step (a full batch has one shape all epoch);
        # nothing keeps a batch beyond its step. MultiHot inputs are gathered by their own take().
        x_bufs = [_buffer(x, bs) for x in self.xs]
        # outputs trained on the same label array (a main and an auxiliary output) share one gathered batch
        y_unique = list({id(y): y for y in self.ys}.values())
        y_pick = [next(k for k, u in enumerate(y_unique) if u is y) for y in self.ys]
        y_bufs = [_buffer(y, bs) for y in y_unique]
        train_on_batch = model.train_on_batch
        for step in range(self.steps_per_epoch):
            lo, hi = step * bs, min(self.n, (step + 1) * bs)
            if order is None:
                xb = [x[lo:hi] for x in self.xs]
                yb = [y[lo:hi] for y in self.ys]
                sw = None if sw_all is None else sw_all[lo:hi]
            else:
                idx = order[lo:hi]
                full = hi - lo == bs
                xb = [_gather(x, idx, buf if full else None) for x, buf in zip(self.xs, x_bufs)]
                yb = [_gather(y, idx, buf if full else None) for y, buf in zip(y_unique, y_bufs)]
                yb = [yb[k] for k in y_pick]
                sw = None if sw_all is None else sw_all[idx]
            train_on_batch(xb, yb, sw, tracker)
            if self.stop_request.requested:
                raise self.stop_request.interrupt()  # the step is complete; the epoch is abandoned
            for hook in hooks:
                hook(step)
            if self.stop_training:
                break
        logs = tracker.result()
        if self.val is not None:
            vx, vy, vw = self.val
            logs.update(evaluate_lists(model, vx, vy, batch_size=bs, sample_weight=vw, prefix="val_"))
        logs["learning_rate"] = float(model.optimizer.learning_rate)
        logs["seconds"] = time.perf_counter() - start
        self.tracker = None
        self.epoch = epoch + 1
        self.history.append(epoch, logs)
        cbs.on_epoch_end(epoch, logs)

    # --- resume ---------------------------------------------------------------------------------------
    def get_state(self) -> dict:
        """Everything besides weights and optimizer slots that an exact resume needs (JSON-able)."""
        return {
            "epoch": self.epoch,
            "shuffle_rng": self.shuffle_rng.bit_generator.state,
            "model_rng": self.model.rng.bit_generator.state,
            # layers with their own seed (Dropout(seed=...)) draw from their own generator
            "layer_rngs": {l.name: l.rng.bit_generator.state for l in self.model.layers
                           if l.rng is not None and l.rng is not self.model.rng},
            "history": self.history.get_state(),
            "callbacks": self.callbacks.get_state(),
        }

    def set_state(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.shuffle_rng.bit_generator.state = state["shuffle_rng"]
        self.model.rng.bit_generator.state = state["model_rng"]
        for name, rng_state in state.get("layer_rngs", {}).items():
            self.model.get_layer(name).rng.bit_generator.state = rng_state
        self.history.set_state(state["history"])
        self.callbacks.set_state(state.get("callbacks", {}))


def fit(model: Model, x, y, epochs: int = 1, batch_size=32, validation_data=None, validation_split: float = 0.0,
        shuffle: bool = True, class_weight=None, sample_weight=None, callbacks=None, seed: int = 0) -> History:
    """Keras-style fit. validation_split takes the last fraction of the rows (before shuffling), as Keras."""
    if validation_split:
        if validation_data is not None:
            raise ConfigError("give validation_data or validation_split, not both")
        if not 0 < validation_split < 1:
            raise ConfigError(f"validation_split expects a fraction in (0, 1), got {validation_split!r}")
        xs, ys = model.as_input_list(x), model.as_output_list(y)
        n = _rows(xs)
        cut = int(n * (1 - validation_split))
        pick = lambda arrs, sl: [a[sl] for a in arrs]
        x_names, y_names = model.input_names, model.output_names
        as_x = lambda arrs: dict(zip(x_names, arrs)) if isinstance(x, dict) else arrs[0]
        as_y = lambda arrs: dict(zip(y_names, arrs)) if isinstance(y, dict) else arrs[0]
        validation_data = (as_x(pick(xs, slice(cut, None))), as_y(pick(ys, slice(cut, None))))
        x, y = as_x(pick(xs, slice(0, cut))), as_y(pick(ys, slice(0, cut)))
        if sample_weight is not None:  # the validation rows keep their weights, as in Keras
            validation_data = (*validation_data, np.asarray(sample_weight)[cut:])
            sample_weight = np.asarray(sample_weight)[:cut]
    trainer = Trainer(model, x, y, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
                      shuffle=shuffle, class_weight=class_weight, sample_weight=sample_weight,
                      callbacks=callbacks, seed=seed)
    return trainer.run()


def evaluate_lists(model: Model, xs: list, ys: list, batch_size: int = 32, sample_weight=None,
                   prefix: str = "") -> dict[str, float]:
    n = _rows(xs)
    bs = _batch_size(batch_size, n)
    tracker = model.new_tracker()
    for lo in range(0, n, bs):
        sw = None if sample_weight is None else sample_weight[lo:lo + bs]
        model.test_on_batch([x[lo:lo + bs] for x in xs], [y[lo:lo + bs] for y in ys], sw, tracker)
    return tracker.result(prefix)


def evaluate(model: Model, x, y, batch_size=32, sample_weight=None) -> dict[str, float]:
    """Loss and metrics over all of (x, y), exact over every sample, in inference mode."""
    xs, ys = model.as_input_list(x), model.as_output_list(y)
    model.check_data(xs, ys, "the evaluation data")
    sw = None if sample_weight is None else np.asarray(sample_weight, model.dtype)
    return evaluate_lists(model, xs, ys, batch_size=batch_size, sample_weight=sw)


def predict(model: Model, x, batch_size=32):
    """Inference-mode outputs, batched: an array for single-output models, else a dict by output name."""
    xs = model.as_input_list(x)
    model.check_data(xs, None, "the prediction data")
    n = _rows(xs)
    bs = _batch_size(batch_size, n)
    chunks = [model.predict_on_batch([x[lo:lo + bs] for x in xs]) for lo in range(0, n, bs)]
    if not chunks:
        outs = [np.zeros((0, *model.shapes[o]), model.dtype) for o in model.output_names]
    else:
        outs = [np.concatenate([c[i] for c in chunks]) for i in range(len(model.output_names))]
    return outs[0] if len(outs) == 1 else dict(zip(model.output_names, outs))
