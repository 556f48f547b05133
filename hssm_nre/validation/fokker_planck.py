"""Numerically exact likelihoods from Fokker-Planck solutions, in ssm-simulators' conventions.

Two solvers, one per kind of model:

* **Two-boundary diffusions** (``angle``, ``weibull``, ``ornstein``): PyDDM solves the forward
  equation on a grid (its implicit solver, ``dx`` about 0.002, ``dt`` = 0.0005 s, finer as
  ``a**2`` for boundaries below ``A_FULL_STEP``) for the
  drift (``v``, or ``v - g x`` for the leaky ornstein), unit noise, and the symmetric boundary
  +-b(t) ssm-simulators uses (``a``; ``a - t tan(theta)`` for angle; ``a exp(-(t/beta)^alpha)``
  for weibull), from the start point ``-a + 2 a z``.
* **Races of independent accumulators** (``race_*``): ssm-simulators cuts every accumulator at
  0 after each step (a reflecting lower barrier), so the density of choice i at time s is
  f_i(s) prod_{j != i} S_j(s), with each accumulator's first-passage density f and survival S
  from a 1-D forward equation on [0, b] (zero flux at 0, absorbing at b), solved exactly in
  time by its eigen-decomposition on a finite-volume grid of ``n_cells`` cells. (PyDDM has
  no reflecting barrier; the Wald product is only the no-barrier limit.)

Discrete monitoring: ssm-simulators checks the boundaries every dt = 0.001 s, so its paths
end as if the absorbing boundaries sat c = 0.5826 sqrt(dt) further out (Broadie, Glasserman &
Kou 1997). The races' cut at 0 (``fmax(0, x)`` after each step, a discrete Skorokhod map)
likewise acts as a reflecting barrier c below 0. Networks that learn the simulator as it is
(no boundary correction in training) are compared with references that move the absorbing
boundaries out by c (and a race's barrier down by c) with the start point fixed (``delta_t`` =
1 ms); corrected networks (angle, weibull, ornstein, the races) with the continuous-time
solution (``delta_t`` = 0). Each reference is checked against 500k simulated trials
(:func:`hssm_nre.validation.references.ks_check`) simulated with an Euler step that shrinks
as ``a**2`` for narrow boundaries, the reference shifted for that step: at the training data's
1 ms and ``a`` below about 0.45, the shift's first-order description leaves a KS distance of up
to 0.007 (``benchmarks/results/reference_checks.md``), which a network trained on the raw
1 ms simulator has learned and the reference lacks.

Angle's boundary collapses to 0 at a / tan(theta); ssm-simulators ends every path still
running then, a point mass with no density, and the shift c only holds while the boundary
is well above sqrt(dt). Trials decided once the boundary is below ``COLLAPSE_BAND`` (3 sqrt(dt))
get NaN (excluded, and counted, by the comparisons); trials after the collapse density 0.
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache

import numpy as np

from ..config import SIM_DELTA_T, SIM_MAX_T, model_spec, race_layout
from ..simulate import BGK_BETA

__all__ = [
    "MONITORING_SHIFT",
    "monitoring_shift",
    "RESOLUTION_FLOOR",
    "RACE_FLOOR",
    "DIFFUSION_MODELS",
    "fp_models",
    "diffusion_density",
    "race_density",
    "fp_logp",
]

def monitoring_shift(delta_t: float = SIM_DELTA_T) -> float:
    """How far further out discrete monitoring every ``delta_t`` puts an absorbing boundary: the
    shift the training simulations correct for (:data:`hssm_nre.simulate.BGK_BETA`), to first
    order in sqrt(dt). At ``a`` below about 0.45 the 1 ms simulator's paths end measurably
    sooner than this predicts (the "at 1 ms" columns of ``benchmarks/results/reference_checks.md``)."""
    return BGK_BETA * math.sqrt(delta_t)


#: The shift at the training data's 1 ms step.
MONITORING_SHIFT = monitoring_shift()
#: PyDDM's grid (space, time): against WFPT in the DDM limit, within 0.02 nats where the
#: log-density is above -3 and 0.2 where above -7 (0.03 and 0.3 on PyDDM's default 0.005 grid).
DX, DT = 0.002, 0.0005
#: Boundaries below this get a finer time step (:func:`_grid_dt`).
A_FULL_STEP = 1.5
#: PyDDM's default grid (``fine=False``, 2-5 times faster) for quick looks; not used by
#: validation: between draws half a posterior SD apart it moves the log-likelihood difference of
#: 1,000 ornstein trials by 0.2-0.3 nats against the fine grid.
DX_COARSE, DT_COARSE = 0.005, 0.001
#: Below this log-density the grid's absolute error dominates: per-trial comparisons leave
#: such points out (they are counted as excluded).
RESOLUTION_FLOOR = -7.0
#: Cells of the accumulator grid of a race (spectral in time, second order in space).
N_CELLS = 400
#: Angle: no reference density once the boundary is below this many sqrt(dt) (the shift c no
#: longer holds there).
COLLAPSE_SQRT_DT = 3.0
COLLAPSE_BAND = COLLAPSE_SQRT_DT * math.sqrt(SIM_DELTA_T)
#: Races: the eigen-expansion's accuracy ends about here (log-density; 0.05 nats above -25).
RACE_FLOOR = -20.0

#: Two-boundary diffusions PyDDM solves here: model -> what its parameters mean.
DIFFUSION_MODELS = {
    "angle": "drift v, boundary a - t tan(theta)",
    "weibull": "drift v, boundary a exp(-(t / beta)^alpha)",
    "ornstein": "drift v - g x (leak), boundary a",
}


def fp_models() -> dict[str, str]:
    """Every model with a Fokker-Planck reference here, and what it solves."""
    import ssms

    out = {m: f"PyDDM Fokker-Planck ({d})" for m, d in DIFFUSION_MODELS.items()}
    for name, cfg in ssms.config.model_config.items():
        if name.startswith("race_") and "angle" not in name and _race_ok(name, cfg):
            out[name] = "independent accumulators reflecting at 0, each a 1-D Fokker-Planck solve"
    return out


def _race_ok(name: str, cfg: dict) -> bool:
    if cfg.get("boundary_name", "constant") != "constant":
        return False
    params = tuple(cfg["params"])
    n = int(cfg.get("nchoices", cfg.get("n_choices", 0)) or 0)
    layout = race_layout(params, tuple(range(n))) if n else None
    return layout is not None and not layout[2]


# --------------------------------------------------------------------------------------------
# Two-boundary diffusions (PyDDM)


def _collapse_times(model: str, p: dict, delta_t: float = SIM_DELTA_T) -> tuple[float, float]:
    """(start of the band without a reference density, the collapse) for angle; inf otherwise."""
    if model == "angle" and p["theta"] > 0:
        slope = math.tan(p["theta"])
        band = COLLAPSE_SQRT_DT * math.sqrt(delta_t)
        return max(p["a"] - band, 0.0) / slope, p["a"] / slope
    return math.inf, math.inf


def _grid_dt(a: float, fine: bool = True) -> float:
    """PyDDM's time step: ``DT`` for boundaries from ``A_FULL_STEP`` up, finer as ``a**2`` below
    (its implicit solver is first order in dt, and the decision times scale as ``a**2``)."""
    if not fine:
        return DT_COARSE
    return DT * min(1.0, (a / A_FULL_STEP) ** 2)


def _grid_dx(a: float, dx: float, c: float) -> float:
    """A space step near ``dx`` that puts the boundary (``a`` shifted out by ``c``) at t = 0 on
    the grid.

    PyDDM aligns the boundary B to its grid as ``ceil(B / dx) * dx``: with dx = B / n exactly,
    rounding made B / dx come out a hair above n in about half the cases, and the boundary
    then sat a whole dx further out (at a = 0.411, P(upper) 0.8251 against 0.8257). The step
    is nudged up by one part in 10^9, so that B / dx stays just below n.
    """
    n = math.ceil((a + c) / dx)
    return (a + c) / n * (1.0 + 1e-9)


@lru_cache(maxsize=16)
def _diffusion_solution(model: str, key: tuple, t_dur: float, fine: bool = True,
                        delta_t: float = SIM_DELTA_T):
    import pyddm

    logging.getLogger("pyddm").setLevel(logging.ERROR)
    p = dict(key)
    a, c = p["a"], monitoring_shift(delta_t)
    if model == "angle":
        slope = math.tan(p["theta"])
        bound = lambda t: max(a - t * slope + c, 0.0)  # noqa: E731
        drift = p["v"]
    elif model == "weibull":
        al, be = p["alpha"], p["beta"]
        bound = lambda t: a * math.exp(-((t / be) ** al)) + c  # noqa: E731
        drift = p["v"]
    elif model == "ornstein":
        v, g = p["v"], p["g"]
        drift = lambda x: v - g * x  # noqa: E731
        bound = a + c
    else:
        raise ValueError(f"{model!r} has no PyDDM reference here; models: {', '.join(DIFFUSION_MODELS)}.")
    y0 = -a + 2.0 * a * p["z"]

    def start(x):  # the unit mass split between the two grid points around y0
        x = np.asarray(x)
        out = np.zeros(len(x))
        i = int(np.clip(np.searchsorted(x, y0) - 1, 0, len(x) - 2))
        frac = (y0 - x[i]) / (x[i + 1] - x[i])
        out[i], out[i + 1] = 1.0 - frac, frac
        return out

    m = pyddm.gddm(drift=drift, noise=1.0, bound=bound, starting_position=start,
                   nondecision=0.0, mixture_coef=0.0, dx=_grid_dx(a, DX if fine else DX_COARSE, c),
                   dt=_grid_dt(a, fine), T_dur=t_dur)
    s = m.solve()
    return np.asarray(m.t_domain()), np.asarray(s.pdf("correct")), np.asarray(s.pdf("error"))


def diffusion_density(model: str, params: dict, s, choice, t_dur: float | None = None,
                      fine: bool = True, delta_t: float = SIM_DELTA_T) -> np.ndarray:
    """Density of decision time ``s`` (rt minus t) and ``choice`` (1 upper, -1 lower) for a
    two-boundary diffusion monitored every ``delta_t``; 0 for s <= 0 and after angle's
    collapse, NaN once angle's boundary is below ``COLLAPSE_BAND`` (at 1 ms; it scales with
    sqrt(delta_t)): the point mass at the collapse has no density."""
    s = np.asarray(s, np.float64)
    choice = np.asarray(choice)
    shape_keys = tuple(sorted((k, float(v)) for k, v in params.items() if k != "t"))
    horizon = float(np.nanmax(s, initial=0.0)) + 0.05 if t_dur is None else t_dur
    horizon = min(max(_round_up(horizon), 0.1), SIM_MAX_T)
    grid, up, lo = _diffusion_solution(model, shape_keys, horizon, fine, float(delta_t))
    dens = np.where(choice == 1, np.interp(s, grid, up, right=np.nan), np.interp(s, grid, lo, right=np.nan))
    dens = np.where(s <= 0, 0.0, dens)
    band, collapse = _collapse_times(model, dict(shape_keys), delta_t)
    step = _grid_dt(float(params["a"]), fine)
    dens = np.where(s > collapse + step, 0.0, dens)  # every path has ended
    return np.where((s >= band) & (s <= collapse + step), np.nan, dens)


def _round_up(t: float) -> float:
    """Horizons rounded up to 0.5 s, so that nearby datasets share cached solutions."""
    return math.ceil(t * 2.0) / 2.0


# --------------------------------------------------------------------------------------------
# Races of independent accumulators reflecting at 0


@lru_cache(maxsize=4096)
def _accumulator(v: float, b: float, x0: float, n_cells: int = N_CELLS):
    """Eigen-decomposition of one accumulator's forward operator on [0, b] (zero flux at 0,
    absorbing at b), started at x0: S(s) = sum_k w_k exp(lam_k s), f = -S'."""
    dx = b / n_cells
    # finite volumes, dp_i/dt = (J_i - J_{i+1}) / dx with the flux between cells i-1 and i
    # J_i = v (p_{i-1} + p_i) / 2 - (p_i - p_{i-1}) / (2 dx)
    lower = v / (2 * dx) + 1 / (2 * dx * dx)  # coefficient of p_{i-1} in dp_i / dt
    upper = -v / (2 * dx) + 1 / (2 * dx * dx)  # coefficient of p_{i+1}
    if upper <= 0:
        raise ValueError(f"drift {v} too large for {n_cells} cells on [0, {b}]")
    diag = np.full(n_cells, -(lower + upper))
    diag[0] = -lower  # no flux through x = 0
    diag[-1] = -upper - 1 / (dx * dx)  # p(b) = 0: J_n = p_{n-1} / dx
    # L = D A D^-1 with A symmetric, D_i = r^i, r = sqrt(lower / upper): a real spectrum
    off = np.full(n_cells - 1, math.sqrt(lower * upper))
    lam, vec = np.linalg.eigh(np.diag(diag) + np.diag(off, 1) + np.diag(off, -1))
    r = math.sqrt(lower / upper)
    # start: the unit mass split between the two cells whose centres bracket x0
    u = min(max(x0 / dx - 0.5, 0.0), n_cells - 1.0)
    i0 = min(int(u), n_cells - 2)
    frac = u - i0
    weights = np.zeros(n_cells)
    for i, share in ((i0, 1.0 - frac), (i0 + 1, frac)):
        if share > 0:
            scale = r ** (np.arange(n_cells) - i)  # D_j / D_i, kept in range
            weights += share * (scale @ vec) * vec[i]
    return lam, weights


