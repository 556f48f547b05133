"""Is the NRE likelihood a density? Integrals of p_hat(x | theta) over x, and absolute errors.

``loglik_kind="nre"`` returns log p_hat(x | theta) = log r_hat(theta, x) + log p_hat(x)
(ratio network plus evidence term). Where both are right it integrates to one
over x for every theta: summed over choices and integrated over rt. This module
computes that integral on a fine grid in log u (u = rt - t for models with a
non-decision time, u = rt otherwise), from ``U_MIN`` up to the simulator's
``max_t`` (the training data are the simulator's trials that did not time out,
so that is the support the network learned), and, for the DDM, the absolute
log-likelihood error against analytic WFPT on trials simulated from each theta.

It also makes the likelihood one: :func:`fit_normaliser` computes log Z(theta) and its
gradient by quadrature at parameter vectors drawn from the training box and fits a small
MLP to both (values and gradients: the posterior feels the gradient), which the network
then subtracts (``architecture.log_normaliser``). Why it matters: for any estimate
p_hat = p exp(e), the expected score of p_hat under the true data is
grad log Z - Cov(e, grad log p) to first order, so a theta-dependent mass error biases
every posterior mean by an amount that grows as sqrt(N) in posterior SDs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from .architecture import (
    JNP_OPS,
    NORMALISER_KEY,
    evidence_head,
    init_mlp,
    log_normaliser,
    logit_fn,
    mlp,
    network_weights,
    normaliser_shapes,
    scaled_theta,
    support_edge,
    tree_map,
)
from .config import SIM_MAX_T, ModelSpec
from .interrupt import Interruptible, poll
from .quadrature import U_MIN, quadrature_rule

__all__ = [
    "log_density_grid",
    "normalisation_integrals",
    "absolute_error_vs_wfpt",
    "make_log_density_fn",
    "log_normaliser_targets",
    "fit_normaliser",
    "NormaliserSettings",
]

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
    from .reference import WFPT_FLOOR, reference_logp, require_reference

    require_reference(spec.name)
    from .simulate import recorded, sample_parameters, simulate_rows

    rng = np.random.default_rng(seed)
    theta = sample_parameters(spec, n_theta, rng)
    rt, ch = simulate_rows(spec, np.repeat(theta, n_trials, axis=0), [slice(None)],
                           [int(rng.integers(0, 2**31 - 1))])
    rt = rt.reshape(n_theta, n_trials)
    ch = ch.astype(np.float64).reshape(n_theta, n_trials)
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


# ----------------------------------------------------------------------------- normaliser
@dataclass(frozen=True)
class NormaliserSettings:
    """How :func:`fit_normaliser` fits log Z(theta). Recorded in the network's metadata."""

    n_theta: int = 8192  # parameter vectors drawn from the training box (plus as many held out)
    n_grid: int = 1000  # quadrature points in log u, per choice
    widths: tuple[int, ...] = (64, 64)
    steps: int = 4000  # full-batch Adam steps
    learning_rate: float = 3e-3
    seed: int = 0
    #: the density whose mass is fitted: "own" (the logit less its data-only term G(x)),
    #: "likelihood" (the logit plus the evidence term), or "auto" (see log_normaliser_targets)
    density: str = "auto"

    def own(self, spec: ModelSpec) -> bool:
        """Whether the network's own density is fitted ("auto": for DDM-featured networks)."""
        return spec.features == "scaling" if self.density == "auto" else self.density == "own"

    def __post_init__(self) -> None:
        if self.density not in ("auto", "own", "likelihood"):
            raise ValueError(f"NormaliserSettings.density must be 'auto', 'own' or 'likelihood', got {self.density!r}.")
        for name in ("n_theta", "n_grid", "steps"):
            if getattr(self, name) < 2:
                raise ValueError(f"NormaliserSettings.{name} must be at least 2, got {getattr(self, name)}.")
        if not self.widths or any(w <= 0 for w in self.widths):
            raise ValueError(f"NormaliserSettings.widths must be positive, got {self.widths}.")
        if self.learning_rate <= 0:
            raise ValueError(f"NormaliserSettings.learning_rate must be positive, got {self.learning_rate}.")


