"""Reference likelihoods behind one interface, for validating networks against them.

A :class:`Reference` gives the exact (or numerically exact) log-density of single trials of one
ssm-simulators model in that model's own parameter convention:

* HSSM's analytic ``ddm`` (WFPT) and ``ddm_sdv``, and HDDM's numerical ``full_ddm``
  (:mod:`hssm_nre.reference` holds the conversions);
* Fokker-Planck solutions (:mod:`.fokker_planck`): PyDDM for ``angle``, ``weibull`` and
  ``ornstein``; for ssm-simulators' races of independent accumulators (``race_*`` with a
  constant boundary: ``race_no_bias_3``, ``race_3``, ``race_no_z_3``, the 2- and 4-choice
  ones), a 1-D solve per accumulator;
* the LBA's closed form (:mod:`.lba`) for ``lba2``, ``lba3`` and ``lba4``, with
  ssm-simulators' folded drifts.

Not covered: ``levy`` (alpha-stable noise: no Fokker-Planck equation PyDDM solves), the LCA
(coupled accumulators: a 3-D equation), angle-bounded races, and models whose drift or
boundary PyDDM could express but nobody has wired in yet (``gamma_drift``, the conflict
models). Models without a reference are validated by calibration and coverage alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..reference import REFERENCE_MODELS, reference_logp
from ..config import SIM_DELTA_T, SIM_MAX_T, model_spec
from ..errors import UnknownModelError, UnsupportedModelError
from .fokker_planck import fp_logp, fp_models
from .lba import LBA_FLOOR, lba_logp, lba_models

__all__ = ["Reference", "reference", "reference_for", "has_reference", "references", "ks_check", "check_step"]

#: Models with a closed-form or quadrature reference, and what it is.
ANALYTIC = {
    "ddm": "HSSM's analytic WFPT (Navarro & Fuss 2009)",
    "ddm_sdv": "HSSM's analytic ddm_sdv (WFPT mixed over a normal drift)",
    "full_ddm": "HDDM's numerical integration over the start point and non-decision time (hddm_wfpt)",
}
assert set(ANALYTIC) == set(REFERENCE_MODELS)


def references() -> dict[str, str]:
    """Every model with a reference likelihood, and what the reference is.

    Returns
    -------
    dict of str to str
        Model name to a description of its reference.
    """
    return ANALYTIC | fp_models() | lba_models()


@dataclass(frozen=True)
class Reference:
    """The reference log-likelihood of one model (made by :func:`reference`).

    Attributes
    ----------
    model
        The ssm-simulators model name.
    description
        What the reference is (e.g. "HSSM's analytic WFPT (Navarro & Fuss 2009)").
    delta_t
        For a Fokker-Planck solve: the Euler step of the simulator it describes, 0 for the
        continuous-time model (what a boundary-corrected network learns).
    """

    model: str
    description: str
    delta_t: float = SIM_DELTA_T

    @property
    def floor(self) -> float:
        """Log-densities below this are outside the reference's accuracy.

        They are left out of per-trial comparisons: HSSM's floor for the analytic references, the
        grid's for Fokker-Planck solves.
        """
        from ..reference import WFPT_FLOOR
        from .fokker_planck import DIFFUSION_MODELS, RACE_FLOOR, RESOLUTION_FLOOR

        if self.model in ANALYTIC:
            return WFPT_FLOOR
        if self.model in lba_models():
            return LBA_FLOOR
        return RESOLUTION_FLOOR if self.model in DIFFUSION_MODELS else RACE_FLOOR

    def logp(self, rt, response, theta, *, fine: bool = True, delta_t: float | None = None) -> np.ndarray:
        """Per-trial log-density of the reference.

        Parameters
        ----------
        rt, response
            Response times (seconds) and responses, broadcast against ``theta.shape[:-1]``.
        theta
            Parameter vectors, shape ``(..., P)``, in ssm-simulators order.
        fine
            For a Fokker-Planck solve: its fine grid (``False``: the coarser one).
        delta_t
            For a Fokker-Planck solve: the Euler step of the simulator it describes, 0 for the
            continuous-time model (default: the reference's ``delta_t``). The analytic
            references are of the continuous-time model, which the boundary-corrected simulator
            approaches at any step.

        Returns
        -------
        numpy.ndarray
            The log-densities, of the broadcast shape.
        """
        theta = np.asarray(theta, np.float64)
        if self.model in ANALYTIC:
            return reference_logp(self.model, rt, response, *np.moveaxis(theta, -1, 0))
        if self.model in lba_models():
            return lba_logp(rt, response, theta)
        dt = self.delta_t if delta_t is None else delta_t
        return fp_logp(self.model, rt, response, theta, fine=fine, delta_t=dt)

    def require(self) -> None:
        """Check that the package the reference solves with is installed.

        Raises
        ------
        MissingExtraError
            PyDDM (Fokker-Planck references) or hddm_wfpt (full_ddm) is missing:
            ``pip install "hssm-nre[validation]"``.
        """
        from ..errors import require
        from .fokker_planck import DIFFUSION_MODELS

        if self.model in DIFFUSION_MODELS:
            require("pyddm", "validation", f"The {self.model!r} reference likelihood (a Fokker-Planck solve)")
        elif self.model == "full_ddm":
            require("hddm_wfpt", "validation", "The full_ddm reference likelihood")

    @property
    def solves(self) -> bool:
        """True for a numerical solve per parameter vector (about a second each for PyDDM)."""
        from .fokker_planck import DIFFUSION_MODELS

        return self.model in DIFFUSION_MODELS

    def total_logp(self, draws: np.ndarray, data: np.ndarray, chunk: int = 2_000_000) -> np.ndarray:
        """Total log-likelihood of a data set at each of many parameter vectors.

        Fokker-Planck solves use their fine grid: between two draws half a posterior SD apart,
        1,000 ornstein trials' log-likelihood difference moves by 0.2-0.3 nats on the coarse one.

        Parameters
        ----------
        draws
            Parameter vectors, shape ``(S, P)``, in ssm-simulators order.
        data
            The trials, shape ``(n, 2)``: rt and response.
        chunk
            At most this many trial evaluations at once (draws are processed in blocks).

        Returns
        -------
        numpy.ndarray
            Shape ``(S,)``: the summed log-likelihood at each draw.
        """
        draws = np.asarray(draws, np.float64)
        n = len(data)
        per = max(1, chunk // max(n, 1))
        out = []
        for s in range(0, len(draws), per):
            block = draws[s : s + per]
            lp = self.logp(data[None, :, 0], data[None, :, 1], block[:, None, :])
            out.append(lp.sum(axis=1))
        return np.concatenate(out)


def has_reference(model: str) -> bool:
    """Whether ``model`` has a reference likelihood (:func:`references`).

    Parameters
    ----------
    model
        The model name.

    Returns
    -------
    bool
        True when it has one.
    """
    return model in references()


def reference(model: str, *, continuous: bool | None = None) -> Reference:
    """The reference likelihood of ``model``.

    Parameters
    ----------
    model
        A model with a reference (:func:`references`).
    continuous
        Of the continuous-time model (True) or of ssm-simulators' 1 ms walk as it is (False,
        for networks trained without the boundary correction). Default: as the model's
        training data are today (``ModelSpec.boundary_correction``). Matters for the
        Fokker-Planck references only; the others describe the continuous-time model.

    Returns
    -------
    Reference
        Its reference.

    Raises
    ------
    ValueError
        ``model`` has no reference likelihood; the message lists those that do.

    Examples
    --------
    >>> from hssm_nre.validation import reference
    >>> ref = reference("ddm")
    >>> ref.description
    "HSSM's analytic WFPT (Navarro & Fuss 2009)"
    """
    refs = references()
    if model not in refs:
        raise ValueError(f"{model!r} has no reference likelihood; references: {', '.join(refs)}.")
    if continuous is None:
        try:
            continuous = model_spec(model).boundary_correction
        except (UnknownModelError, UnsupportedModelError):
            continuous = False
    if model not in fp_models():
        return Reference(model, refs[model])
    if continuous:
        return Reference(model, f"{refs[model]}, continuous time", 0.0)
    return Reference(model, f"{refs[model]}, of the {SIM_DELTA_T * 1000:g} ms Euler walk", SIM_DELTA_T)


def reference_for(spec) -> Reference:
    """The reference that describes what a network trained on ``spec`` learned: of the
    continuous-time model when its simulations were boundary-corrected, else of the 1 ms walk.

    Parameters
    ----------
    spec
        A :class:`~hssm_nre.config.ModelSpec` (``lik.spec`` of a likelihood).

    Returns
    -------
    Reference
        ``reference(spec.name, continuous=spec.boundary_correction)``.
    """
    return reference(spec.name, continuous=spec.boundary_correction)


def check_step(spec, theta) -> float:
    """The Euler step :func:`ks_check` simulates with.

    1 ms for boundaries ``a`` from 1 up, ``1 ms * a**2`` below: the
    discretisation error's scale, sqrt(dt) / a, then stays at its value for ``a`` = 1, where
    1 ms passes the 500,000-trial band. ``a`` is the boundary (the threshold for races).

    Parameters
    ----------
    spec
        The model's :class:`~hssm_nre.config.ModelSpec`.
    theta
        One parameter vector, in ssm-simulators order.

    Returns
    -------
    float
        The step in seconds; 1 ms for models without a parameter ``a``.
    """
    if "a" not in spec.params:
        return SIM_DELTA_T
    a = float(np.asarray(theta)[spec.params.index("a")])
    return SIM_DELTA_T * min(1.0, a * a)


def ks_check(
    model: str, theta, n_trials: int = 500_000, *, seed: int = 0, alpha: float = 0.01,
    delta_t: float | None = None,
) -> dict:
    """Check a reference likelihood against simulations (a Kolmogorov-Smirnov distance).

    The reference's per-choice (defective) rt CDFs are compared with ``n_trials``
    ssm-simulators trials at ``theta``, simulated as the training data are (boundary correction
    included); timed-out trials are left out. Decision times below zero count (full_ddm's
    t - st). Trials where the reference has no density (angle's point mass at its collapse) are
    left out and their share reported. This simulates ``n_trials`` trials and integrates the
    reference on a fine grid: seconds to minutes.

    Parameters
    ----------
    model
        A model with a reference (:func:`references`).
    theta
        One parameter vector, in ssm-simulators order.
    n_trials
        Simulated trials.
    seed
        Seed of the simulation.
    alpha
        Level of the Dvoretzky-Kiefer-Wolfowitz band (a union over choices).
    delta_t
        Euler step of the simulation. Default (None): :func:`check_step`, the training data's
        1 ms, made finer for narrow boundaries, where a 1 ms walk's discretisation error
        (of order sqrt(dt) / a) would outgrow the band of 500,000 trials. The check is of the
        reference against the continuous-time model, which the simulator approaches as dt -> 0.

    Returns
    -------
    dict
        ``model``, ``theta``, ``n_trials``, ``delta_t``; ``ks``, the largest distance between the empirical
        and the reference CDFs; ``band``, the band's half-width, which ``ks`` should stay
        inside; ``passed`` (``ks <= band``); and ``excluded``, the share of trials left out near
        points without a reference density.

    Raises
    ------
    ValueError
        ``model`` has no reference likelihood.
    MissingExtraError
        The package the reference solves with is not installed.
    """
    from ..simulate import simulate_at

    spec = model_spec(model)
    ref = reference(model)
    ref.require()
    theta = np.asarray(theta, np.float64)
    dt = check_step(spec, theta) if delta_t is None else float(delta_t)
    rt, resp = simulate_at(spec, theta, n_trials, seed=seed, delta_t=dt)
    # a boundary-corrected simulation stands for the continuous-time model; an uncorrected one
    # for the process monitored every dt, which the reference describes by its shifted boundary
    out = _ks(spec, ref, theta, rt, resp, 0.0 if spec.boundary_correction else dt, alpha)
    return {"model": model, "theta": theta.tolist(), "n_trials": n_trials, "delta_t": dt} | out


def ks_distance(model: str, theta, rt, resp, *, delta_t: float, alpha: float = 0.01) -> dict:
    """The Kolmogorov-Smirnov distance between raw simulated trials (``rt``, ``resp``, one
    parameter vector ``theta``) and the reference for a process monitored every ``delta_t``
    (0: the continuous-time model), with its Dvoretzky-Kiefer-Wolfowitz band at level ``alpha``.
    Returns ``ks``, ``band``, ``passed`` and ``excluded`` (:func:`ks_check`)."""
    return _ks(model_spec(model), reference(model), np.asarray(theta, np.float64), rt, resp, delta_t, alpha)


def _ks(spec, ref, theta: np.ndarray, rt, resp, delta_t: float, alpha: float) -> dict:
    n_trials = len(rt)
    dt = float(delta_t)
    t = theta[spec.params.index("t")] if "t" in spec.params else 0.0  # the LBA has none
    ok = rt - t < SIM_MAX_T - 1e-6  # timed-out trials come back at max_t + t with a made-up response
    # decision times from below 0 (full_ddm's t - st) to the slowest trial
    grid = np.linspace(min(0.0, float(rt[ok].min() - t)) - 0.01, float(rt[ok].max() - t) + 0.05, 20_001)
    worst, excluded = 0.0, 0.0
    for c in spec.choices:
        x = np.sort(rt[ok & (resp == c)] - t)
        with np.errstate(invalid="ignore", divide="ignore"):
            dens = np.exp(ref.logp(grid + t, np.full(grid.shape, c), theta, delta_t=dt))  # 0 outside the support
        bad = ~np.isfinite(dens)
        cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(grid))])
        # leave out trials near a point where the reference has no density (and the grid around it)
        keep = np.ones(len(x), bool)
        if bad.any():
            for g in grid[bad]:
                keep &= np.abs(x - g) > 2 * (grid[1] - grid[0])
            cdf = np.nan_to_num(cdf, nan=0.0)
        excluded += (~keep).sum() / n_trials
        x_in = x[keep]
        if len(x_in):
            emp = np.arange(1, len(x_in) + 1) / n_trials
            ref_cdf = np.interp(x_in, grid, cdf)
            worst = max(worst, float(np.max(np.abs(emp - ref_cdf))), float(np.max(np.abs(emp - 1 / n_trials - ref_cdf))))
    band = math.sqrt(math.log(2 * len(spec.choices) / alpha) / (2 * n_trials))
    return {"ks": worst, "band": band, "passed": bool(worst <= band), "excluded": float(excluded)}
