"""Pure-JAX single-trial log-ratio, in the shape HSSM's JAX path expects.

Follows blackjax's ``build_kernel`` style: :func:`make_log_ratio_fn` returns a
pure function and leaves jitting to the caller (HSSM vmaps and jits it once per
model, with an exact VJP). The HSSM callable is float64 in and out, as HSSM's
float64 graphs need; inside, the network runs in float32 by default
(``compute_dtype``): the weights are float32 anyway, and on CPU the float32
forward + gradient is ~2.8x faster than float64 (7.8 ms -> 2.8 ms for 5,000
trials, measured on 2 cores), which is most of NUTS's cost. The evidence term is
added in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from .architecture import JNP_OPS, logit_fn
from .config import ModelSpec

__all__ = ["make_log_ratio_fn", "make_batched_log_ratio_fn", "make_exact_logp", "SOFT_WALL"]

#: Outside the training box the network is evaluated at the nearest point of the
#: box and a quadratic wall is subtracted: SOFT_WALL * sum(((theta - clip(theta)) /
#: box width)^2) nats per trial (1 nat at 1 % of a parameter's range beyond the
#: box). Continuous where HSSM's own bound is a cliff (every out-of-box trial set to
#: -66.1), which NUTS cannot cross: a regression whose trial-wise value leaves the
#: box for one extreme covariate value stalls the sampler (step size 1e-4, 1,023
#: leapfrog steps per draw, measured on 5,000 trials).
SOFT_WALL = 1.0e4


def _as_jax(weights: Mapping[str, np.ndarray], dtype):
    import jax.numpy as jnp

    return {k: jnp.asarray(np.asarray(v), dtype=dtype) for k, v in weights.items()}


def make_batched_log_ratio_fn(
    spec: ModelSpec, weights: Mapping[str, np.ndarray], *, dtype: str = "float64"
) -> Callable:
    """Return ``f(theta, rt, choice) -> log_ratio`` over any matching leading shape."""
    import jax.numpy as jnp

    w = _as_jax(weights, dtype)
    ops = JNP_OPS()

    def log_ratio_fn(theta, rt, choice):
        theta = jnp.asarray(theta, dtype)
        rt = jnp.asarray(rt, dtype)
        choice = jnp.asarray(choice, dtype)
        return logit_fn(spec, w, theta, rt, choice, ops)

    return log_ratio_fn


def make_log_ratio_fn(
    spec: ModelSpec,
    weights: Mapping[str, np.ndarray],
    *,
    evidence: Callable | None = None,
    compute_dtype: str = "float32",
    soft_box: bool = True,
) -> Callable:
    """Return HSSM's per-trial callable ``f(data_i, *params) -> scalar`` (float64 out).

    ``data_i`` is ``[rt, response]``; ``params`` come in ``spec.params`` order,
    each a scalar or an array of shape (1,) (HSSM passes trial-constant
    parameters that way). If ``evidence`` is given (a function of rt, choice
    returning log p_hat(x)), it is added, turning the ratio into a normalised
    log-likelihood. With ``soft_box`` (the default), parameters outside the
    training box are handled by :data:`SOFT_WALL` (continuous) instead of being
    passed to a network that never saw them.
    """
    import jax.numpy as jnp

    batched = make_batched_log_ratio_fn(spec, weights, dtype=compute_dtype)
    n = spec.n_params
    lo = np.asarray(spec.lower, np.float64)
    hi = np.asarray(spec.upper, np.float64)
    width = hi - lo

    def loglik_fn(data, *params):
        if len(params) != n:
            raise TypeError(f"expected {n} parameters {spec.params}, got {len(params)}.")
        theta = jnp.stack([jnp.reshape(jnp.asarray(p), ()) for p in params])
        data = jnp.reshape(jnp.asarray(data), (-1,))
        wall = 0.0
        if soft_box:
            inside = jnp.clip(theta, lo, hi)
            wall = SOFT_WALL * jnp.sum(((theta - inside) / width) ** 2)
            theta = inside
        out = batched(theta, data[0], data[1]).astype(jnp.float64) - wall
        if evidence is not None:
            out = out + evidence(data[0], data[1])
        return out

    return loglik_fn


def make_exact_logp(
    spec: ModelSpec, loglik_fn: Callable, log_z: Callable, trialwise: tuple[bool, ...]
) -> Callable:
    """Full-batch ``f(data, *params) -> (n_trials,)``: ``loglik_fn`` (:func:`make_log_ratio_fn`,
    built on the raw network) vmapped over trials, less ``log_z`` (e.g.
    :func:`hssm_nre.normalisation.make_log_z_fn`) at the model's one parameter vector.

    For models whose parameters are constant across trials only: HSSM hands the parent
    parameter over as a per-trial vector even when it is an intercept (``trialwise``, its
    ``is_trialwise`` flags), so log Z is evaluated once at the first trial's values, not
    vmapped (which would integrate it once per trial). Parameters outside the training box
    are clipped into it for log Z, as the network's input is.
    """
    import jax
    import jax.numpy as jnp

    if len(trialwise) != spec.n_params:
        raise ValueError(f"trialwise needs {spec.n_params} flags {spec.params}, got {len(trialwise)}.")
    per_trial = jax.vmap(loglik_fn, in_axes=(0, *(0 if t else None for t in trialwise)))
    lo = np.asarray(spec.lower, np.float64)
    hi = np.asarray(spec.upper, np.float64)

    def logp(data, *params):
        theta = jnp.stack([jnp.reshape(jnp.asarray(p), (-1,))[0] for p in params])
        return per_trial(data, *params) - log_z(jnp.clip(theta, lo, hi))

    return logp
