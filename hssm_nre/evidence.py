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
    """JAX ``f(rt, choice) -> log p_hat(rt, choice)`` (no gradient needed: x is data)."""
    import jax.numpy as jnp

    grid = jnp.asarray(evidence["grid"], dtype)
    table = jnp.asarray(evidence["logp"], dtype)
    choices = jnp.asarray(spec.choices, dtype)

    def evidence_fn(rt, choice):
        idx = jnp.argmax(choices == choice)
        lr = jnp.log(jnp.clip(rt, 1e-3, 40.0))
        return jnp.interp(lr, grid, table[idx])

    return evidence_fn
