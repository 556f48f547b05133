"""Correcting an NRE posterior to a reference likelihood by importance weights.

Where a model has a reference likelihood without gradients (a PyDDM solve, HDDM's numerical
full_ddm), NUTS runs on the network and the reference reweights its draws: weight
p_ref(x | theta) / p_nre(x | theta) per draw (the priors are the same), Pareto-smoothed (PSIS).
The Pareto k-hat says whether that is reliable (up to 0.7) or whether the network's posterior
is too far from the reference's for its draws to stand in for it. The cost is one reference
evaluation of the whole data set per draw: about a second for a PyDDM solve, so draws are
thinned to ``max_draws``.

:func:`correct_draws` works on an array of draws; :func:`hssm_nre.hssm.nre_correct` takes a
fitted HSSM model.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .fits import reweight, total_logp_fn
from .references import has_reference, reference_for

__all__ = ["Correction", "correct_draws", "KHAT_RELIABLE"]

#: Above this Pareto k-hat the importance-weighted estimate is unreliable (Vehtari et al.).
KHAT_RELIABLE = 0.7


@dataclass(frozen=True)
class Correction:
    """An NRE posterior reweighted to a reference likelihood (:func:`correct_draws`).

    Attributes
    ----------
    model
        The model name.
    reference
        What the reference is.
    params
        Parameter names, in the order of the arrays.
    draws
        The draws used, shape ``(S, P)`` (thinned to ``max_draws``).
    weights
        Their normalised importance weights, shape ``(S,)`` (0 where the reference has no density).
    khat
        Pareto k-hat of the weights: reliable up to 0.7.
    ess
        Effective sample size of the weights.
    mean, sd
        The reference posterior's mean and SD per parameter, from the weights.
    nre_mean, nre_sd
        The NRE posterior's, from the same draws.
    seconds
        Wall time of the reference evaluations.
    """

    model: str
    reference: str
    params: tuple[str, ...]
    draws: np.ndarray
    weights: np.ndarray
    khat: float
    ess: float
    mean: dict[str, float] = field(default_factory=dict)
    sd: dict[str, float] = field(default_factory=dict)
    nre_mean: dict[str, float] = field(default_factory=dict)
    nre_sd: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def reliable(self) -> bool:
        """Whether k-hat is at most 0.7."""
        return self.khat <= KHAT_RELIABLE

    def shift(self) -> dict[str, float]:
        """How far the NRE posterior mean sits from the reference's, in reference SDs."""
        return {p: (self.nre_mean[p] - self.mean[p]) / self.sd[p] if self.sd[p] > 0 else float("nan")
                for p in self.params}

    def resample(self, n: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
        """``n`` draws (default: as many as the effective sample size) from the reweighted
        posterior, by resampling with replacement: a dict of parameter -> array."""
        rng = np.random.default_rng(seed)
        n = max(1, int(self.ess)) if n is None else int(n)
        idx = rng.choice(len(self.weights), size=n, p=self.weights)
        return {p: self.draws[idx, i] for i, p in enumerate(self.params)}

    def __str__(self) -> str:
        verdict = "reliable" if self.reliable else f"NOT reliable (k-hat > {KHAT_RELIABLE}): refit with a better network"
        rows = [
            f"{self.model} posterior reweighted to {self.reference}: k-hat {self.khat:.2f} ({verdict}), "
            f"ESS {self.ess:.0f} of {len(self.weights)} draws, {self.seconds:.0f} s",
            f"{'param':>8} {'NRE mean':>10} {'NRE sd':>9} {'ref mean':>10} {'ref sd':>9} {'shift (ref SD)':>15}",
        ]
        shift = self.shift()
        for p in self.params:
            rows.append(f"{p:>8} {self.nre_mean[p]:10.4f} {self.nre_sd[p]:9.4f} {self.mean[p]:10.4f} "
                        f"{self.sd[p]:9.4f} {shift[p]:15.2f}")
        return "\n".join(rows)


def correct_draws(lik, draws, data, *, max_draws: int = 400, progress: bool = True) -> Correction:
    """Reweight draws of an NRE posterior to the model's reference likelihood.

    Parameters
    ----------
    lik
        The :class:`~hssm_nre.likelihood.NRELikelihood` the draws were sampled under.
    draws
        Posterior draws, shape ``(S, P)`` in ``lik.spec.params`` order: one parameter vector per
        draw (flat models; trial-wise parameters need one reference solve per trial).
    data
        The data, shape ``(n, 2)``: rt and response.
    max_draws
        At most this many draws, evenly thinned (each costs one reference evaluation).
    progress
        Print the expected cost first when the reference solves numerically.

    Returns
    -------
    Correction
        The weights, k-hat, and the reference posterior's moments beside the NRE posterior's.

    Raises
    ------
    ValueError
        The model has no reference likelihood, or ``draws`` / ``data`` have the wrong shape.
    MissingExtraError
        The reference needs a package that is not installed (``pip install "hssm-nre[validation]"``).
    """
    spec = lik.spec
    if not has_reference(spec.name):
        from .references import references

        raise ValueError(f"{spec.name!r} has no reference likelihood to correct to; references: "
                         f"{', '.join(references())}.")
    draws = np.asarray(draws, np.float64)
    data = np.asarray(data, np.float64)
    if draws.ndim != 2 or draws.shape[1] != spec.n_params:
        raise ValueError(f"draws must have shape (S, {spec.n_params}) ({', '.join(spec.params)}); got {draws.shape}.")
    if data.ndim != 2 or data.shape[1] != 2:
        raise ValueError(f"data must have shape (n, 2) (rt, response); got {data.shape}.")
    if int(max_draws) < 10:
        raise ValueError(f"max_draws must be at least 10, got {max_draws}.")
    ref = reference_for(spec)
    ref.require()
    if len(draws) > max_draws:
        draws = draws[np.linspace(0, len(draws) - 1, int(max_draws)).round().astype(int)]
    t0 = time.perf_counter()
    first = ref.total_logp(draws[:1], data)
    if progress and ref.solves:
        each = time.perf_counter() - t0
        print(f"Reweighting {len(draws)} draws of {spec.name} to {ref.description}: about "
              f"{each * len(draws) / 60:.1f} min (one solve per draw).", file=sys.stderr)
    ref_ll = np.concatenate([first, ref.total_logp(draws[1:], data)])
    seconds = time.perf_counter() - t0
    nre_ll = total_logp_fn(lik)(draws, data)
    live = np.isfinite(ref_ll) & np.isfinite(nre_ll)
    if live.sum() < 10:
        raise ValueError(f"The reference gives {np.sum(~live)} of {len(draws)} draws no density (e.g. data after "
                         "angle's collapse): there is nothing to reweight.")
    w_live = reweight(draws[live], (ref_ll - nre_ll)[live])
    weights = np.zeros(len(draws))
    weights[live] = w_live["weights"]
    params = tuple(spec.params)
    return Correction(
        model=spec.name,
        reference=ref.description,
        params=params,
        draws=draws,
        weights=weights,
        khat=float(w_live["khat"]),
        ess=float(w_live["ess"]),
        mean=dict(zip(params, map(float, w_live["mean"]))),
        sd=dict(zip(params, map(float, w_live["sd"]))),
        nre_mean=dict(zip(params, map(float, draws.mean(axis=0)))),
        nre_sd=dict(zip(params, map(float, draws.std(axis=0)))),
        seconds=seconds,
    )
