"""The fits behind a validation: NUTS on a network's likelihood, compiled once per shape.

A validation fits hundreds of simulated datasets. Building an HSSM model for each would compile
the sampler hundreds of times; here the posterior is written once over the pure-JAX likelihood
(:func:`hssm_nre.loglik`) with uniform priors over the training box (the prior the datasets are
drawn from, and the one HSSM gives NRE models by default), and a whole fit (mode search, numpyro's
NUTS with its warm-up adaptation, the draws) is one compiled program per dataset size, through
numpyro's functional ``hmc`` interface. ``numpyro.infer.MCMC`` did the same sampling but set each
fit up op by op outside the compiled program: 5 s of a 40-trial fit that now takes 0.05 s, and
about half of a 200-trial race fit. The likelihood is the one ``hssm.HSSM(..., loglik_kind="nre")``
uses for the same network and kind.

Each fit first finds the posterior mode (L-BFGS, optax) and the curvature there, and NUTS then
samples the posterior in coordinates whitened by it: the same posterior, but one NUTS explores
with a few leapfrog steps per draw. Without it a 5,000-trial DDM fit (a posterior a few
milliseconds wide in t) ran near the tree-depth cap for most of its warm-up, 4-16 minutes a fit
on one core.

:func:`reweight` turns a fit's draws into the reference posterior's moments by Pareto-smoothed
importance sampling (Vehtari et al. 2024), with the Pareto k-hat that says when to trust it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Fitter", "fitter", "reweight", "total_logp_fn"]

_FITTERS: dict[tuple, Fitter] = {}


@dataclass
class Fitter:
    """``fit(data, seed) -> draws (draws, n_params)`` for datasets of ``n_trials`` trials."""

    fit: Callable
    logp_draws: Callable  # (draws (S, P), data (n, 2)) -> (S,) total log-likelihood per draw
    n_trials: int
    fits_done: int = 0  # counted by the caller: the first fit compiles the sampler


def fitter(lik, n_trials: int, *, draws: int, tune: int, target_accept: float = 0.8) -> Fitter:
    """A (cached, per process) fitter for ``lik`` and datasets of ``n_trials`` trials."""
    key = (lik.sha256, lik.kind, n_trials, draws, tune, target_accept)
    if key not in _FITTERS:
        _FITTERS[key] = _make_fitter(lik, n_trials, draws=draws, tune=tune, target_accept=target_accept)
    return _FITTERS[key]


def _make_fitter(lik, n_trials: int, *, draws: int, tune: int, target_accept: float) -> Fitter:
    import jax
    import jax.numpy as jnp
    from numpyro.infer.hmc import hmc

    lo_np, hi_np = np.asarray(lik.spec.lower, np.float64), np.asarray(lik.spec.upper, np.float64)
    lo, hi = jnp.asarray(lo_np), jnp.asarray(hi_np)
    n_params = len(lo_np)

    def to_theta(u):
        return lo + (hi - lo) * jax.nn.sigmoid(u)

    def log_post(u, data):
        """The posterior under the uniform prior on the box, in unconstrained coordinates
        (theta = lo + (hi - lo) sigmoid(u); the prior's Jacobian is the log-sigmoid terms)."""
        theta = to_theta(u)
        prior = jnp.sum(jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u))
        return lik.logp_sum(theta, data[:, 0], data[:, 1]) + prior

    def potential(mu, chol, data):
        # whitened: z = 0 is the posterior mode and z's posterior is about N(0, I), so NUTS starts
        # where the mass is, with short trajectories, at 5,000 trials as at 100; exact all the same
        return lambda z: -log_post(mu + chol @ z, data)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential, algo="NUTS")

    @jax.jit
    def run(key, u0, data):
        mu, chol = _laplace(lambda u: -log_post(u, data), u0)
        args = (mu, chol, data)
        # max_tree_depth 8 bounds a fit whose whitening failed (255 steps per draw at worst);
        # the first `tune` transitions adapt the step size and a diagonal mass matrix (numpyro's
        # windowed adaptation, as MCMC runs it) and are dropped
        state = init_kernel(jnp.zeros(n_params), num_warmup=tune, target_accept_prob=target_accept,
                            max_tree_depth=8, model_args=args, rng_key=key)

        def transition(s, _):
            s = sample_kernel(s, model_args=args)
            return s, s.z

        _, z = jax.lax.scan(transition, state, None, length=tune + draws)
        return to_theta(mu + z[tune:] @ chol.T)

    def fit(data, seed: int) -> np.ndarray:
        data = np.asarray(data, np.float64)
        if data.shape != (n_trials, 2):
            raise ValueError(f"this fitter takes ({n_trials}, 2) data, got {data.shape}.")
        draws_ = run(jax.random.PRNGKey(int(seed)), jnp.asarray(start(data)), jnp.asarray(data))
        return np.asarray(draws_, np.float64)

    it = lik.spec.params.index("t") if "t" in lik.spec.params else None

    def start(data) -> np.ndarray:
        """Where the mode search starts: the box's centre, with t halfway between its lower
        bound and the fastest trial (in the likelihood's support, not behind its wall at
        rt = t); unconstrained."""
        x = (lo_np + hi_np) / 2
        if it is not None:
            x[it] = min(x[it], lo_np[it] + 0.5 * max(float(data[:, 0].min()) - lo_np[it], 0.0))
        u = np.clip((x - lo_np) / (hi_np - lo_np), 1e-3, 1 - 1e-3)
        return np.log(u) - np.log1p(-u)

    return Fitter(fit=fit, logp_draws=total_logp_fn(lik), n_trials=n_trials)


