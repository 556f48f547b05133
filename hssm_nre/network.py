"""Build and fit a BayesFlow ``RatioApproximator`` (NRE-C) on single simulated trials.

BayesFlow owns the contrastive loss (Miller et al. 2022, NRE-C: K candidates per
observed trial, ``gamma`` odds of a dependent pair) and the training loop; the
classifier is :class:`NRELogitNetwork`, a Keras layer that evaluates the
structured logit of :mod:`hssm_nre.architecture` with ``keras.ops`` so the same
function runs in pure JAX at inference. BayesFlow's ``Dense(1)`` projector is
replaced by an identity so the classifier output *is* the log-ratio.

Keras must use the JAX backend (set ``KERAS_BACKEND=jax`` before keras is
imported; :func:`ensure_keras_backend` does it and fails clearly otherwise).
Training runs on whatever device JAX sees: the same code on CPU or GPU.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np

from .architecture import KERAS_OPS, flatten, head_is_exact, init_weights, logit_fn, tree_map, unflatten
from .config import ModelSpec, TrainSettings
from .interrupt import requested as interrupt_requested

__all__ = ["ensure_keras_backend", "train_network", "TrainResult"]


def ensure_keras_backend() -> None:
    """Select Keras's JAX backend, or fail if Keras was already loaded with another."""
    import sys

    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != "jax":
            raise RuntimeError(
                f"hssm_nre needs Keras on the JAX backend, but Keras is running on "
                f"{keras.backend.backend()!r}. Set KERAS_BACKEND=jax before importing keras."
            )
        return
    os.environ.setdefault("KERAS_BACKEND", "jax")
    if os.environ["KERAS_BACKEND"] != "jax":
        raise RuntimeError(
            f"hssm_nre needs KERAS_BACKEND=jax, got {os.environ['KERAS_BACKEND']!r}."
        )


def _make_layer_class():
    import keras

    class NRELogitNetwork(keras.layers.Layer):
        """Structured single-trial logit; input is concat([theta, rt, choice])."""

        def __init__(self, spec: ModelSpec, settings: TrainSettings, **kwargs):
            super().__init__(**kwargs)
            self.spec = spec
            self.settings = settings
            self._init = flatten(init_weights(spec, settings.widths, settings.evidence_widths, settings.seed))
            self._vars: dict[str, Any] = {}  # path in the weights' pytree -> Keras variable

        def build(self, input_shape):
            for path, value in self._init.items():
                # For the DDM the asymptote head holds the exact single-boundary (Wald)
                # exponents; training it only adds noise to terms like -2 d^2 / s that
                # reach hundreds of nats near u = 0, so it stays fixed.
                frozen = path == "head/W" and head_is_exact(self.spec)
                var = self.add_weight(
                    name=path.replace("/", "_"), shape=value.shape, initializer="zeros", trainable=not frozen
                )
                var.assign(value)
                self._vars[path] = var
            self.built = True

        def call(self, inputs, training=False):
            p = self.spec.n_params
            theta = inputs[..., :p]
            rt = inputs[..., p]
            choice = inputs[..., p + 1]
            logit = logit_fn(self.spec, unflatten(self._vars), theta, rt, choice, KERAS_OPS())
            return logit[..., None]

        def compute_output_shape(self, input_shape):
            return tuple(input_shape[:-1]) + (1,)

        def export_weights(self) -> dict[str, Any]:
            """The weights' pytree of float32 arrays (see :mod:`hssm_nre.architecture`)."""
            return tree_map(lambda v: np.asarray(keras.ops.convert_to_numpy(v), np.float32), unflatten(self._vars))

    return NRELogitNetwork


class TrainResult(dict):
    """``weights`` (the pytree of float32 arrays) plus ``history`` and timing fields."""


