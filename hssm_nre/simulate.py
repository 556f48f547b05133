"""Training data from an ssm-simulators model config: numpy in, dict of arrays out.

One simulated trial per parameter draw. Parameters are drawn uniformly from the
training box with the model's sampling constraints applied (e.g. lba's b > A),
and simulated with ``ssms.Simulator.simulate`` in vectorised chunks (one call per
chunk of ~100k draws, never one call per trial), spread over processes because
the ssm-simulators wheel has no working thread option.

Timed-out trials: a trial that never reaches a boundary by ``max_t`` comes back
from ssm-simulators with a fake response and rt ~ ``max_t`` + t. Those trials
are **dropped** (about 3 in 10,000 for the DDM under the uniform prior); the
network therefore models the density of trials that end before ``max_t`` = 20 s,
which is every trial a real experiment records. The count is returned as
``n_dropped``. Non-finite rts and omissions (rt = -999) are dropped the same way.

Discrete monitoring: ssm-simulators integrates with Euler steps of dt = 0.001 s
and checks the boundaries only at those steps, so paths that cross and come
back between steps are missed. First-passage times come out as if the
boundaries sat about 0.5826 * sqrt(dt) further out (Broadie, Glasserman & Kou
1997): for the DDM at a = 1.2 the analytic WFPT likelihood puts the simulator's
data at a = 1.22. For models in ``BOUNDARY_CORRECTED_MODELS`` the simulator is
run with the boundary pulled in by that amount (start point held fixed), which
recovers the continuous-time model (measured: WFPT MLE of a 1.200, z exact,
from 200k corrected trials at a = 1.2; 1.220 uncorrected). The network then
learns the continuous-time DDM, whose exact likelihood is WFPT. A moving boundary
(angle, weibull) is pulled in the same way at every step, b(t) - 0.5826 sqrt(dt): the shift
holds locally. Models in ``FINE_STEP_MODELS`` are simulated below a = 1 at a finer step
(:func:`euler_steps`), where the 1 ms correction alone still misses the continuous-time model.
The races (``RACE_CORRECTED_MODELS``) also cut every accumulator at 0 after each step, which acts
as a reflecting barrier the same 0.5826 sqrt(dt) below 0: their threshold is lowered by twice
that and their start points by once (:func:`simulator_theta`; 500,000-trial KS from the
continuous-time solution 0.0009-0.0027, raw 0.007-0.027: ``benchmarks/results/continuous_time.md``).

Per-call parameters: ssm-simulators' batched simulator mishandles a few parameters when they
vary between the rows of one call (levy's alpha: ``ModelSpec.per_call_params``, found for every
model by ``benchmarks/batch_consistency.py``). For those models each call simulates ``GROUP``
rows that share one value of them, drawn uniformly like the rest.

Reproducibility: chunk ``i`` is generated from ``SeedSequence(seed).spawn(...)[i]``,
so the data depend on ``seed`` and ``n_simulations`` only, not on the number
of worker processes.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from .interrupt import ignore_in_worker, signals_blocked
from .config import FINE_STEP_MODELS, SIM_DELTA_T, SIM_MAX_T, ModelSpec, _ssms_config, model_spec, race_layout
from .errors import NREWarning, warn

__all__ = [
    "sample_parameters",
    "recorded",
    "simulate_chunk",
    "simulate_training_data",
    "default_workers",
    "simulate_dataset",
    "simulate_trials",
    "simulate_at",
    "simulate_rows",
    "simulate_replicas",
    "simulator",
    "simulator_theta",
    "euler_steps",
    "describe_simulation",
    "has_sampling_constraints",
]

CHUNK = 100_000
#: Rows per simulator call that share the values of a model's ``per_call_params``.
GROUP = 1_000


def default_workers() -> int:
    """Processes used for simulation: one per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def sample_parameters(spec: ModelSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw parameter vectors uniformly from the training box, constraints applied.

    The constraints are the model's ssm-simulators sampling constraints (e.g. lba's b > A).

    Parameters
    ----------
    spec
        The model (its ``bounds`` are the box).
    n
        The number of vectors.
    rng
        The random generator.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, n_params)``, float64, in ``spec.params`` order.
    """
    from ssms.dataset_generators.parameter_samplers.uniform_sampler import (
        UniformParameterSampler,
    )

    sampler = UniformParameterSampler(spec.bounds, constraints=list(_sampling_constraints(spec)))
    draws = sampler.sample(n_samples=n, rng=rng)
    return np.stack([np.asarray(draws[p], dtype=np.float64) for p in spec.params], axis=1)


#: -zeta(1/2) / sqrt(2 pi): the discrete-monitoring boundary shift in units of sigma sqrt(dt).
BGK_BETA = 0.5825971579390106


def euler_steps(spec: ModelSpec, theta: np.ndarray) -> np.ndarray:
    """The Euler step each row of ``theta`` (model order) is simulated with, in seconds.

    1 ms, except for boundary-corrected models in ``FINE_STEP_MODELS`` below a boundary ``a`` of 1: there the
    largest power-of-two fraction of 1 ms at most ``1 ms * a**2``. The discretisation error
    left after the boundary correction scales as sqrt(dt) / a; decision times scale as a**2,
    so the steps per trial (the cost) stay about what they are at a = 1.
    """
    theta = np.asarray(theta, np.float64)
    steps = np.full(len(theta), SIM_DELTA_T)
    if spec.boundary_correction and spec.name in FINE_STEP_MODELS:
        a = np.minimum(1.0, theta[:, spec.params.index("a")])
        k = np.maximum(0.0, np.ceil(-np.log2(a * a) - 1e-9))
        steps = SIM_DELTA_T * 2.0**-k
    return steps


def simulator_theta(spec: ModelSpec, theta: np.ndarray, delta_t: float = SIM_DELTA_T) -> np.ndarray:
    """Parameters handed to ssm-simulators for the model parameters ``theta``.

    Identity except for boundary-corrected models, where the boundary is pulled in by
    ``BGK_BETA * sqrt(dt)`` and the start point -b(0) + 2 b(0) z held fixed. A constant boundary
    is pulled in here (``a`` lowered); a moving one (angle, weibull) by the simulator
    :func:`simulator` builds, so only ``z`` changes here. For a race, the threshold is lowered by
    twice the shift and the start points by once (:func:`_race_pulled_in`).
    """
    if not spec.boundary_correction:
        return theta
    out = np.array(theta, dtype=np.float64, copy=True)
    shift = BGK_BETA * np.sqrt(delta_t)
    race = race_layout(spec.params, spec.choices)
    if race is not None:
        if race[2]:
            raise ValueError(f"{spec.name!r}: no boundary correction is derived for a race with {race[2]}.")
        return _race_pulled_in(spec, out, race[1], shift)
    ia, iz = spec.params.index("a"), spec.params.index("z")
    a, z = out[:, ia], out[:, iz]
    moving = _moving_boundary(spec)
    if moving is None:
        out[:, iz] = held_start(z, a, shift)
        out[:, ia] = a - shift
    else:
        fun, names = moving
        b0 = fun(0.0, **{p: out[:, spec.params.index(p)] for p in names})
        out[:, iz] = held_start(z, b0, shift)
    return out


def _race_pulled_in(spec: ModelSpec, out: np.ndarray, starts: tuple[str, ...], shift: float) -> np.ndarray:
    """A race's walk that stands for its continuous-time model: every accumulator is cut at 0
    after each step, a discrete reflection that acts as a barrier ``shift`` below 0, and its
    threshold is checked every step, which acts as one ``shift`` above ``a``. Lowering the
    threshold by 2 ``shift`` and every absolute start point ``z a`` by ``shift`` (not below 0)
    puts both back where the continuous-time model has them, ``shift`` apart from the walk's in
    the same direction. (A start within ``shift`` of 0 is started at 0: at a reflecting barrier
    the first-passage law does not change to first order in the start point.)"""
    ia = spec.params.index("a")
    a = out[:, ia]
    lowered = a - 2.0 * shift
    for name in starts:
        iz = spec.params.index(name)
        out[:, iz] = np.maximum(out[:, iz] * a - shift, 0.0) / lowered
    out[:, ia] = lowered
    return out


def simulator(spec: ModelSpec, delta_t: float = SIM_DELTA_T):
    """The ``ssms.Simulator`` for ``spec`` at Euler step ``delta_t``: the model's own, or for a
    boundary-corrected model with a moving boundary b(t), one whose boundary is
    b(t) - ``BGK_BETA * sqrt(delta_t)`` (the discrete-monitoring shift holds locally)."""
    import ssms

    moving = _moving_boundary(spec) if spec.boundary_correction else None
    if moving is None:
        return ssms.Simulator(spec.name)
    fun, names = moving
    shift = BGK_BETA * np.sqrt(delta_t)

    def pulled_in(t=0.0, **params):
        return fun(t, **params) - shift

    return ssms.Simulator(spec.name, boundary=pulled_in, boundary_params=list(names))


def _moving_boundary(spec: ModelSpec):
    """``(function, parameter names)`` of the model's ssm-simulators boundary when it is not
    constant, else None."""
    from ssms.config import get_boundary_registry

    name = _ssms_config()[spec.name].get("boundary_name", "constant")
    if name == "constant":
        return None
    info = get_boundary_registry().get(name)
    return info["fun"], tuple(info["params"])


def describe_simulation(spec: ModelSpec) -> dict[str, str]:
    """What the training simulations of ``spec`` represent, as a network's metadata records it.

    Returns
    -------
    dict of str to str
        ``time``: "continuous" (boundary-corrected) or "discrete"; ``boundary``: how the
        simulator's boundary relates to the model's; ``euler_step``: the step used.
    """
    step = f"{SIM_DELTA_T * 1000:g} ms"
    if spec.boundary_correction and spec.name in FINE_STEP_MODELS:
        step += " from a = 1 up; below, the largest power-of-two fraction of it at most 1 ms * a**2"
    if not spec.boundary_correction:
        return {"time": "discrete", "boundary": "as the model's, checked every Euler step", "euler_step": step}
    if race_layout(spec.params, spec.choices) is not None:
        return {
            "time": "continuous",
            "boundary": f"a - 2 x {BGK_BETA:.4f} sqrt(dt), start points z a - {BGK_BETA:.4f} sqrt(dt) "
                        "(discrete monitoring and the cut at 0)",
            "euler_step": step,
        }
    moving = "b(t)" if _moving_boundary(spec) is not None else "a"
    return {
        "time": "continuous",
        "boundary": f"{moving} - {BGK_BETA:.4f} sqrt(dt) (discrete-monitoring correction), start point held",
        "euler_step": step,
    }


def held_start(z, b0, shift):
    """The relative start point that keeps the absolute start -b0 + 2 b0 z where it was when
    the boundary b0 (at t = 0) is pulled in by ``shift``."""
    return 0.5 + b0 * (z - 0.5) / (b0 - shift)


def recorded(spec: ModelSpec, rt: np.ndarray, choice: np.ndarray, t=0.0) -> np.ndarray:
    """Mask of the trials an experiment records: finite rt > 0 that ended before max_t
    (timed-out trials come back with rt ~ max_t + t and a made-up response), with a
    valid choice. Training data and simulated datasets both keep only these."""
    return (
        np.isfinite(rt)
        & (rt > 0)
        & (rt - np.asarray(t) < SIM_MAX_T - 10 * SIM_DELTA_T)
        & np.isin(choice, spec.choices)
    )


def simulate_chunk(
    spec: ModelSpec, n: int, seed_seq: np.random.SeedSequence
) -> dict[str, np.ndarray]:
    """Simulate ``n`` single trials, one per fresh parameter draw."""
    rng = np.random.default_rng(seed_seq)
    theta = sample_parameters(spec, n, rng)
    shared = spec.per_call_params
    calls = [slice(0, n)]
    if shared:
        # ssm-simulators ignores per-row values of these within one call: draw one value per
        # group of GROUP rows (still uniform over the box) and simulate each group alone.
        _no_constraints_on(spec, shared)
        idx = [spec.params.index(p) for p in shared]
        n_groups = -(-n // GROUP)
        theta[:, idx] = np.repeat(sample_parameters(spec, n_groups, rng)[:, idx], GROUP, axis=0)[:n]
        calls = [slice(g * GROUP, min(n, (g + 1) * GROUP)) for g in range(n_groups)]
    states = (int(rng.integers(0, 2**31 - 1)) for _ in calls)  # drawn call by call, in order
    rt, choice = simulate_rows(spec, theta, calls, states)
    keep = recorded(spec, rt, choice, theta[:, spec.params.index("t")] if spec.shift else 0.0)
    return {
        "theta": theta[keep].astype(np.float32),
        "rt": rt[keep].astype(np.float32),
        "choice": choice[keep],
        "n_dropped": np.asarray(int((~keep).sum())),
    }


def simulate_rows(spec: ModelSpec, theta: np.ndarray, calls, random_states, *, max_t: float = SIM_MAX_T):
    """One trial per row of ``theta`` (model parameters, model order): one ssm-simulators call
    per entry of ``calls`` (slices or index arrays that cover every row), seeded by
    ``random_states`` in the same order, split further by Euler step (:func:`euler_steps`;
    the first step's part of a call is seeded ``state``, the others from spawned streams). Boundary correction as
    :func:`simulator_theta` and :func:`simulator`. Returns ``(rt float64, choice int32)`` in
    row order."""
    theta = np.asarray(theta, np.float64)
    steps = euler_steps(spec, theta)
    sims: dict[float, Any] = {}
    rt, choice = np.empty(len(theta)), np.empty(len(theta), np.int32)
    for rows, state in zip(calls, random_states):
        rows = np.arange(len(theta))[rows]
        for k, dt in enumerate(np.unique(steps[rows])):
            part = rows[steps[rows] == dt]
            if dt not in sims:
                sims[dt] = simulator(spec, dt)
            sim_theta = simulator_theta(spec, theta[part], dt)
            out = sims[dt].simulate(
                {p: sim_theta[:, i] for i, p in enumerate(spec.params)},
                n_samples=1,
                return_option="minimal",
                random_state=_part_seed(int(state), k),
                delta_t=float(dt),
                max_t=max_t,
            )
            rt[part] = np.asarray(out["rts"], dtype=np.float64).ravel()
            choice[part] = np.asarray(out["choices"]).ravel()
    return rt, choice


def _part_seed(state: int, k: int) -> int:
    """The seed of the k-th Euler-step part of a call seeded ``state``: ``state`` itself for the
    first (a one-step model draws as it always did), a spawned stream for the others (``state +
    k`` would reuse the next call's)."""
    if k == 0:
        return state
    return int(np.random.SeedSequence([state, k]).generate_state(1)[0] % (2**31 - 1))


def per_call_groups(spec: ModelSpec, theta: np.ndarray) -> list[np.ndarray]:
    """Row indices of ``theta`` grouped so that each group shares its values of
    ``spec.per_call_params`` (one group of all rows when the model has none), in the
    order of those values."""
    idx = [spec.params.index(p) for p in spec.per_call_params]
    if not idx:
        return [np.arange(len(theta))]
    _, group = np.unique(theta[:, idx], axis=0, return_inverse=True)
    group = group.ravel()
    return [np.flatnonzero(group == g) for g in np.unique(group)]


def _sampling_constraints(spec: ModelSpec) -> list:
    """The ssm-simulators sampling constraints of the model (e.g. lba's b > A)."""
    return (_ssms_config()[spec.name].get("parameter_transforms") or {}).get("sampling", [])


def has_sampling_constraints(spec: ModelSpec) -> bool:
    """Whether the model's parameters are drawn with constraints (e.g. lba's b > A), so that
    uniform draws from the box leave the model: use :func:`sample_parameters`."""
    return bool(_sampling_constraints(spec))


def _no_constraints_on(spec: ModelSpec, params: tuple[str, ...]) -> None:
    """Group-shared values are drawn apart from the rest of the vector, so no sampling
    constraint (e.g. lba's b > A) may involve them."""
    constraints = _sampling_constraints(spec)
    if constraints:
        raise NotImplementedError(
            f"{spec.name!r}: {params} must be shared per simulator call, and the model has sampling "
            f"constraints {constraints} that drawing them apart could break."
        )


def _chunk_job(args: tuple[dict[str, Any], int, np.random.SeedSequence]):
    spec_dict, n, ss = args
    return simulate_chunk(ModelSpec.from_dict(spec_dict), n, ss)


def _simulate_in_workers(jobs, n_workers: int, bar) -> list:
    """Run the chunk jobs in worker processes, results in job order.

    A pool even for one worker: the main thread then only waits, so Ctrl-C stops the run at
    once instead of after a chunk of ssm-simulators' C code. On any exception (an interrupt,
    a worker's error, a worker killed by the system, which ``concurrent.futures`` reports as
    ``BrokenProcessPool``) the workers are terminated before it propagates. Workers are forked
    with SIGINT and SIGTERM blocked and set them up before unblocking
    (:func:`hssm_nre.interrupt.ignore_in_worker`). fork, not spawn: spawn re-imports the
    caller's ``__main__``, which breaks scripts without a main guard; workers run numpy and
    ssm-simulators code only, never JAX, so JAX's fork warning does not apply to them."""
    ex = None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*os.fork.*", category=RuntimeWarning)
            warnings.filterwarnings("ignore", message=".*use of fork.*", category=DeprecationWarning)
            with signals_blocked():
                ex = ProcessPoolExecutor(
                    max_workers=n_workers, mp_context=mp.get_context("fork"), initializer=ignore_in_worker
                )
                futures = [ex.submit(_chunk_job, job) for job in jobs]
        parts = []
        for job, fut in zip(jobs, futures):
            parts.append(fut.result())
            bar.update(job[1])
    except BaseException:
        if ex is not None:
            for proc in list(getattr(ex, "_processes", {}).values()):  # no public terminate before 3.14
                proc.terminate()
            ex.shutdown(wait=True, cancel_futures=True)
        raise
    ex.shutdown(wait=True)
    return parts


def simulate_training_data(
    spec: ModelSpec,
    n_simulations: int,
    *,
    seed: int = 0,
    n_workers: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Simulate ``n_simulations`` single trials for training.

    Returns a dict with ``theta`` (n, n_params) float32, ``rt`` (n,) float32,
    ``choice`` (n,) int32, ``n_dropped`` (int) and ``trials_per_second``.
    """
    if n_simulations <= 0:
        raise ValueError(f"n_simulations must be positive, got {n_simulations}.")
    n_workers = default_workers() if n_workers is None else int(n_workers)
    if n_workers <= 0:
        raise ValueError(f"n_workers must be positive, got {n_workers}.")
    sizes = [CHUNK] * (n_simulations // CHUNK)
    if n_simulations % CHUNK:
        sizes.append(n_simulations % CHUNK)
    seqs = np.random.SeedSequence(seed).spawn(len(sizes))
    jobs = [(spec.to_dict(), n, ss) for n, ss in zip(sizes, seqs)]

    from tqdm.auto import tqdm

    bar = tqdm(
        total=n_simulations,
        desc=f"simulating {spec.name}",
        unit="trial",
        unit_scale=True,
        disable=not progress,
    )
    t0 = time.perf_counter()
    parts = []
    try:
        if n_simulations <= CHUNK:
            for job in jobs:
                parts.append(_chunk_job(job))
                bar.update(job[1])
        else:
            parts = _simulate_in_workers(jobs, min(n_workers, len(jobs)), bar)
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0
    return {
        "theta": np.concatenate([p["theta"] for p in parts]),
        "rt": np.concatenate([p["rt"] for p in parts]),
        "choice": np.concatenate([p["choice"] for p in parts]),
        "n_dropped": int(sum(int(p["n_dropped"]) for p in parts)),
        "trials_per_second": n_simulations / elapsed,
    }


# ----------------------------------------------------------------------------- datasets
def simulate_dataset(
    model: str = "ddm",
    n_trials: int = 1000,
    *,
    theta: dict[str, float] | None = None,
    seed: int = 0,
):
    """Simulate ``n_trials`` trials from ``model`` at one parameter vector, as an HSSM data frame.

    Boundary-corrected models (the DDM family, angle, weibull) are simulated with the same
    discrete-monitoring correction as the training data, so the data come from
    the continuous-time model (see :mod:`hssm_nre.simulate`). Trials that have
    not ended by max_t = 20 s (ssm-simulators returns them with rt ~ 20 s + t
    and a made-up response) are left out and replaced by fresh ones, as in the
    training data: the network models the trials an experiment records. After 10 rounds of
    replacement the trials so far are returned, with a warning.

    Parameters
    ----------
    model
        An ssm-simulators model name.
    n_trials
        The number of trials.
    theta
        Parameter values by name; parameters not given take the model's ssm-simulators
        ``default_params``.
    seed
        Seed of the simulation.

    Returns
    -------
    pandas.DataFrame
        Columns ``rt`` (seconds) and ``response``.

    Raises
    ------
    ValueError
        ``theta`` names an unknown parameter, or a value outside the training box.
    UnknownModelError, UnsupportedModelError
        ``model`` cannot be fitted with an NRE (:func:`hssm_nre.config.model_spec`).

    Warns
    -----
    NREWarning
        Fewer than ``n_trials`` trials ended before ``max_t`` (then fewer are returned).

    Examples
    --------
    >>> from hssm_nre.simulate import simulate_dataset
    >>> df = simulate_dataset("ddm", 500, theta={"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3}, seed=1)
    >>> list(df.columns), len(df)
    (['rt', 'response'], 500)
    """
    import pandas as pd
    import ssms

    spec = model_spec(model)
    cfg_default = dict(zip(spec.params, ssms.config.model_config[model]["default_params"]))
    theta = cfg_default | (theta or {})
    unknown = set(theta) - set(spec.params)
    if unknown:
        raise ValueError(f"Unknown parameter(s) {sorted(unknown)} for {model!r}; params are {spec.params}.")
    for p, val in theta.items():
        lo, hi = spec.bounds[p]
        if not lo <= val <= hi:
            raise ValueError(f"{p}={val} lies outside {model!r}'s training box [{lo}, {hi}].")
    values = np.asarray([theta[p] for p in spec.params], float)
    rts, responses = [], []
    kept = 0
    for attempt in range(_TOP_UP_ROUNDS):
        rt, ch = simulate_at(spec, values, n_trials, seed=seed + 7919 * attempt)
        ok = recorded(spec, rt, ch, theta.get("t", 0.0))
        rts.append(rt[ok])
        responses.append(ch[ok])
        kept += int(ok.sum())
        if kept >= n_trials:
            break
    else:
        warn(NREWarning(
            f"{model} at {theta}: only {kept} of {n_trials} simulated trials ended before "
            f"max_t = {SIM_MAX_T:g} s after {_TOP_UP_ROUNDS} rounds; returning those."
        ))
    return pd.DataFrame(
        {"rt": np.concatenate(rts)[:n_trials], "response": np.concatenate(responses)[:n_trials]}
    )


def simulate_at(
    spec: ModelSpec, theta: np.ndarray, n: int, *, seed: int, delta_t: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` raw trials at one parameter vector ``theta`` (model order), in one ssm-simulators
    call with Euler steps of ``delta_t`` (default: the training data's, :func:`euler_steps`),
    the boundary correction at that step included. Nothing is dropped: timed-out trials come
    back at rt ~ max_t + t with a made-up response. Returns ``(rt float64, choice int32)``."""
    theta = np.asarray(theta, float)[None]
    dt = float(euler_steps(spec, theta)[0]) if delta_t is None else float(delta_t)
    sim_theta = simulator_theta(spec, theta, dt)[0]
    out = simulator(spec, dt).simulate(
        {p: np.asarray([sim_theta[i]]) for i, p in enumerate(spec.params)},
        n_samples=n,
        random_state=seed,
        return_option="minimal",
        delta_t=dt,
        max_t=SIM_MAX_T,
    )
    return np.asarray(out["rts"], float).ravel(), np.asarray(out["choices"], np.int32).ravel()


def simulate_replicas(spec: ModelSpec, theta: np.ndarray, n_replicas: int, *, seed: int) -> np.ndarray:
    """``n_replicas`` simulated data sets at the per-trial parameters ``theta`` (``(n, P)``, model
    order), as the training data are simulated (boundary correction, Euler steps, per-call
    parameters; timed-out trials come back as ssm-simulators returns them). Returns shape
    ``(n_replicas, n, 2)``: rt and response."""
    theta = np.atleast_2d(np.asarray(theta, np.float64))
    rows = np.tile(theta, (int(n_replicas), 1))  # replica-major
    calls = per_call_groups(spec, rows)
    states = np.random.SeedSequence(int(seed)).generate_state(len(calls)) % (2**31 - 1)
    rt, choice = simulate_rows(spec, rows, calls, states)
    return np.stack([rt, choice.astype(np.float64)], axis=-1).reshape(int(n_replicas), len(theta), 2)


#: simulate_dataset tops up trials lost to max_t for at most this many rounds.
_TOP_UP_ROUNDS = 10


def simulate_trials(model: str, theta: np.ndarray, *, seed: int = 0):
    """Simulate one trial per row of ``theta``, e.g. for trial-wise regressions.

    The same boundary correction as :func:`simulate_dataset`. Rows that differ in a parameter
    ssm-simulators mishandles per row (``ModelSpec.per_call_params``, e.g. levy's alpha) are
    simulated in separate calls, one per distinct value. Unlike :func:`simulate_dataset`,
    timed-out trials are not replaced: they come back with rt ~ max_t + t and a made-up response.

    Parameters
    ----------
    model
        An ssm-simulators model name.
    theta
        Parameter vectors, shape ``(n, n_params)``, in the model's parameter order.
    seed
        Seed of the simulation.

    Returns
    -------
    pandas.DataFrame
        Columns ``rt`` and ``response``, one row per row of ``theta``.

    Raises
    ------
    UnknownModelError, UnsupportedModelError
        ``model`` cannot be fitted with an NRE (:func:`hssm_nre.config.model_spec`).
    """
    import pandas as pd

    spec = model_spec(model)
    theta = np.asarray(theta, float)
    calls = per_call_groups(spec, theta)
    rt, response = simulate_rows(spec, theta, calls, (seed + g for g in range(len(calls))))
    return pd.DataFrame({"rt": rt, "response": response.astype(int)})