def _accumulator_fs(v: float, b: float, x0: float, s: np.ndarray):
    lam, w = _accumulator(float(v), float(b), float(x0))
    e = np.exp(np.outer(np.maximum(s, 0.0), lam))  # (n, K)
    S = np.clip(e @ w, 0.0, 1.0)
    f = np.maximum(-(e @ (w * lam)), 0.0)
    return f, S


def race_density(model: str, params: dict, s, choice, delta_t: float = SIM_DELTA_T) -> np.ndarray:
    """Density of decision time ``s`` and ``choice`` (0..n-1) for a race of independent
    accumulators reflecting at 0 (ssm-simulators' race models), monitored every ``delta_t``."""
    spec = model_spec(model)
    n, zs, extras = race_layout(spec.params, spec.choices)
    if extras:
        raise ValueError(f"{model!r} has parameters a race of independent accumulators lacks: {extras}.")
    s = np.atleast_1d(np.asarray(s, np.float64))
    choice = np.broadcast_to(np.asarray(choice), s.shape).astype(int)
    a = float(params["a"])
    c = monitoring_shift(delta_t)
    # in coordinates shifted by c: reflecting at 0 (the cut at 0, c below it), absorbing at a + 2c
    starts = [params[zs[0]] if len(zs) == 1 else params[zs[i]] for i in range(n)] if zs else [0.0] * n
    fs, Ss = zip(*(_accumulator_fs(params[f"v{i}"], a + 2 * c, starts[i] * a + c, s) for i in range(n)))
    fs, Ss = np.array(fs), np.array(Ss)  # (n, trials)
    log_S = np.log(np.maximum(Ss, 1e-300))
    others = log_S.sum(0) - log_S[choice, np.arange(len(s))]
    dens = fs[choice, np.arange(len(s))] * np.exp(others)
    return np.where(s <= 0, 0.0, dens)


