"""The fits behind a validation: NUTS on a network's likelihood, compiled once per shape.

A validation fits hundreds of simulated datasets. Building an HSSM model for each would compile
the sampler hundreds of times; here the model is written once in numpyro over the pure-JAX
likelihood (:func:`hssm_nre.loglik`) with uniform priors over the training box (the prior the
datasets are drawn from, and the one HSSM gives NRE models by default), and
``jit_model_args=True`` reuses the compiled sampler for every dataset of the same size. The
likelihood is the one ``hssm.HSSM(..., loglik_kind="nre")`` uses for the same network and kind.

:func:`reweight` turns a fit's draws into the reference posterior's moments by Pareto-smoothed
importance sampling (Vehtari et al. 2024), with the Pareto k-hat that says when to trust it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Fitter", "fitter", "reweight"]

_FITTERS: dict[tuple, Fitter] = {}


@dataclass
class Fitter:
    """``fit(data, seed) -> draws (draws, n_params)`` for datasets of ``n_trials`` trials."""

    fit: Callable
    logp_draws: Callable  # (draws (S, P), data (n, 2)) -> (S,) total log-likelihood per draw
    n_trials: int


def fitter(lik, n_trials: int, *, draws: int, tune: int, target_accept: float = 0.8) -> Fitter:
    """A (cached, per process) fitter for ``lik`` and datasets of ``n_trials`` trials."""
    key = (lik.sha256, lik.kind, n_trials, draws, tune, target_accept)
    if key not in _FITTERS:
        _FITTERS[key] = _make_fitter(lik, n_trials, draws=draws, tune=tune, target_accept=target_accept)
    return _FITTERS[key]


def _make_fitter(lik, n_trials: int, *, draws: int, tune: int, target_accept: float) -> Fitter:
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS, init_to_uniform

    lo = jnp.asarray(lik.spec.lower, jnp.float64)
    hi = jnp.asarray(lik.spec.upper, jnp.float64)

    def model(data):
        theta = numpyro.sample("theta", dist.Uniform(lo, hi).to_event(1))
        numpyro.factor("loglik", lik.logp_sum(theta, data[:, 0], data[:, 1]))

    # max_tree_depth 8: a fit stuck in 1023-step trajectories (a start behind the soft wall at
    # rt = t) would take most of an hour; 255 steps bound it without changing the target
    mcmc = MCMC(
        NUTS(model, target_accept_prob=target_accept, init_strategy=init_to_uniform(radius=1.0),
             max_tree_depth=8),
        num_warmup=tune,
        num_samples=draws,
        num_chains=1,
        progress_bar=False,
        jit_model_args=True,
    )

    def fit(data, seed: int) -> np.ndarray:
        data = np.asarray(data, np.float64)
        if data.shape != (n_trials, 2):
            raise ValueError(f"this fitter takes ({n_trials}, 2) data, got {data.shape}.")
        mcmc.run(jax.random.PRNGKey(int(seed)), jnp.asarray(data), init_params={"theta": start(data)})
        return np.asarray(mcmc.get_samples()["theta"], np.float64)

    it = lik.spec.params.index("t") if "t" in lik.spec.params else None
    lo_np, hi_np = np.asarray(lik.spec.lower, np.float64), np.asarray(lik.spec.upper, np.float64)

    def start(data) -> jnp.ndarray:
        """The box's centre, with t halfway between its lower bound and the fastest trial (a
        start in the likelihood's support, not behind its wall at rt = t); unconstrained."""
        x = (lo_np + hi_np) / 2
        if it is not None:
            x[it] = min(x[it], lo_np[it] + 0.5 * max(float(data[:, 0].min()) - lo_np[it], 0.0))
        u = np.clip((x - lo_np) / (hi_np - lo_np), 1e-3, 1 - 1e-3)
        return jnp.asarray(np.log(u) - np.log1p(-u))

    total = jax.jit(jax.vmap(lambda th, d: lik.logp_sum(th, d[:, 0], d[:, 1]), in_axes=(0, None)))

    def logp_draws(draws_, data):
        return np.asarray(total(jnp.asarray(draws_, jnp.float64), jnp.asarray(data, jnp.float64)), np.float64)

    return Fitter(fit=fit, logp_draws=logp_draws, n_trials=n_trials)


def reweight(draws: np.ndarray, log_ratio: np.ndarray) -> dict[str, np.ndarray | float]:
    """Moments of the reference posterior from draws of the NRE posterior.

    ``log_ratio`` (S,): log reference likelihood minus log NRE likelihood of each draw (the
    priors are the same). Returns the weighted mean and SD per parameter, the Pareto k-hat
    (above 0.7 the estimate is unreliable), and the effective sample size of the weights."""
    from arviz_stats.base import array_stats

    lw, khat = array_stats.psislw(np.asarray(log_ratio, np.float64))
    w = np.exp(lw - np.max(lw))
    w /= w.sum()
    mean = w @ draws
    sd = np.sqrt(w @ (draws - mean) ** 2)
    return {"mean": mean, "sd": sd, "khat": float(khat), "ess": float(1.0 / np.sum(w**2))}