def train_network(
    spec: ModelSpec,
    settings: TrainSettings,
    data: dict[str, np.ndarray],
    *,
    progress: bool = True,
    deadline: float | None = None,
) -> TrainResult:
    """Fit the NRE-C classifier on pre-simulated single trials.

    ``data`` is the output of :func:`hssm_nre.simulate.simulate_training_data`.
    Steps are rounded to whole epochs over the simulated set; the learning rate
    follows a cosine decay over all steps. Seeded: the same seed, data and
    settings give the same weights on the same machine.

    ``deadline`` (a ``time.perf_counter()`` value) stops training after the step
    that passes it, and ``settings.extra["stop_after_steps"]`` after that step; the
    weights so far are returned with ``stopped_early=True`` and ``steps`` the
    number of steps actually run.

    Ctrl-C inside :class:`hssm_nre.interrupt.Interruptible` stops training after the current
    step (:func:`hssm_nre.interrupt.requested` is asked after each; Keras's step loop would
    swallow a raised ``KeyboardInterrupt``); the caller then raises it.
    """
    ensure_keras_backend()
    import bayesflow as bf
    import keras
    from tqdm.auto import tqdm

    keras.utils.set_random_seed(settings.seed)

    n = (len(data["rt"]) // settings.batch_size) * settings.batch_size  # bayesflow #737
    if n < 2 * settings.batch_size:
        raise ValueError(
            f"Only {len(data['rt'])} usable simulations for batch_size {settings.batch_size}."
        )
    arrays = {
        "theta": np.asarray(data["theta"][:n], np.float32),
        "x": np.stack([data["rt"][:n], data["choice"][:n]], axis=1).astype(np.float32),
    }
    batches = n // settings.batch_size
    epochs = max(1, round(settings.steps / batches))
    total_steps = epochs * batches

    adapter = (
        bf.Adapter()
        .rename("theta", "inference_variables")
        .rename("x", "inference_conditions")
    )
    dataset = bf.datasets.OfflineDataset(
        arrays, batch_size=settings.batch_size, adapter=adapter, shuffle=True
    )
    layer = _make_layer_class()(spec, settings)
    approx = bf.RatioApproximator(
        inference_network=layer,
        adapter=adapter,
        K=settings.K,
        gamma=settings.gamma,
        standardize=None,  # features are scaled inside the network, identically at inference
    )
    approx.build(
        {
            "inference_variables": (settings.batch_size, spec.n_params),
            "inference_conditions": (settings.batch_size, 2),
        }
    )
    # BayesFlow puts a Dense(1) on top of the classifier: pin it to the identity so
    # the classifier output *is* the log-ratio (exported weights need no projector).
    approx.projector.set_weights([np.ones((1, 1), np.float32), np.zeros((1,), np.float32)])
    approx.projector.trainable = False
    schedule = keras.optimizers.schedules.CosineDecay(
        settings.learning_rate, decay_steps=total_steps, alpha=0.02
    )
    approx.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule))

    bar = tqdm(total=total_steps, desc=f"training {spec.name}", unit="step", disable=not progress)
    losses: list[float] = []
    done = {"steps": 0, "stopped_early": False}
    stop_after = settings.extra.get("stop_after_steps")

    class _Progress(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            bar.update(1)
            done["steps"] += 1
            if logs and "loss" in logs and batch % 50 == 0:
                bar.set_postfix(loss=f"{float(logs['loss']):.4f}")
            out_of_time = deadline is not None and time.perf_counter() > deadline
            at_stop = stop_after is not None and stop_after < total_steps and done["steps"] >= stop_after
            if interrupt_requested():
                self.model.stop_training = True
                return
            if (out_of_time or at_stop) and not done["stopped_early"]:
                done["stopped_early"] = True
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    t0 = time.perf_counter()
    try:
        approx.fit(dataset=dataset, epochs=epochs, verbose=0, callbacks=[_Progress()])
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0
    weights = layer.export_weights()
    bad = [k for k, v in flatten(weights).items() if not np.all(np.isfinite(v))]
    if bad:
        raise FloatingPointError(f"Training diverged: non-finite weights in {bad}.")
    return TrainResult(
        weights=weights,
        history=losses,
        train_seconds=elapsed,
        steps=done["steps"],
        planned_steps=total_steps,
        stopped_early=done["stopped_early"],
        epochs=epochs,
        n_used=n,
        approximator=approx,
    )


def steps_per_second_estimate() -> float:
    """A rough CPU figure used for the time estimate printed before training: steps of batch
    1,024 (K = 8, 3 x 128 MLP) per second per 2 cores. Measured on the project's 2-core machines:
    7.1-7.7 (2026-12-03; the same on the generic features, with x64 off and with one XLA thread),
    15-17 on the hosts of 2026-11-28; the lower figure, so the estimate errs long."""
    return 7.5 * max(1, math.floor((os.cpu_count() or 2) / 2))
