"""Simulation-based calibration and coverage: the statistics, apart from the fits.

For datasets simulated from the prior a fit uses, the rank of each true parameter among L
(roughly independent) posterior draws is uniform on 0..L when the posterior is right
(Talts et al. 2018). The ranks' empirical CDF is compared with the uniform one through its
difference, with a *simultaneous* band: every point of a correct ECDF difference stays inside
with probability 1 - alpha (Säilynoja, Bürkner & Vehtari 2022, the band calibrated here by
simulation). Central-interval coverage, with its Monte Carlo standard error, is the same
question asked at a few levels.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ranks", "ecdf_difference", "simultaneous_band", "coverage", "recovery"]

#: Levels of the central intervals whose coverage is reported.
LEVELS = (0.5, 0.9, 0.95)


def ranks(draws: np.ndarray, truth: np.ndarray, n_ranks: int = 100) -> np.ndarray:
    """Rank of each true parameter among ``n_ranks`` draws thinned evenly from ``draws``
    (draws, P); returns (P,) integers in 0..n_ranks."""
    draws = np.asarray(draws)
    idx = np.linspace(0, len(draws) - 1, min(n_ranks, len(draws))).round().astype(int)
    return (draws[idx] < np.asarray(truth)[None, :]).sum(axis=0)


def _grid(n_ranks: int) -> np.ndarray:
    """Where the ECDF is evaluated: after each rank value but the last (where it is 1 by
    construction)."""
    return (np.arange(n_ranks) + 1) / (n_ranks + 1)


def ecdf_difference(r: np.ndarray, n_ranks: int) -> tuple[np.ndarray, np.ndarray]:
    """(z, ECDF(z) - z) of fractional ranks (r + 1) / (n_ranks + 1) for ranks ``r`` (n,)."""
    z = _grid(n_ranks)
    frac = (np.asarray(r) + 1) / (n_ranks + 1)
    ecdf = (frac[None, :] <= z[:, None] + 1e-12).mean(axis=1)
    return z, ecdf - z


def simultaneous_band(n: int, n_ranks: int, alpha: float = 0.01, n_sim: int = 2000, seed: int = 0) -> np.ndarray:
    """Half-widths (len(z),) of the simultaneous 1 - alpha band for the ECDF difference of
    ``n`` uniform ranks on 0..n_ranks: pointwise binomial intervals at a level gamma chosen so
    that all points of simulated uniform ECDFs lie inside with probability 1 - alpha."""
    from scipy.stats import binom

    rng = np.random.default_rng(seed)
    z = _grid(n_ranks)
    sims = rng.integers(0, n_ranks + 1, size=(n_sim, n))
    frac = (sims + 1) / (n_ranks + 1)
    counts = (frac[:, :, None] <= z[None, None, :] + 1e-12).sum(axis=1)  # (n_sim, len(z))
    # the smallest pointwise two-sided tail probability each simulated ECDF reaches
    cdf = binom.cdf(counts, n, z[None, :])
    sf = binom.sf(counts - 1, n, z[None, :])
    tail = np.minimum(cdf, sf).min(axis=1)
    gamma = np.quantile(tail, alpha)  # pointwise level whose union holds 1 - alpha
    lo = binom.ppf(gamma, n, z) / n
    hi = binom.isf(gamma, n, z) / n
    return np.maximum(z - lo, hi - z)


def coverage(draws_list, truths: np.ndarray, levels=LEVELS) -> dict[float, np.ndarray]:
    """Fraction of datasets whose central ``level`` interval covers the truth, per parameter:
    {level: (P,)}."""
    out = {}
    for level in levels:
        q = [(1 - level) / 2, (1 + level) / 2]
        hit = []
        for draws, truth in zip(draws_list, truths):
            lo, hi = np.quantile(draws, q, axis=0)
            hit.append((lo <= truth) & (truth <= hi))
        out[level] = np.mean(hit, axis=0)
    return out


def coverage_misses(cov: dict[float, np.ndarray], n: int, params, z_tol: float = 2.5) -> list[str]:
    """Coverages more than ``z_tol`` Monte Carlo SE below their level (over-coverage is
    conservative, not wrong)."""
    misses = []
    for level, c in cov.items():
        se = np.sqrt(level * (1 - level) / n)
        for p, ci in zip(params, c):
            if ci < level - z_tol * se:
                misses.append(f"{p} at {level:.0%}: {ci:.2f}")
    return misses


def recovery(means: np.ndarray, sds: np.ndarray, truths: np.ndarray, prior_sd: np.ndarray) -> dict[str, np.ndarray]:
    """Per parameter: correlation of posterior mean with truth, RMSE / prior SD, and
    contraction 1 - (posterior SD / prior SD)^2 (the share of prior variance the data removed)."""
    means, sds, truths = (np.asarray(x, float) for x in (means, sds, truths))
    corr = np.array([np.corrcoef(means[:, j], truths[:, j])[0, 1] for j in range(truths.shape[1])])
    rmse = np.sqrt(np.mean((means - truths) ** 2, axis=0)) / prior_sd
    contraction = 1 - np.mean(sds**2, axis=0) / prior_sd**2
    return {"correlation": corr, "rmse_over_prior_sd": rmse, "contraction": contraction}
