"""Reference likelihoods (WFPT for the DDM, its drift-variability form for ddm_sdv,
HDDM's numerical full_ddm) and per-trial error metrics.

* ``ANALYTIC_MODELS``: HSSM's own analytic ``logp_ddm`` and ``logp_ddm_sdv``
  (Navarro & Fuss 2009), in the same convention as ssm-simulators' ``ddm`` and
  ``ddm_sdv`` (``a`` is the boundary, separation 2a; HSSM doubles ``a`` inside).
  HSSM can fit these with NUTS, so whole posteriors are compared (``compare``).
* ``REFERENCE_MODELS``: those plus ``full_ddm``, whose likelihood HDDM's
  ``wfpt`` computes by numerical integration over the start point (sz) and
  non-decision time (st) variability (the ``hddm_wfpt`` package HSSM installs).
  HDDM's convention differs from ssm-simulators', which draws the start point
  from U(-a + 2az - sz, -a + 2az + sz) and the non-decision time from
  U(t - st, t + st): HDDM takes relative full widths, so sz_HDDM = sz / a and
  st_HDDM = 2 st (checked by maximum likelihood on 50,000 simulated trials; see
  the test). HSSM's own blackbox ``logp_full_ddm`` passes sz and st unconverted,
  so it is not used here. Per-trial comparisons only (no gradients for NUTS).

An NRE learns log p(x|theta) - log p(x), so it is compared with a reference
through differences over theta at fixed x, where the log p(x) term cancels.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .architecture import support_edge
from .config import ModelSpec

__all__ = [
    "ANALYTIC_MODELS",
    "REFERENCE_MODELS",
    "require_analytic",
    "require_reference",
    "analytic_logp",
    "reference_logp",
    "full_ddm_logp",
    "wfpt_logp",
    "per_trial_error",
    "predicted_posterior_shift",
    "identified_shift",
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


#: Tolerance of HDDM's adaptive Simpson integration over sz and st: 1e-5 nats from the
#: 1e-8 answer at a tenth of its cost (measured on 500 full_ddm trials, sz/a = 0.4).
QUADRATURE_TOL = 1e-6
#: Finite-difference step for the reference's gradients: the quadrature's error (about
#: 1e-5 nats) divided by a 1e-5 step would swamp them.
FD_EPS = {"full_ddm": 1e-3}

#: Models with a reference likelihood for per-trial comparisons (analytic, or
#: numerical quadrature for full_ddm).
REFERENCE_MODELS = {**ANALYTIC_MODELS, "full_ddm": "hddm_wfpt.wfpt.wiener_logp_array"}


def require_reference(name: str) -> None:
    if name not in REFERENCE_MODELS:
        raise ValueError(
            f"Model {name!r} has no reference likelihood to compare with; "
            f"reference models: {', '.join(REFERENCE_MODELS)}."
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


def full_ddm_logp(rt, choice, v, a, z, t, sz, sv, st) -> np.ndarray:
    """full_ddm log-density per trial in ssm-simulators' convention (HDDM's numerical
    integration over sz and st); -inf where the start-point interval reaches a boundary
    (z +- sz / 2a outside (0, 1)), which HDDM does not define. Broadcastable arguments."""
    from hddm_wfpt import wfpt

    rt, choice, v, a, z, t, sz, sv, st = np.broadcast_arrays(
        *(np.asarray(q, np.float64) for q in (rt, choice, v, a, z, t, sz, sv, st))
    )
    shape = rt.shape
    flat = lambda q: np.ascontiguousarray(q.ravel(), np.float64)  # noqa: E731
    x = flat(rt * np.where(choice == 1, 1.0, -1.0))
    lp = wfpt.wiener_logp_array(
        x=x, v=flat(v), sv=flat(sv), a=flat(2.0 * a), z=flat(z), sz=flat(sz / a),
        t=flat(t), st=flat(2.0 * st), err=1e-8, simps_err=QUADRATURE_TOL,
    )
    return np.asarray(lp).reshape(shape)


def reference_logp(model: str, rt, choice, *theta) -> np.ndarray:
    """Reference log-density per trial for ``model`` (``theta`` in ssm-simulators order):
    HSSM's analytic likelihood, or HDDM's numerical one for full_ddm."""
    require_reference(model)
    if model == "full_ddm":
        return full_ddm_logp(rt, choice, *theta)
    return analytic_logp(model, rt, choice, *theta)


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
    ref_logp=None,
    shared_theta: bool = False,
    floor: float | None = None,
) -> dict[str, np.ndarray | float]:
    """Per-trial log-likelihood error of an NRE against its reference likelihood
    (WFPT for the DDM; see ``REFERENCE_MODELS``; or ``ref_logp(rt, choice, theta)``, theta
    (..., P)), over the training box.

    For each of ``n_x`` trials x simulated under the training prior, ``n_theta``
    parameter vectors are drawn uniformly from the box with the support edge below rt
    (t < rt; for models whose support starts at t - st, t < rt + st, drawn after st),
    where the likelihood is positive. The error at (theta_j, x) is
    |d_j - median_j d_j| with d_j = log_ratio(theta_j, x) - log WFPT(x | theta_j):
    a difference over theta at fixed x, so log p(x) cancels. Points where WFPT is
    below -60 (HSSM's floor region; ``floor`` to change it) or undefined (full_ddm's start-point interval
    reaching a boundary; NaN from ``ref_logp``) are excluded; ``"excluded"`` is their share.
    With ``shared_theta`` every trial meets the same ``n_theta`` parameter vectors (t aside),
    so a reference that solves once per vector (Fokker-Planck) solves ``n_theta`` times.
    """
    if ref_logp is None:
        require_reference(spec.name)
    from .simulate import has_sampling_constraints, sample_parameters, simulate_chunk

    rng = np.random.default_rng(seed)
    sim = simulate_chunk(spec, n_x, np.random.SeedSequence(seed))
    rt, ch = sim["rt"].astype(np.float64), sim["choice"].astype(np.float64)
    lo, hi = np.asarray(spec.lower), np.asarray(spec.upper)
    if has_sampling_constraints(spec):  # e.g. lba's b > A: drawn as the training data were
        theta = sample_parameters(spec, len(rt) * n_theta, rng).reshape(len(rt), n_theta, spec.n_params)
    else:
        theta = rng.uniform(lo, hi, size=(len(rt), n_theta, spec.n_params))
    if shared_theta:
        theta[:] = theta[:1]
    t_room = np.ones(theta.shape[:2])
    if "t" in spec.params:  # (the LBA has no non-decision time)
        it = spec.params.index("t")
        # t inside the box with the support edge below rt (where the likelihood is positive);
        # a trial faster than every such t (no room) is excluded.
        t_max = rt[:, None] + (theta[..., it] - support_edge(spec, theta))  # edge = rt at t = t_max
        t_room = np.maximum(np.minimum(t_max, hi[it]) - lo[it], 0.0)
        theta[..., it] = lo[it] + rng.uniform(0, 1, size=theta.shape[:2]) * t_room
    R = np.broadcast_to(rt[:, None], theta.shape[:2])
    C = np.broadcast_to(ch[:, None], theta.shape[:2])
    lr = np.asarray(log_ratio_fn(theta, R, C))
    if ref_logp is None:
        ll = reference_logp(spec.name, R, C, *(theta[..., i] for i in range(spec.n_params)))
    else:
        ll = np.asarray(ref_logp(R, C, theta))
    with np.errstate(invalid="ignore"):
        ok = (ll > (WFPT_FLOOR if floor is None else floor)) & (t_room > 0)
    d = np.where(ok, lr - ll, np.nan)
    err = np.abs(d - np.nanmedian(d, axis=1, keepdims=True))
    flat = err[ok]
    return {
        "median": float(np.median(flat)),
        "p90": float(np.quantile(flat, 0.9)),
        "excluded": float(1.0 - ok.mean()),
        "err": err,
        "theta": theta,
        "rt": rt,
        "choice": ch,
    }


#: Simulated trials and finite-difference step behind the shift predictor's gradients.
SHIFT_N_X = 20_000
SHIFT_EPS = 1e-5


def predicted_posterior_shift(
    spec: ModelSpec,
    log_ratio_fn,
    theta_star,
    *,
    n_trials=(1000, 5000),
    n_x: int = SHIFT_N_X,
    seed: int = 0,
    eps: float = SHIFT_EPS,
    fixed: tuple[str, ...] = (),
) -> dict:
    """Predicted posterior-mean shift of the NRE relative to the reference likelihood, in SDs.

    ``fixed``: parameters held at their true values (left out of the Fisher information),
    for models with a weakly identified parameter whose near-singular direction would
    otherwise carry the linear prediction far outside the box (full_ddm's sz).

    With i.i.d. trials, a per-trial log-likelihood error d(theta, x) shifts the
    posterior mean by about Delta = I^-1 E_x[grad d(theta*, x)] (I: per-trial
    Fisher information), while the posterior SD is sqrt((I^-1)_jj / N). The
    shift in SDs at N trials is sqrt(N) * Delta_j / sqrt((I^-1)_jj): a cheap,
    MCMC-free predictor of the fidelity target (checked against NUTS in the
    benchmark). Gradients: the NRE's by JAX, the reference's by central differences
    (step ``eps``, raised to ``FD_EPS`` for a quadrature reference).
    """
    require_reference(spec.name)
    unknown = set(fixed) - set(spec.params)
    if unknown:
        raise ValueError(f"fixed names parameters {sorted(unknown)} that {spec.name!r} does not have.")

    grads = _shift_gradients(spec, log_ratio_fn, theta_star, n_x=n_x, seed=seed, eps=eps)
    return _solve_shift(spec, grads, fixed, n_trials)


def _shift_gradients(spec: ModelSpec, log_ratio_fn, theta_star, *, n_x: int, seed: int, eps: float) -> dict:
    """Per-trial gradients at theta* of the NRE (JAX) and the reference (central differences;
    the step is at least ``FD_EPS`` for a quadrature reference) on ``n_x`` simulated trials."""
    import jax

    from .simulate import simulate_dataset

    theta_star = np.asarray(theta_star, np.float64)
    df = simulate_dataset(spec.name, n_x, theta=dict(zip(spec.params, theta_star)), seed=seed)
    rt, ch = df.rt.to_numpy(float), df.response.to_numpy(float)
    g_nre = np.asarray(jax.vmap(jax.grad(log_ratio_fn), in_axes=(None, 0, 0))(theta_star, rt, ch))
    g_ll = np.empty_like(g_nre)
    eps = max(eps, FD_EPS.get(spec.name, 0.0))
    for j in range(spec.n_params):
        e = np.zeros(spec.n_params)
        e[j] = eps
        up = reference_logp(spec.name, rt, ch, *(theta_star + e))
        dn = reference_logp(spec.name, rt, ch, *(theta_star - e))
        g_ll[:, j] = (up - dn) / (2 * eps)
    return {"theta": theta_star, "g_nre": g_nre, "g_ll": g_ll}


def _solve_shift(spec: ModelSpec, grads: dict, fixed, n_trials) -> dict:
    free = [j for j, p in enumerate(spec.params) if p not in fixed]
    if not free:
        raise ValueError(f"every parameter of {spec.name!r} is held fixed: nothing to predict.")
    params = [spec.params[j] for j in free]
    g_ll, g_nre = grads["g_ll"][:, free], grads["g_nre"][:, free]
    ok = np.all(np.isfinite(g_ll), axis=1) & np.all(np.isfinite(g_nre), axis=1)
    fisher = g_ll[ok].T @ g_ll[ok] / ok.sum()
    try:
        inv = np.linalg.inv(fisher)
    except np.linalg.LinAlgError:  # exactly singular: the pseudo-inverse's answer on the rest
        inv = np.linalg.pinv(fisher)
    bias = (g_nre[ok] - g_ll[ok]).mean(axis=0)
    delta = inv @ bias
    sd1 = np.sqrt(np.diag(inv))
    prior_sd = ((np.asarray(spec.upper) - np.asarray(spec.lower)) / np.sqrt(12.0))[free]
    return {
        "theta": dict(zip(spec.params, grads["theta"].tolist())),
        "fixed": list(fixed),
        "shift_per_trial": dict(zip(params, delta.tolist())),
        "shift_sd": {int(n): dict(zip(params, (np.sqrt(n) * delta / sd1).tolist())) for n in n_trials},
        # The predictor assumes a locally Gaussian posterior well inside the box: where the
        # asymptotic posterior SD is not small against the prior SD (a weakly identified
        # parameter such as full_ddm's sz), the box dominates and the shift is not meaningful.
        "posterior_sd_over_prior_sd": {
            int(n): dict(zip(params, (sd1 / np.sqrt(n) / prior_sd).tolist())) for n in n_trials
        },
        "fisher_condition": float(np.linalg.cond(fisher)),
    }


def identified_shift(
    spec: ModelSpec,
    log_ratio_fn,
    theta_star,
    *,
    n_trials=(1000, 5000),
    weak_ratio: float = 0.5,
    n_x: int = SHIFT_N_X,
    seed: int = 0,
    eps: float = SHIFT_EPS,
    offsets: dict | None = None,
) -> dict:
    """:func:`predicted_posterior_shift`, and again with the weakly identified parameters held
    at the truth when there are any: those whose asymptotic posterior SD at the smallest N is at
    least ``weak_ratio`` of their prior SD. Their near-singular direction would otherwise carry
    the linear prediction for every parameter far outside the box. Returns the full result with
    ``"weak_fixed"`` (or None) and ``"identified_worst"``: the worst shift in SDs per N among
    the parameters the prediction covers.

    ``offsets``: several theta-only corrections of one network at once, from one set of
    gradients. Each maps a label to a vector (n_params,) subtracted from the NRE's per-trial
    gradient at theta* (grad log Z for a normaliser; zeros for the network as it is); the
    result is then ``{label: full result}``."""
    require_reference(spec.name)
    grads = _shift_gradients(spec, log_ratio_fn, theta_star, n_x=n_x, seed=seed, eps=eps)
    if offsets is None:
        return _identified(spec, grads, n_trials, weak_ratio)
    return {
        label: _identified(spec, grads | {"g_nre": grads["g_nre"] - np.asarray(off)}, n_trials, weak_ratio)
        for label, off in offsets.items()
    }


def _identified(spec: ModelSpec, grads: dict, n_trials, weak_ratio: float) -> dict:
    full = _solve_shift(spec, grads, (), n_trials)
    n0 = min(full["posterior_sd_over_prior_sd"])
    weak = tuple(p for p, v in full["posterior_sd_over_prior_sd"][n0].items() if v >= weak_ratio)
    if len(weak) == spec.n_params:
        weak = ()  # nothing identified: report the full prediction as it is
    full["weak_fixed"] = _solve_shift(spec, grads, weak, n_trials) if weak else None
    use = full["weak_fixed"] or full
    full["identified_worst"] = {int(n): max(abs(v) for v in d.values()) for n, d in use["shift_sd"].items()}
    return full