# --------------------------------------------------------------------------------------------


def fp_logp(model: str, rt, response, theta, *, fine: bool = True,
            delta_t: float = SIM_DELTA_T) -> np.ndarray:
    """Per-trial log-density: ``theta`` (..., P) in ssm-simulators order, ``rt``/``response``
    broadcast against ``theta.shape[:-1]``. One solve per distinct parameter vector (t aside);
    ``fine=False``: PyDDM's coarser default grid. ``delta_t``: the simulator's Euler step the
    density is of (uncorrected networks learn the 1 ms simulator; 0: the continuous-time model,
    which boundary-corrected networks learn)."""
    spec = model_spec(model)
    theta = np.asarray(theta, np.float64)
    rt, response = np.broadcast_arrays(np.asarray(rt, np.float64), np.asarray(response))
    shape = np.broadcast_shapes(rt.shape, theta.shape[:-1])
    rt = np.broadcast_to(rt, shape).ravel()
    response = np.broadcast_to(response, shape).ravel()
    th = np.broadcast_to(theta, shape + (theta.shape[-1],)).reshape(-1, theta.shape[-1])
    it = spec.params.index("t")
    s = rt - th[:, it]
    rest = np.delete(th, it, axis=1)
    names = [p for p in spec.params if p != "t"]
    uniq, inv = np.unique(rest, axis=0, return_inverse=True)
    inv = inv.ravel()
    dens = np.empty(len(rt))
    race = model not in DIFFUSION_MODELS
    for k, row in enumerate(uniq):
        sel = inv == k
        params = dict(zip(names, row.tolist()))
        if race:
            dens[sel] = race_density(model, params, s[sel], response[sel], delta_t)
        else:
            dens[sel] = diffusion_density(model, params, s[sel], response[sel], fine=fine, delta_t=delta_t)
    with np.errstate(divide="ignore"):
        out = np.log(dens)
    return out.reshape(shape)
