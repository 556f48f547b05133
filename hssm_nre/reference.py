"""Analytic references (WFPT for the DDM, its drift-variability form for ddm_sdv)
and per-trial error metrics.

The references are HSSM's own analytic ``logp_ddm`` and ``logp_ddm_sdv``
(Navarro & Fuss 2009), in the same convention as ssm-simulators' ``ddm`` and
``ddm_sdv`` (``a`` is the boundary, separation 2a; HSSM doubles ``a`` inside). An NRE learns log p(x|theta) - log p(x), so it
is compared with WFPT through differences over theta at fixed x, where the
log p(x) term cancels.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .config import ModelSpec

__all__ = [
    "ANALYTIC_MODELS",
    "require_analytic",
    "analytic_logp",
    "wfpt_logp",
    "per_trial_error",
    "predicted_posterior_shift",
]

#: HSSM's analytic floor; points at or below it are excluded from comparisons.
WFPT_FLOOR = -60.0

#: Models with an analytic likelihood in HSSM, and its function there. The NRE of
#: these is compared with it (same parameter order as ssm-simulators).
ANALYTIC_MODELS = {"ddm": "logp_ddm", "ddm_sdv": "logp_ddm_sdv"}


def require_analytic(name: str) -> None:
    if name not in ANALYTIC_MODELS:
        raise ValueError(
            f"Model {name!r} has no analytic likelihood in HSSM to compare with; "
            f"analytic models: {', '.join(ANALYTIC_MODELS)}."
        )


@lru_cache(maxsize=None)
def _compiled(name: str, n_params: int):
    import pytensor
    import pytensor.tensor as pt
    from hssm.likelihoods import analytical

    logp = getattr(analytical, ANALYTIC_MODELS[name])
    data = pt.dmatrix("data")
    theta = [pt.dvector(f"p{i}") for i in range(n_params)]
    return pytensor.function([data, *theta], logp(data, *theta))


def analytic_logp(model: str, rt, choice, *theta) -> np.ndarray:
    """HSSM's analytic log-density per trial for ``model`` (``theta`` in ssm-simulators
    order); every argument broadcastable to one shape."""
    require_analytic(model)
    rt, choice, *theta = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in (rt, choice, *theta)))
    shape = rt.shape
    data = np.stack([rt.ravel(), choice.ravel()], axis=1)
    f = _compiled(model, len(theta))
    return np.asarray(f(data, *(th.ravel() for th in theta))).reshape(shape)


def wfpt_logp(rt, choice, v, a, z, t) -> np.ndarray:
    """Analytic DDM log-density per trial; every argument broadcastable to one shape."""
    return analytic_logp("ddm", rt, choice, v, a, z, t)


def per_trial_error(
    spec: ModelSpec,
    log_ratio_fn,
    *,
    n_x: int = 200,
    n_theta: int = 200,
    seed: int = 0,
) -> dict[str, np.ndarray | float]:
    """Per-trial log-likelihood error of an NRE against HSSM's analytic likelihood
    (WFPT for the DDM; see ``ANALYTIC_MODELS``), over the training box.

    For each of ``n_x`` trials x simulated under the training prior, ``n_theta``
    parameter vectors are drawn uniformly from the box (with t < rt, where the
    likelihood is positive). The error at (theta_j, x) is
    |d_j - median_j d_j| with d_j = log_ratio(theta_j, x) - log WFPT(x | theta_j):
    a difference over theta at fixed x, so log p(x) cancels. Points where WFPT is
    below -60 (HSSM's floor region) are excluded.
    """
    require_analytic(spec.name)
    from .simulate import simulate_chunk

    rng = np.random.default_rng(seed)
    sim = simulate_chunk(spec, n_x, np.random.SeedSequence(seed))
    rt, ch = sim["rt"].astype(np.float64), sim["choice"].astype(np.float64)
    lo, hi = np.asarray(spec.lower), np.asarray(spec.upper)
    theta = rng.uniform(lo, hi, size=(len(rt), n_theta, spec.n_params))
    it = spec.params.index("t")
    theta[..., it] = rng.uniform(0, 1, size=theta.shape[:2]) * np.minimum(rt, hi[it])[:, None]
    R = np.broadcast_to(rt[:, None], theta.shape[:2])
    C = np.broadcast_to(ch[:, None], theta.shape[:2])
    lr = np.asarray(log_ratio_fn(theta, R, C))
    ll = analytic_logp(spec.name, R, C, *(theta[..., i] for i in range(spec.n_params)))
    ok = ll > WFPT_FLOOR
    d = np.where(ok, lr - ll, np.nan)
    err = np.abs(d - np.nanmedian(d, axis=1, keepdims=True))
    flat = err[ok]
    return {
        "median": float(np.median(flat)),
        "p90": float(np.quantile(flat, 0.9)),
        "err": err,
        "theta": theta,
        "rt": rt,
        "choice": ch,
    }


def predicted_posterior_shift(
    spec: ModelSpec,
    log_ratio_fn,
    theta_star,
    *,
    n_trials=(1000, 5000),
    n_x: int = 20_000,
    seed: int = 0,
    eps: float = 1e-5,
) -> dict:
    """Predicted posterior-mean shift of the NRE relative to the analytic likelihood, in SDs.

    With i.i.d. trials, a per-trial log-likelihood error d(theta, x) shifts the
    posterior mean by about Delta = I^-1 E_x[grad d(theta*, x)] (I: per-trial
    Fisher information), while the posterior SD is sqrt((I^-1)_jj / N). The
    shift in SDs at N trials is sqrt(N) * Delta_j / sqrt((I^-1)_jj): a cheap,
    MCMC-free predictor of the fidelity target (checked against NUTS in the
    benchmark). Gradients: the NRE's by JAX, WFPT's by central differences.
    """
    import jax

    from .compare import simulate_dataset

    require_analytic(spec.name)

    theta_star = np.asarray(theta_star, np.float64)
    df = simulate_dataset(spec.name, n_x, theta=dict(zip(spec.params, theta_star)), seed=seed)
    rt, ch = df.rt.to_numpy(float), df.response.to_numpy(float)
    g_nre = np.asarray(
        jax.vmap(jax.grad(log_ratio_fn), in_axes=(None, 0, 0))(theta_star, rt, ch)
    )
    g_ll = np.empty_like(g_nre)
    for j in range(spec.n_params):
        e = np.zeros(spec.n_params)
        e[j] = eps
        up = analytic_logp(spec.name, rt, ch, *(theta_star + e))
        dn = analytic_logp(spec.name, rt, ch, *(theta_star - e))
        g_ll[:, j] = (up - dn) / (2 * eps)
    ok = np.all(np.isfinite(g_ll), axis=1) & np.all(np.isfinite(g_nre), axis=1)
    fisher = g_ll[ok].T @ g_ll[ok] / ok.sum()
    inv = np.linalg.inv(fisher)
    bias = (g_nre[ok] - g_ll[ok]).mean(axis=0)
    delta = inv @ bias
    sd1 = np.sqrt(np.diag(inv))
    return {
        "theta": dict(zip(spec.params, theta_star.tolist())),
        "shift_per_trial": dict(zip(spec.params, delta.tolist())),
        "shift_sd": {int(n): dict(zip(spec.params, (np.sqrt(n) * delta / sd1).tolist())) for n in n_trials},
    }
