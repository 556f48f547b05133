"""Runtime quadrature over rt: log Z(theta), the log of a network's likelihood integrated over
rt and summed over choices, inside the JAX likelihood (``nre_likelihood="exact"``).

Apart from the normaliser's fit and the diagnostics (:mod:`hssm_nre.normalisation`), which
use the same rule on finer grids.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .architecture import JNP_OPS, logit_fn, network_weights, support_edge, tree_map
from .config import SIM_MAX_T, ModelSpec

__all__ = ["U_MIN", "EXACT_N_GRID", "quadrature_rule", "make_log_z_fn"]

#: Smallest u integrated from (seconds); the mass below it is negligible for
#: every ssm-simulators model (the first-passage density vanishes faster than any power).
U_MIN = 1e-4


#: Nodes per choice of :func:`make_log_z_fn` (Simpson's rule in log u). Against 4,000-node
#: trapezoid sums at 200 parameter vectors per shipped network (`benchmarks/normalised.py
#: --only exact`): error SD 2e-5 to 4e-5 and largest deviation from its mean 1e-4 to 4e-4 (0.03-0.13
#: nats over 300 trials), except angle and weibull (collapsing boundaries: 1e-3 and 1e-2); the
#: fitted normaliser left 0.07-0.19 per trial at lca_3's failing fits.
EXACT_N_GRID = 193


def quadrature_rule(
    n_grid: int, u_max: float = SIM_MAX_T, u_min: float = U_MIN, rule: str = "trapezoid"
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes u and log weights of a rule in log u (``int p du = int p u dlog u``) on ``n_grid``
    nodes geometric from ``u_min`` to ``u_max``: the trapezoid rule, or Simpson's
    (``rule="simpson"``, odd ``n_grid``)."""
    if rule not in ("trapezoid", "simpson") or (rule == "simpson" and n_grid % 2 == 0):
        raise ValueError(f"rule must be 'trapezoid', or 'simpson' with an odd n_grid; got {rule!r}, {n_grid}.")
    u = np.geomspace(u_min, u_max, n_grid)
    log_u = np.log(u)
    if rule == "simpson":
        h = (log_u[-1] - log_u[0]) / (n_grid - 1)
        tw = np.full(n_grid, 2.0)
        tw[1::2] = 4.0
        tw[0] = tw[-1] = 1.0
        tw = tw * h / 3
        return u, np.log(tw) + log_u
    dlog = np.diff(log_u)
    tw = np.zeros(n_grid)
    tw[:-1] += dlog / 2
    tw[1:] += dlog / 2
    return u, np.log(tw) + log_u


def make_log_z_fn(
    spec: ModelSpec,
    weights,
    evidence,
    *,
    n_grid: int = EXACT_N_GRID,
    u_max: float = SIM_MAX_T,
    u_min: float = U_MIN,
    rule: str = "simpson",
) -> Callable:
    """JAX ``log_z(theta) -> log Z(theta)`` for one parameter vector (P,): the log of the
    likelihood HSSM gets (raw logit plus evidence term; any fitted normaliser in ``weights``
    is ignored) integrated over rt and summed over choices, by :func:`quadrature_rule`
    (Simpson's by default) on ``n_grid`` nodes per choice from the support edge. Float32
    network, float64 sum; differentiable in theta (the nodes move with the support edge).

    Subtracting it makes the likelihood a density at every theta exactly (up to the
    rule's error, which varies smoothly with theta), where the fitted normaliser is an MLP's
    approximation of the same quantity (``nre_likelihood="exact"``)."""
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    from .evidence import make_evidence_fn

    if evidence is None:
        raise ValueError("log Z needs the network's evidence term (log p_hat(x)); the network has none.")
    ops = JNP_OPS()
    w = tree_map(lambda v: jnp.asarray(np.asarray(v), jnp.float32), network_weights(weights))
    ev = jax.vmap(make_evidence_fn(spec, evidence, dtype="float32"))
    u, log_w = quadrature_rule(n_grid, u_max, u_min, rule)
    n_c = len(spec.choices)
    u_all = jnp.asarray(np.tile(u, n_c), jnp.float32)
    c_all = jnp.asarray(np.repeat(np.asarray(spec.choices, np.float32), n_grid))
    lw_all = jnp.asarray(np.tile(log_w, n_c), jnp.float64)

    def log_z(theta):
        th = jnp.asarray(theta, jnp.float32)
        rt = (support_edge(spec, th) if spec.shift else 0.0) + u_all
        th_all = jnp.broadcast_to(th, (len(u_all), spec.n_params))
        lp = logit_fn(spec, w, th_all, rt, c_all, ops) + ev(rt, c_all)
        return logsumexp(lp.astype(jnp.float64) + lw_all)

    return log_z