def log_normaliser_targets(
    spec: ModelSpec,
    weights,
    evidence,
    theta: np.ndarray,
    *,
    n_grid: int = 1000,
    u_max: float = SIM_MAX_T,
    batch: int = 16,
    own_density: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log Z(theta), its gradient in theta, and the diagonal of the Fisher information of
    p_hat(. | theta) / Z(theta), for each row of ``theta`` (M, P), of the raw network (any
    normaliser in ``weights`` is ignored): the trapezoid rule of :func:`normalisation_integrals`
    in JAX (float32 network, float64 sums), with exact per-point gradients (the support
    edge's dependence on theta included). grad log Z = E[score], Fisher = Var[score] under
    the normalised p_hat.

    Which density (``own_density``; default: :meth:`NormaliserSettings.own`'s rule): the network's own
    F(theta, x) + Jacobian, i.e. the logit less its data-only term G(x), for the DDM-featured
    networks. It is close to a density by construction (a single-boundary head, exact or, for
    weibull, Durbin's leading-order one, times a bounded correction), it needs no evidence
    estimate, and it depends on theta only through the scaled parameters (v a, z, sv a,
    beta / a^2, ...), not on t or the scale a. For every other network: the logit plus the evidence term log p_hat(x),
    the likelihood HSSM gets. The two differ by a function of x only, so either gives the
    same posterior without a normaliser; with one, the cleaner density gives the smaller
    bias (measured: ``benchmarks/normalised.py --only renorm``)."""
    import jax
    import jax.numpy as jnp

    from .evidence import make_evidence_fn

    ops = JNP_OPS()
    w = tree_map(lambda v: jnp.asarray(np.asarray(v), jnp.float32), network_weights(weights))
    ev = None if evidence is None else make_evidence_fn(spec, evidence, dtype="float32")
    u, log_w = quadrature_rule(n_grid, u_max)
    log_w = jnp.asarray(log_w, jnp.float32)
    uj = jnp.asarray(u, jnp.float32)
    choices = np.asarray(spec.choices, np.float32)

    own = NormaliserSettings().own(spec) if own_density is None else own_density
    if not own and evidence is None:
        raise ValueError("This density needs the network's evidence term (log p_hat(x)); the network has none.")

    def log_p(th, u_i, c, fixed_x):  # log p_hat at one grid point, as a function of theta
        edge = support_edge(spec, th) if spec.shift else 0.0
        rt = (jax.lax.stop_gradient(edge) if fixed_x else edge) + u_i
        x_term = -evidence_head(spec, w, rt, c, ops) if own else ev(rt, c)
        return logit_fn(spec, w, th, rt, c, ops) + x_term

    # grad log Z: the exact derivative of the quadrature sum (grid points move with the
    # support edge); Fisher: the variance of the score at fixed x.
    point = jax.vmap(jax.value_and_grad(lambda th, u_i, c: log_p(th, u_i, c, False)), in_axes=(None, 0, 0))
    score = jax.vmap(jax.grad(lambda th, u_i, c: log_p(th, u_i, c, True)), in_axes=(None, 0, 0))
    u_all = jnp.tile(uj, len(choices))
    c_all = jnp.repeat(jnp.asarray(choices), n_grid)
    lw_all = jnp.tile(log_w, len(choices))

    def moments(th):
        th = th.astype(jnp.float32)
        lp, g = point(th, u_all, c_all)
        a = (lp + lw_all).astype(jnp.float64)
        log_z = jax.scipy.special.logsumexp(a)
        pi = jnp.exp(a - log_z)[:, None]
        grad = jnp.sum(pi * g.astype(jnp.float64), axis=0)
        sx = score(th, u_all, c_all).astype(jnp.float64)
        mean_sx = jnp.sum(pi * sx, axis=0)
        return log_z, grad, jnp.sum(pi * (sx - mean_sx) ** 2, axis=0)

    run = jax.jit(jax.vmap(moments))
    theta = np.atleast_2d(np.asarray(theta, np.float64))
    out = [[], [], []]
    for start in range(0, len(theta), batch):
        poll()  # Ctrl-C stops here (hssm_nre.interrupt)
        for acc, r in zip(out, run(jnp.asarray(theta[start : start + batch], jnp.float32))):
            acc.append(np.asarray(r, np.float64))
    return tuple(np.concatenate(acc) for acc in out)


def fit_normaliser(
    spec: ModelSpec,
    weights,
    evidence,
    settings: NormaliserSettings | None = None,
    *,
    progress: bool = True,
) -> tuple[dict[str, np.ndarray], dict]:
    """Fit the normaliser of a trained network: returns ``(normaliser MLP, report)``; the MLP goes
    into the network's weights under ``architecture.NORMALISER_KEY``.

    log Z(theta) and its gradient are computed by :func:`log_normaliser_targets` at
    ``n_theta`` draws from the training box (constraints applied) and fitted by a
    SiLU MLP on theta scaled to [-1, 1], least squares on values and gradients
    (Sobolev training; gradients are what move a posterior). A second, held-out set of
    as many draws measures the fit: the report gives the RMS of log Z and of its gradient
    before correction (what the normaliser removes) and the RMS left after it, both on
    held-out draws. The network's own weights are not changed.
    """
    import jax
    import jax.numpy as jnp
    import optax

    from .simulate import sample_parameters

    if evidence is None:
        raise ValueError(
            "The normaliser needs the network's evidence term (log p_hat(x)), which HSSM's likelihood "
            "adds; this network has none. Retrain it with `hssm-nre train`."
        )
    s = NormaliserSettings() if settings is None else settings
    t0 = time.perf_counter()
    rng = np.random.default_rng(s.seed)
    theta = sample_parameters(spec, 2 * s.n_theta, rng)
    if progress:
        print(f"Normaliser: log Z(theta) by quadrature at {len(theta):,} parameter vectors ...", file=sys.stderr)
    own = s.own(spec)
    log_z, grad, fisher = log_normaliser_targets(spec, weights, evidence, theta, n_grid=s.n_grid, own_density=own)
    ok = np.isfinite(log_z) & np.all(np.isfinite(grad), axis=1)
    if ok.mean() < 0.99:
        raise FloatingPointError(
            f"log Z(theta) is not finite at {int((~ok).sum())} of {len(ok)} parameter vectors: "
            "the network is not a usable density there; retrain it."
        )
    level_shift = 0.0
    if own:
        # theta-dependence from the network's own density; level from the likelihood HSSM gets
        # (logit + evidence), so that on average over the box that likelihood integrates to one
        n_level = min(1024, s.n_theta)
        z_hssm = log_normaliser_targets(spec, weights, evidence, theta[:n_level], n_grid=s.n_grid, own_density=False)[0]
        level_shift = float(np.mean(z_hssm - log_z[:n_level]))
        log_z = log_z + level_shift
    quad_seconds = time.perf_counter() - t0
    fit, held = slice(0, s.n_theta), slice(s.n_theta, None)
    ok_fit, ok_held = ok[fit], ok[held]
    half_width = (np.asarray(spec.upper) - np.asarray(spec.lower)) / 2.0
    # targets in the MLP's input units (theta scaled to [-1, 1])
    x_all = np.asarray(scaled_theta(spec, jnp.asarray(theta), JNP_OPS()))
    g_all = grad * half_width
    x, y, g = (jnp.asarray(a[fit][ok_fit], jnp.float32) for a in (x_all, log_z, g_all))
    centre = float(np.mean(log_z[fit][ok_fit]))
    scale = float(max(np.std(log_z[fit][ok_fit]), np.sqrt(np.mean(g_all[fit][ok_fit] ** 2)), 1e-6))

    params = tree_map(jnp.asarray, init_mlp(normaliser_shapes(spec.n_params, s.widths), rng))
    ops = JNP_OPS()

    def f(p, xi):  # standardised log Z at one scaled theta
        return mlp(xi, p, ops)

    val_grad = jax.vmap(jax.value_and_grad(f, argnums=1), in_axes=(None, 0))

    def loss(p):
        v, dv = val_grad(p, x)
        return jnp.mean((v - (y - centre) / scale) ** 2) + jnp.mean(jnp.sum((dv - g / scale) ** 2, axis=1))

    # Adam on a cosine schedule to 0 over the steps (optax; full batch)
    optimiser = optax.adam(optax.cosine_decay_schedule(s.learning_rate, s.steps))

    @jax.jit
    def step(p, state):
        value, gr = jax.value_and_grad(loss)(p)
        updates, state = optimiser.update(gr, state, p)
        return optax.apply_updates(p, updates), state, value

    state = optimiser.init(params)
    report_every = max(s.steps // 4, 1)
    for t in range(s.steps):
        if t % 50 == 0:
            poll()  # Ctrl-C stops here (hssm_nre.interrupt)
        params, state, value = step(params, state)
        if progress and (t + 1) % report_every == 0:
            print(f"Normaliser: step {t + 1:,}/{s.steps:,}, loss {float(value):.3g}", file=sys.stderr)
    out = tree_map(lambda v: np.asarray(v, np.float32), params)
    # undo the standardisation in the output layer
    out["out"] = {"W": out["out"]["W"] * scale, "b": out["out"]["b"] * scale + centre}

    # held-out check, in theta units
    th_h = jnp.asarray(theta[held][ok_held], jnp.float32)
    wj = {NORMALISER_KEY: tree_map(jnp.asarray, out)}
    pred_v, pred_g = jax.vmap(jax.value_and_grad(lambda th: log_normaliser(spec, wj, th, ops)))(th_h)
    lz_h, g_h = log_z[held][ok_held], grad[held][ok_held]
    sd_h = np.sqrt(np.maximum(np.nan_to_num(fisher[held][ok_held]), 1e-12))
    rms = lambda a: float(np.sqrt(np.mean(np.square(a))))  # noqa: E731

    def shift_1000(d):  # per parameter, the median over theta of sqrt(1000) |d_j| / sqrt(I_jj)
        return dict(zip(spec.params, np.round(np.median(np.sqrt(1000) * np.abs(d) / sd_h, axis=0), 4).tolist()))

    report = {
        "settings": asdict(s) | {"widths": list(s.widths)},
        "density": "own (logit - G(x))" if own else "logit + evidence",
        "level_shift": level_shift,
        "log_z_range": [float(np.min(log_z[ok])), float(np.max(log_z[ok]))],
        "held_out_rms_log_z_before": rms(lz_h - np.mean(lz_h)),
        "held_out_rms_log_z_after": rms(np.asarray(pred_v) - lz_h - np.mean(np.asarray(pred_v) - lz_h)),
        "held_out_rms_grad_before": rms(g_h * half_width),
        "held_out_rms_grad_after": rms((np.asarray(pred_g) - g_h) * half_width),
        # sqrt(N) |grad log Z_j| / sqrt(I_jj) at N = 1,000: the posterior-mean shift in SDs the
        # mass error causes (diagonal approximation; large for weakly identified parameters,
        # whose posterior the prior bounds), before and after: per parameter, median over theta
        "held_out_shift_1000_before": shift_1000(g_h),
        "held_out_shift_1000_after": shift_1000(np.asarray(pred_g) - g_h),
        "quadrature_seconds": round(quad_seconds, 1),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if progress:
        print(
            "Normaliser: posterior shift from the mass error at N = 1,000 trials (held-out median, "
            "in SDs) " + shift_text(report) + "; "
            f"{report['seconds']:.0f} s.",
            file=sys.stderr,
        )
    return out, report


def shift_text(report: dict) -> str:
    b, a = report["held_out_shift_1000_before"], report["held_out_shift_1000_after"]
    return ", ".join(f"{p} {b[p]:.2f} -> {a[p]:.2f}" for p in b)


def normalise_entry(path, settings: NormaliserSettings | None = None, *, progress: bool = True):
    """Fit a normaliser for the network stored at ``path`` and write it into the entry
    (atomically, :func:`hssm_nre.cache.replace_weights`); an existing normaliser is refitted.
    Returns the reloaded entry.

    The recorded reproduce command stays true: ``hssm-nre train`` fits the normaliser with
    the default settings, so with those its ``--no-normaliser`` is dropped; with others it is
    kept and the settings are in ``metadata["normaliser"]``."""
    from .architecture import network_weights
    from .cache import load_entry, replace_weights

    s = NormaliserSettings() if settings is None else settings
    entry = load_entry(path, check_spec=False)
    raw = network_weights(entry.weights)
    with Interruptible(f"fitting the normaliser of {entry.path}", kept="the network is unchanged") as stop:
        stop.phase = "fitting the normaliser"
        with stop.polling():  # its loops poll between steps
            nw, report = fit_normaliser(entry.spec, raw, entry.evidence, s, progress=progress)
        update: dict = {"normaliser": report}
        cmd = entry.metadata.get("reproduce")
        if cmd and s == NormaliserSettings():
            update["reproduce"] = " ".join(w for w in cmd.split() if w != "--no-normaliser")
        stop.check()
        with stop.critical():
            new = replace_weights(entry.path, raw | {NORMALISER_KEY: nw}, update)
            stop.kept = f"the normaliser was complete and is saved in {entry.path}"
    return new