def total_logp_fn(lik) -> Callable:
    """``f(draws (S, P), data (n, 2)) -> (S,)``: the network's total log-likelihood of the data
    at each draw (compiled once per data size)."""
    import jax
    import jax.numpy as jnp

    total = jax.jit(jax.vmap(lambda th, d: lik.logp_sum(th, d[:, 0], d[:, 1]), in_axes=(0, None)))

    def logp_draws(draws, data):
        return np.asarray(total(jnp.asarray(draws, jnp.float64), jnp.asarray(data, jnp.float64)), np.float64)

    return logp_draws


def _laplace(neg_log_post: Callable, u0, max_iter: int = 200):
    """The mode of ``-neg_log_post`` in these (unconstrained) coordinates, by L-BFGS from ``u0``,
    and a square root of the inverse Hessian there (eigenvalues floored, so it is one even where
    the posterior is not locally Gaussian). Falls back to ``u0`` where the search ends somewhere
    not finite, and to the identity (plain NUTS) where the curvature is not finite. A search cut
    off at ``max_iter`` still whitens well enough: NUTS's own adaptation does the rest.
    Traceable (runs under ``jax.jit``)."""
    import jax
    import jax.numpy as jnp
    import optax
    import optax.tree_utils as otu

    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(neg_log_post)

    def step(carry):
        u, state = carry
        value, grad = value_and_grad(u, state=state)
        updates, state = opt.update(grad, state, u, value=value, grad=grad, value_fn=neg_log_post)
        return optax.apply_updates(u, updates), state

    def going(carry):
        _, state = carry
        k = otu.tree_get(state, "count")
        g = otu.tree_get(state, "grad")
        return (k == 0) | ((k < max_iter) & (otu.tree_norm(g) >= 1e-4) & jnp.all(jnp.isfinite(g)))

    u, _ = jax.lax.while_loop(going, step, (u0, opt.init(u0)))
    h = jax.hessian(neg_log_post)(u)
    found = jnp.all(jnp.isfinite(u)) & jnp.isfinite(neg_log_post(u))
    w, v = jnp.linalg.eigh(0.5 * (h + h.T))
    chol = v / jnp.sqrt(jnp.clip(w, 1e-2, None))  # chol @ chol.T = H^-1 (curvature floored)
    curved = found & jnp.all(jnp.isfinite(h)) & jnp.all(jnp.isfinite(chol))
    return jnp.where(found, u, u0), jnp.where(curved, chol, jnp.eye(u0.shape[0]))


def reweight(draws: np.ndarray, log_ratio: np.ndarray) -> dict[str, np.ndarray | float]:
    """Moments of the reference posterior from draws of the NRE posterior.

    ``log_ratio`` (S,): log reference likelihood minus log NRE likelihood of each draw (the
    priors are the same). Returns the weighted mean and SD per parameter, the Pareto k-hat
    (above 0.7 the estimate is unreliable), the effective sample size and the normalised weights."""
    from arviz_stats.base import array_stats

    # arviz_stats' psislw takes log-likelihoods, LOO's convention, and smooths the weights
    # exp(-ary): hand it the negated log ratio (passing the ratio itself reweighted to
    # p_nre^2 / p_ref, the reference's mirror image)
    lw, khat = array_stats.psislw(-np.asarray(log_ratio, np.float64))
    w = np.exp(lw - np.max(lw))
    w /= w.sum()
    mean = w @ draws
    sd = np.sqrt(w @ (draws - mean) ** 2)
    return {"mean": mean, "sd": sd, "khat": float(khat), "ess": float(1.0 / np.sum(w**2)), "weights": w}
