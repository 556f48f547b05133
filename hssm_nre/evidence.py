"""The evidence term log p_hat(x): the marginal density of (rt, choice) under the training prior.

The ratio network estimates log p(x | theta) - log p(x). Adding a density
estimate of log p(x) turns it into a log-likelihood that is (approximately)
normalised, which HSSM's lapse mixture, ``log_likelihood`` and LOO need. The
estimate is a smoothed histogram of log rt per choice, fitted on the same
simulations as the ratio network, evaluated by linear interpolation in JAX. It
does not depend on theta, so it never changes the posterior of a model without
a lapse term.
"""

from __future__ import annotations

import numpy as np

from .config import ModelSpec

__all__ = ["fit_evidence", "make_evidence_fn", "evidence_logp_numpy"]

LOG_RT_MIN, LOG_RT_MAX, N_GRID = np.log(1e-3), np.log(40.0), 512


def fit_evidence(spec: ModelSpec, rt: np.ndarray, choice: np.ndarray, *, smooth_bins: float = 2.0):
    """Return ``{"grid": (G,), "logp": (n_choices, G)}``: log density in rt per choice."""
    edges = np.linspace(LOG_RT_MIN, LOG_RT_MAX, N_GRID + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    width = edges[1] - edges[0]
    k = np.arange(-int(4 * smooth_bins) - 1, int(4 * smooth_bins) + 2)
    kernel = np.exp(-0.5 * (k / smooth_bins) ** 2)
    kernel /= kernel.sum()
    log_rt = np.log(np.clip(rt, 1e-3, 40.0))
    n = len(rt)
    out = []
    for c in spec.choices:
        counts, _ = np.histogram(log_rt[choice == c], bins=edges)
        dens = np.convolve(counts.astype(np.float64), kernel, mode="same") / (n * width)
        # density of log rt (joint with choice) -> density of rt: divide by rt
        out.append(np.log(np.maximum(dens, 1e-12)) - centres)
    return {"grid": centres.astype(np.float32), "logp": np.stack(out).astype(np.float32)}


def evidence_logp_numpy(spec: ModelSpec, evidence, rt, choice) -> np.ndarray:
    rt, choice = np.broadcast_arrays(np.asarray(rt, float), np.asarray(choice, float))
    out = np.full(rt.shape, -np.inf)
    lr = np.log(np.clip(rt, 1e-3, 40.0))
    for i, c in enumerate(spec.choices):
        m = choice == c
        out[m] = np.interp(lr[m], evidence["grid"], evidence["logp"][i])
    return out


def make_evidence_fn(spec: ModelSpec, evidence, dtype: str = "float64"):
    """JAX ``f(rt, choice) -> log p_hat(rt, choice)`` (no gradient needed: x is data); elementwise
    over any shape.

    Linear interpolation in log rt on the table's uniform grid, clamped at its ends as
    ``jnp.interp`` is; the cell is found by arithmetic rather than a search (the term is
    evaluated for every trial at every likelihood call)."""
    import jax.numpy as jnp

    grid = np.asarray(evidence["grid"], np.float64)
    g0, n = float(grid[0]), len(grid)
    step = (float(grid[-1]) - g0) / (n - 1)
    if not np.allclose(np.diff(grid), step, rtol=1e-4, atol=1e-6):
        raise ValueError("the evidence table's grid must be uniform in log rt.")
    table = jnp.asarray(np.asarray(evidence["logp"]).ravel(), dtype)  # (n_choices * n,)
    choices = jnp.asarray(spec.choices, dtype)

    def evidence_fn(rt, choice):
        row = jnp.argmax(jnp.asarray(choice, dtype)[..., None] == choices, axis=-1)
        pos = jnp.clip((jnp.log(jnp.clip(rt, 1e-3, 40.0)) - g0) / step, 0.0, n - 1.0)
        i = jnp.clip(jnp.floor(pos), 0, n - 2).astype(jnp.int32)
        w = (pos - i).astype(dtype)
        base = row * n + i
        return table[base] * (1 - w) + table[base + 1] * w

    return evidence_fn
