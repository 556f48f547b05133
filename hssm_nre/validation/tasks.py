"""What one worker does: simulate its datasets, fit them, summarise each fit.

A task is a plain dict (it travels to Ray workers) naming the network (its folder, kind and
checksum), the study and a list of dataset indices; datasets are regenerated from the run's
seed and their index, so workers need no data and a rerun resumes exactly. Every result is one
dict per dataset, small enough for a JSON line in the run's checkpoint.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["run_task", "dataset"]


def dataset(spec, n_trials: int, seed: int, index: int):
    """Parameters drawn uniformly from the box (sampling constraints applied) and ``n_trials``
    trials simulated from them (timed-out trials replaced, as ``simulate_dataset`` does).
    Returns (theta (P,), data (n_trials, 2)) or None when the simulator could not give
    ``n_trials`` recorded trials."""
    import warnings

    from ..errors import NREWarning
    from ..simulate import sample_parameters, simulate_dataset

    rng = np.random.default_rng([seed, index, n_trials])
    theta = sample_parameters(spec, 1, rng)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NREWarning)
        df = simulate_dataset(spec.name, n_trials, theta=dict(zip(spec.params, theta.tolist())),
                              seed=int(rng.integers(0, 2**31 - 1)))
    if len(df) < n_trials:
        return None
    return theta, np.column_stack([df["rt"].to_numpy(np.float64), df["response"].to_numpy(np.float64)])


def _min_ess(draws: np.ndarray) -> float:
    """The smallest bulk effective sample size over the parameters of one chain's draws (S, P)."""
    from arviz_stats.base import array_stats

    return float(min(array_stats.ess(draws[None, :, j]) for j in range(draws.shape[1])))


def fit_settings(task: dict) -> dict:
    """What a task's fits depend on besides the network and the dataset: the seed, the sampler's
    draws and tuning, and for a calibration fit the draws the truth is ranked among (validate's
    checkpoint key, :func:`hssm_nre.validation.validate._row_key`)."""
    out = {"seed": task["seed"], "draws": task["draws"], "tune": task["tune"]}
    if task["study"] in ("sbc", "baseline"):
        out["n_ranks"] = int(min(task["n_ranks"], task["draws"]))
    return out


def fit_summary(draws: np.ndarray, theta: np.ndarray, n_ranks: int | None = None) -> dict:
    """One fit's draws (S, P) summarised against the truth ``theta``: its mean, SD, share of
    distinct draws and fewest effective draws; with ``n_ranks``, a calibration fit's rank of the
    truth and whether each central interval covers it."""
    from .calibration import LEVELS, ranks

    out = {
        "truth": np.asarray(theta).tolist(),
        "mean": draws.mean(axis=0).tolist(),
        "sd": draws.std(axis=0).tolist(),
        # a chain stuck on a few points (step size collapsed) has few distinct draws
        "distinct": float(len(np.unique(draws, axis=0)) / len(draws)),
        # the fewest effective draws over the parameters: intervals and ranks read off a
        # chain with few are noisy (validate reports their spread)
        "ess": _min_ess(draws),
    }
    if n_ranks is not None:
        out["rank"] = ranks(draws, theta, n_ranks).tolist()
        out["covered"] = {
            str(level): ((np.quantile(draws, (1 - level) / 2, axis=0) <= theta)
                         & (theta <= np.quantile(draws, (1 + level) / 2, axis=0))).tolist()
            for level in LEVELS
        }
    return out


def run_task(task: dict) -> list[dict]:
    """Fit the task's datasets; one summary dict per dataset (``skipped`` when the simulator
    could not give the trials)."""
    from ..likelihood import loglik
    from ..simulate import sample_parameters  # noqa: F401  (imported in the worker before timing)
    from .fits import fitter, reweight

    lik = loglik(None, weights=task["weights"], kind=task["kind"])
    if lik.sha256 != task["sha256"]:
        raise RuntimeError(
            f"the network at {task['weights']} changed during the validation run "
            f"(sha256 {lik.sha256[:12]}, expected {task['sha256'][:12]})."
        )
    n, study = task["n_trials"], task["study"]
    fit_lik = lik
    if study == "baseline":  # the same datasets, fitted with the LAN beside the network
        from .baseline import load_baseline

        fit_lik = load_baseline(task["baseline"], lik.spec)
        if fit_lik.sha256 != task["baseline_sha256"]:
            raise RuntimeError(f"the baseline {task['baseline']} changed during the validation run.")
    fit = fitter(fit_lik, n, draws=task["draws"], tune=task["tune"])
    out = []
    for index in task["indices"]:
        t0 = time.perf_counter()
        # the first fit in this process compiles the sampler: its time is not a typical fit's
        compiles = fit.fits_done == 0
        d = dataset(lik.spec, n, task["seed"], index)
        # what the row depends on besides the network (validate's checkpoint key)
        row = {"study": study, "n_trials": n, "index": index} | fit_settings(task)
        if study == "baseline":
            row["baseline_sha256"] = task["baseline_sha256"]
        if d is None:
            out.append(row | {"skipped": "the simulator gave too few trials before max_t"})
            continue
        theta, data = d
        draws = fit.fit(data, seed=task["seed"] * 100_003 + index)
        fit.fits_done += 1
        ranked = study in ("sbc", "baseline")
        row |= fit_summary(draws, theta, task["n_ranks"] if ranked else None)
        if study == "fidelity":
            from .references import reference_for

            ref = reference_for(lik.spec)
            nre_ll = fit.logp_draws(draws, data)
            ref_ll = ref.total_logp(draws, data)
            if np.isnan(ref_ll).any():  # e.g. trials near angle's collapse, where it has no density
                out.append(row | {"truth": theta.tolist(),
                                  "skipped": "the reference has no density at some trials (angle's collapse)"})
                continue
            # draws the reference gives zero density (after angle's collapse, below a grid's
            # tail) have importance weight 0: leaving them out is the same estimate
            live = np.isfinite(ref_ll)
            if live.mean() < 0.5:
                out.append(row | {"truth": theta.tolist(),
                                  "skipped": f"the reference gives {1 - live.mean():.0%} of the draws zero density"})
                continue
            w = reweight(draws[live], (ref_ll - nre_ll)[live])
            row["zero_weight_draws"] = int((~live).sum())
            row |= {
                "ref_mean": w["mean"].tolist(),
                "ref_sd": w["sd"].tolist(),
                "khat": w["khat"],
                "ess": w["ess"],
            }
        # wall time of the whole dataset (simulation, fit, reference): what the next run's cost
        # estimate is built from (hssm_nre.validation.validate)
        row["seconds"] = round(time.perf_counter() - t0, 3)
        row["compiled"] = compiles
        out.append(row)
    return out
