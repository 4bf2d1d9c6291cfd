"""Layers for token sequences: Embedding (ids to vectors) and GlobalAveragePooling1D (the mean over steps)."""

from __future__ import annotations

import numpy as np

from nntrain.engine.initializers import get_initializer
from nntrain.engine.layer import LAYERS, Layer, config_form, positive_int
from nntrain.engine.regularizers import get_regularizer
from nntrain.engine.sparse import MultiHot
from nntrain.errors import ConfigError


@LAYERS.register("Embedding")
class Embedding(Layer):
    """Integer ids (batch, length) -> vectors (batch, length, output_dim) by row lookup.

    Ids must lie in [0, input_dim). Default initializer: random_uniform(-0.05, 0.05) as in Keras.
    With `mask_zero`, id 0 is padding (so input_dim counts it: a vocabulary of n words needs n + 1): the output
    carries the mask `ids != 0`, which GlobalAveragePooling1D and the recurrent layers read.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer="random_uniform",
        embeddings_regularizer=None,
        mask_zero: bool = False,
        name: str | None = None,
        trainable: bool = True,
    ):
        super().__init__(name=name, trainable=trainable)
        if not isinstance(mask_zero, bool):
            raise ConfigError(f"Embedding(mask_zero=...) expects true or false, got mask_zero={mask_zero!r}")
        self.mask_zero = self.makes_mask = mask_zero
        self.input_dim = positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = positive_int("Embedding", "output_dim", output_dim)
        self.embeddings_initializer = get_initializer(embeddings_initializer)
        self.embeddings_regularizer = get_regularizer(embeddings_regularizer)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise self.shape_error(input_shape, "integer sequences of shape (None, length)")
        return (input_shape[0], self.output_dim)

    def create_params(self, input_shape):
        self.params["embeddings"] = self.embeddings_initializer((self.input_dim, self.output_dim), self.rng,
                                                                self.dtype)

    def forward(self, x, training):
        ids = np.asarray(x)
        if ids.dtype.kind == "f":
            ids = ids.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            bad = int(ids.max()) if ids.max() >= self.input_dim else int(ids.min())
            raise ConfigError(
                f"layer `{self.name}` (Embedding) got token id {bad}, outside [0, {self.input_dim}); "
                f"raise input_dim or limit the vocabulary (num_words)"
            )
        table = self.params["embeddings"]
        y = table[ids]

        def backward(dy):
            if self.trainable:
                # the sum of dy's rows into the rows of their ids is the product one_hot(ids).T @ dy: scipy's
                # compiled sparse kernel, in the same order as np.add.at, ~100x faster (0.6 vs 60 ms for an
                # IMDB-shaped batch of 128 x 200 ids, 32 wide)
                flat = ids.reshape(-1).astype(np.int32, copy=False)
                one_hot = MultiHot(np.arange(flat.size + 1), flat, self.input_dim)
                one_hot.t_matmul(dy.reshape(-1, self.output_dim), out=self.grads["embeddings"])
            return None

        return y, backward

    def output_mask(self, x, mask):
        """(batch, steps) bool, True at real tokens, with `mask_zero`; else none."""
        return np.asarray(x) != 0 if self.mask_zero else None

    @property
    def regularized(self):
        return self.embeddings_regularizer is not None

    def penalty(self):
        if self.embeddings_regularizer is None:
            return 0.0
        return self.embeddings_regularizer.penalty(self.params["embeddings"])

    def add_penalty_grads(self):
        if self.embeddings_regularizer is not None and self.trainable:
            self.embeddings_regularizer.add_gradient(self.params["embeddings"], self.grads["embeddings"])

    def get_config(self):
        return {
            "input_dim": self.input_dim, "output_dim": self.output_dim,
            "embeddings_initializer": config_form(self.embeddings_initializer),
            "embeddings_regularizer": config_form(self.embeddings_regularizer), "mask_zero": self.mask_zero,
            **super().get_config(),
        }


@LAYERS.register("GlobalAveragePooling1D")
class GlobalAveragePooling1D(Layer):
    """(batch, steps, features) -> (batch, features): the mean over steps; with a mask, over the unmasked steps only
    (a sequence with none gives zeros)."""

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise self.shape_error(input_shape, "a 3-D input (None, steps, features)")
        return (input_shape[1],)

    def forward(self, x, training):
        steps = x.shape[1]
        y = x.mean(axis=1)
        return y, lambda dy: np.broadcast_to(dy[:, None, :] / dy.dtype.type(steps), x.shape).copy()

    def forward_masked(self, x, training, mask):
        keep = mask[:, :, None].astype(x.dtype)
        count = np.maximum(keep.sum(axis=1), 1)  # (batch, 1); an all-padding row averages nothing: zeros
        y = (x * keep).sum(axis=1) / count
        return y, lambda dy: (dy / count)[:, None, :] * keep
