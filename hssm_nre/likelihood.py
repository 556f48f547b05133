"""Pure-JAX single-trial log-ratio, in the shape HSSM's JAX path expects.

Follows blackjax's ``build_kernel`` style: :func:`make_log_ratio_fn` returns a
pure function and leaves jitting to the caller (HSSM vmaps and jits it once per
model, with an exact VJP). Weights are converted to float64 once, so the
function is float64 in and out, as HSSM's float64 graphs need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from .architecture import JNP_OPS, logit_fn
from .config import ModelSpec

__all__ = ["make_log_ratio_fn", "make_batched_log_ratio_fn", "make_hssm_loglik"]


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
    dtype: str = "float64",
) -> Callable:
    """Return HSSM's per-trial callable ``f(data_i, *params) -> scalar``.

    ``data_i`` is ``[rt, response]``; ``params`` come in ``spec.params`` order,
    each a scalar or an array of shape (1,) (HSSM passes trial-constant
    parameters that way). If ``evidence`` is given (a function of rt, choice
    returning log p_hat(x)), it is added, turning the ratio into a normalised
    log-likelihood.
    """
    import jax.numpy as jnp

    batched = make_batched_log_ratio_fn(spec, weights, dtype=dtype)
    n = spec.n_params

    def loglik_fn(data, *params):
        if len(params) != n:
            raise TypeError(f"expected {n} parameters {spec.params}, got {len(params)}.")
        theta = jnp.stack([jnp.reshape(jnp.asarray(p, dtype), ()) for p in params])
        data = jnp.reshape(jnp.asarray(data, dtype), (-1,))
        out = batched(theta, data[0], data[1])
        if evidence is not None:
            out = out + evidence(data[0], data[1])
        return out

    return loglik_fn


def make_hssm_loglik(spec: ModelSpec, weights, *, evidence=None) -> Callable:
    """The callable handed to HSSM (alias kept for the HSSM glue)."""
    return make_log_ratio_fn(spec, weights, evidence=evidence)
