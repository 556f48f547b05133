"""Is the NRE likelihood a density? Integrals of p_hat(x | theta) over x, and absolute errors.

``loglik_kind="nre"`` returns log p_hat(x | theta) = log r_hat(theta, x) + log p_hat(x)
(ratio network plus evidence term). Where both are right it integrates to one
over x for every theta: summed over choices and integrated over rt. This module
computes that integral on a fine grid in log u (u = rt - t for models with a
non-decision time, u = rt otherwise), from ``U_MIN`` up to the simulator's
``max_t`` (the training data are the simulator's trials that did not time out,
so that is the support the network learned), and, for the DDM, the absolute
log-likelihood error against analytic WFPT on trials simulated from each theta.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .architecture import support_edge
from .config import SIM_MAX_T, ModelSpec

__all__ = ["log_density_grid", "normalisation_integrals", "absolute_error_vs_wfpt", "make_log_density_fn"]

#: Smallest u integrated from (seconds); the mass below it is negligible for
#: every ssm-simulators model (the first-passage density vanishes faster than any power).
U_MIN = 1e-4


def make_log_density_fn(spec: ModelSpec, weights, evidence) -> Callable:
    """``f(theta, rt, choice) -> log p_hat(x | theta)`` over any broadcastable leading shape (numpy out)."""
    from .evidence import evidence_logp_numpy
    from .likelihood import make_batched_log_ratio_fn

    ratio = make_batched_log_ratio_fn(spec, weights, dtype="float32")

    def f(theta, rt, choice):
        rt, choice = np.broadcast_arrays(np.asarray(rt, np.float64), np.asarray(choice, np.float64))
        lr = np.asarray(ratio(np.asarray(theta, np.float32), rt.astype(np.float32), choice.astype(np.float32)))
        return lr.astype(np.float64) + evidence_logp_numpy(spec, evidence, rt, choice)

    return f


def log_density_grid(n_grid: int = 1500, u_max: float = SIM_MAX_T) -> np.ndarray:
    """The u grid the integrals use: geometric from ``U_MIN`` to ``u_max``."""
    return np.geomspace(U_MIN, u_max, n_grid)


def normalisation_integrals(
    spec: ModelSpec,
    log_density_fn: Callable,
    theta: np.ndarray,
    *,
    n_grid: int = 1500,
    u_max: float = SIM_MAX_T,
    batch: int = 64,
) -> dict[str, np.ndarray]:
    """Integral of exp(log_density) over rt, summed over choices, for each row of ``theta``.

    Returns ``{"integral": (M,), "per_choice": (M, n_choices)}``. Uses the
    trapezoid rule in log u (``int p du = int p u dlog u``) on ``n_grid`` points,
    accurate to ~1e-4 for densities as smooth as first-passage times.
    """
    theta = np.atleast_2d(np.asarray(theta, np.float64))
    if theta.shape[1] != spec.n_params:
        raise ValueError(f"theta must have {spec.n_params} columns {spec.params}, got {theta.shape[1]}.")
    u = log_density_grid(n_grid, u_max)
    log_u = np.log(u)
    per_choice = np.empty((len(theta), len(spec.choices)))
    for start in range(0, len(theta), batch):
        th = theta[start : start + batch]  # (B, P)
        rt = support_edge(spec, th)[:, None] + u[None, :] if spec.shift else np.broadcast_to(u, (len(th), len(u)))
        TH = np.broadcast_to(th[:, None, :], (len(th), len(u), spec.n_params))
        for j, c in enumerate(spec.choices):
            logp = log_density_fn(TH, rt, np.full(rt.shape, float(c)))
            per_choice[start : start + batch, j] = np.trapezoid(np.exp(logp) * u, log_u, axis=1)
    return {"integral": per_choice.sum(axis=1), "per_choice": per_choice}


def absolute_error_vs_wfpt(
    spec: ModelSpec,
    log_density_fn: Callable,
    *,
    n_theta: int = 200,
    n_trials: int = 50,
    seed: int = 0,
) -> dict[str, np.ndarray | float]:
    """Absolute log-likelihood error of the NRE against its reference likelihood (WFPT for
    the DDM; ``reference.REFERENCE_MODELS``) on trials simulated from theta.

    ``n_theta`` parameter vectors are drawn from the training prior; from each,
    ``n_trials`` trials are simulated (boundary-corrected, i.e. from the
    continuous DDM). The error is log p_hat(x | theta) - log WFPT(x | theta) at
    the theta that generated x: the typical case a fitted model meets.
    """
    import ssms

    from .reference import WFPT_FLOOR, reference_logp, require_reference

    require_reference(spec.name)
    from .simulate import recorded, sample_parameters, simulator_theta

    rng = np.random.default_rng(seed)
    theta = sample_parameters(spec, n_theta, rng)
    sim_theta = simulator_theta(spec, theta)
    out = ssms.Simulator(spec.name).simulate(
        {p: np.repeat(sim_theta[:, i], n_trials) for i, p in enumerate(spec.params)},
        n_samples=1,
        max_t=SIM_MAX_T,
        return_option="minimal",
        random_state=int(rng.integers(0, 2**31 - 1)),
    )
    rt = np.asarray(out["rts"], np.float64).reshape(n_theta, n_trials)
    ch = np.asarray(out["choices"], np.float64).reshape(n_theta, n_trials)
    TH = np.repeat(theta[:, None, :], n_trials, axis=1)
    nre = log_density_fn(TH, rt, ch)
    ref = reference_logp(spec.name, rt, ch, *(TH[..., i] for i in range(spec.n_params)))
    ok = (ref > WFPT_FLOOR) & recorded(spec, rt, ch, TH[..., spec.params.index("t")])
    d = np.where(ok, nre - ref, np.nan)
    return {
        "theta": theta,
        "diff": d,
        "median_abs": float(np.nanmedian(np.abs(d))),
        "p90_abs": float(np.nanquantile(np.abs(d), 0.9)),
        "mean": float(np.nanmean(d)),
        "per_theta_mean": np.nanmean(d, axis=1),
    }
