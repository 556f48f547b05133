"""The training pipeline: simulate -> fit the ratio network -> fit the evidence term ->
fit the normaliser -> cache."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from .architecture import NORMALISER_KEY
from .cache import NetworkEntry, cache_dir, ensure_writable, load_entry, pin as pin_entry, save_entry
from .config import SIM_MAX_T, ModelSpec, TrainSettings, model_spec, padded_box, settings_to_flags
from .evidence import fit_evidence
from .interrupt import Interruptible
from .network import steps_per_second_estimate, train_network
from .normalisation import NormaliserSettings, fit_normaliser
from .simulate import default_workers, describe_simulation, simulate_training_data

__all__ = ["train", "train_task", "estimate_seconds", "simulation_rate", "reproduce_command"]


def estimate_seconds(settings: TrainSettings, spec: ModelSpec | None = None) -> float:
    """A rough wall-time estimate of a training on this machine's CPU.

    Simulation plus the training steps (at :func:`hssm_nre.network.steps_per_second_estimate`,
    scaled by the batch size)
    plus 20 s; the normaliser's fit is not included. With ``spec``, the simulation rate is
    measured on a small chunk of ``spec``'s training simulations (:func:`simulation_rate`,
    about a second: models simulated at fine Euler steps run 10-30 times slower than the DDM);
    without it, 40,000 trials per second per worker process is assumed.

    Parameters
    ----------
    settings
        The training budget.
    spec
        The model, to time its simulator (optional).

    Returns
    -------
    float
        Seconds.
    """
    rate = 40_000.0 if spec is None else simulation_rate(spec)
    sims = settings.n_simulations / (rate * default_workers())
    steps = settings.steps / steps_per_second_estimate() * (settings.batch_size / 1024)
    return sims + steps + 20.0


def simulation_rate(spec: ModelSpec, n: int = 1_000, seed: int = 12345) -> float:
    """Training trials simulated per second by one process, timed on ``n`` trials drawn as the
    training data are (:func:`hssm_nre.simulate.simulate_chunk`; the simulator's set-up
    included, so slightly low)."""
    import numpy as np

    from .simulate import simulate_chunk

    t0 = time.perf_counter()
    simulate_chunk(spec, int(n), np.random.SeedSequence(seed))
    return n / max(time.perf_counter() - t0, 1e-6)


def reproduce_command(
    name: str, settings: TrainSettings, features: str | None = None, normaliser: bool = True
) -> str:
    """The ``hssm-nre train`` command that trains this network again.

    Parameters
    ----------
    name
        The model name.
    settings
        The network's training settings; only those that differ from the defaults are named
        (as ``hssm_nre.config.settings_to_flags`` writes them).
    features
        The network's feature set (``ModelSpec.features``), named when it is not the model's
        default.
    normaliser
        Whether the network carries the normaliser ``hssm-nre train`` fits by default
        (``False`` adds ``--no-normaliser``).

    Returns
    -------
    str
        The command line, e.g. ``"hssm-nre train angle --steps 1500"``.
    """
    parts = [f"hssm-nre train {name}"]
    try:
        default = model_spec(name).features
    except Exception:  # a custom spec under a name ssm-simulators does not know
        default = None
    if features is not None and features != default:
        parts.append(f"--features {features}")
    flags = settings_to_flags(settings)
    parts += [f"{flag} {value}" for flag, value in zip(flags[::2], flags[1::2])]
    if not normaliser:
        parts.append("--no-normaliser")
    return " ".join(parts)


def train_task(task: dict) -> dict:
    """One training of ``hssm-nre train --models`` / ``--all``, run in a worker process or as a Ray
    task (:func:`hssm_nre.distributed.run_tasks`).

    Parameters
    ----------
    task
        ``model``, ``features``, ``settings`` (:meth:`TrainSettings.to_dict`), ``cache_dir`` (or
        None), ``time_limit`` (seconds or None), ``pin`` and ``normaliser`` (bool).

    Returns
    -------
    dict
        The model's name, the cache entry's path, and the steps and seconds of its training.
    """
    spec = model_spec(task["model"]).with_features(task["features"])
    entry = train(
        spec,
        TrainSettings.from_dict(task["settings"]),
        root=Path(task["cache_dir"]) if task.get("cache_dir") else None,
        progress=False,
        time_limit=task.get("time_limit"),
        pin=bool(task.get("pin")),
        **({} if task.get("normaliser", True) else {"normaliser": None}),
    )
    m = entry.metadata
    return {"model": spec.name, "path": str(entry.path), "steps_run": m["steps_run"],
            "train_seconds": m["train_seconds"], "simulation_seconds": m["simulation_seconds"]}


def train(
    model: str | ModelSpec,
    settings: TrainSettings | None = None,
    *,
    root: Path | None = None,
    progress: bool = True,
    time_limit: float | None = None,
    normaliser: NormaliserSettings | None = NormaliserSettings(),
    pin: bool = False,
) -> NetworkEntry:
    """Train an NRE for ``model``, store it in the cache and return the loaded entry.

    The pipeline: simulate training data from the model's ssm-simulators config, fit the ratio
    network, fit the evidence term, fit the normaliser (unless ``normaliser=None``), and publish
    the entry in the cache. Everything is validated before the first simulation, the cache
    folder's writability included. The entry appears in the cache only once fully written (see
    :mod:`hssm_nre.cache`); its metadata records timings, the loss per epoch, the training data's
    rt range and the ``reproduce`` command. With ``progress``, a time estimate is printed to
    stderr first. This takes minutes (about 13 at the default budget on two CPU cores, plus a
    minute or two for the normaliser).

    Ctrl-C or SIGTERM stops simulation, training or the normaliser's fit within seconds and
    raises :class:`hssm_nre.interrupt.TrainingInterrupted` (a ``KeyboardInterrupt``); nothing
    is cached and no temporary folder is left.

    Parameters
    ----------
    model
        An ssm-simulators model name, or a :class:`~hssm_nre.config.ModelSpec` (used as given: a
        spec passed in may differ from today's config on purpose).
    settings
        The training budget (default: ``TrainSettings()``).
    root
        The cache root (default: :func:`hssm_nre.cache.cache_dir`).
    progress
        Print the estimate and progress bars.
    time_limit
        Seconds (simulation included) after which training stops early, keeping the weights so
        far; the metadata then records ``stopped_early`` and the steps run. The steps run are
        then written into the settings (``extra["stop_after_steps"]``), so the cache key and the
        ``reproduce`` command describe the network as trained.
    normaliser
        How the normaliser (:func:`hssm_nre.normalisation.fit_normaliser`, a minute or two on
        two cores) is fitted after training; ``None`` leaves it out, so the likelihood is the raw
        network's.
    pin
        Make the new entry its model's network (:func:`hssm_nre.cache.pin`), over a shipped one.
        Without it a new, unvalidated entry is used only where no network ships.

    Returns
    -------
    NetworkEntry
        The new cache entry, loaded (``metadata["source"] == "cache"``).

    Raises
    ------
    ValueError
        ``time_limit`` is not positive.
    UnknownModelError, UnsupportedModelError
        ``model`` is a name that cannot be trained as an NRE.
    CacheWriteError
        The cache folder cannot be written (checked before any simulation).
    TrainingInterrupted
        Ctrl-C or SIGTERM stopped the training; nothing was cached.

    Examples
    --------
    Training takes minutes:

    >>> import hssm_nre
    >>> settings = hssm_nre.TrainSettings(n_simulations=200_000, steps=1_500)
    >>> entry = hssm_nre.train("angle", settings, pin=True)  # doctest: +SKIP
    >>> entry.path  # doctest: +SKIP
    """
    if time_limit is not None and time_limit <= 0:
        raise ValueError(f"time_limit must be positive seconds, got {time_limit}.")
    spec = model_spec(model) if isinstance(model, str) else model
    settings = TrainSettings() if settings is None else settings
    root = cache_dir() if root is None else Path(root)
    ensure_writable(root / spec.name)  # a read-only cache fails now, not after the training
    if progress:
        est = estimate_seconds(settings, padded_box(spec, settings.extra.get("pad", 0.0)))
        print(
            f"Training an NRE for {spec.name!r}: {settings.n_simulations:,} simulations, "
            f"{settings.steps:,} steps; estimated {est / 60:.1f} min on this machine"
            + (" (+ about 2 min for the normaliser)" if normaliser is not None else "")
            + ". Ctrl-C stops it (nothing is cached).",
            file=sys.stderr,
        )
    with Interruptible(f"training {spec.name!r}") as stop:
        t0 = time.perf_counter()
        deadline = None if time_limit is None else t0 + time_limit
        stop.phase = "simulating"
        data = simulate_training_data(
            padded_box(spec, settings.extra.get("pad", 0.0)), settings.n_simulations, seed=settings.seed,
            progress=progress,
        )
        sim_seconds = time.perf_counter() - t0
        stop.phase = "training"
        with stop.polling():  # Keras's step loop asks after each step (a raised interrupt is swallowed)
            result = train_network(spec, settings, data, progress=progress, deadline=deadline)
        stop.check()
        if result["stopped_early"] and "stop_after_steps" not in settings.extra:
            # Cut short by the time limit: key and reproduce command name the steps run.
            settings = dataclasses.replace(
                settings, extra=settings.extra | {"stop_after_steps": int(result["steps"])}
            )
        stop.phase = "fitting the evidence term"
        evidence = fit_evidence(spec, data["rt"], data["choice"])
        weights, extra = result["weights"], {}
        if normaliser is not None:
            stop.phase = "fitting the normaliser"
            with stop.polling():  # its loops poll between steps
                nw, report = fit_normaliser(spec, weights, evidence, normaliser, progress=progress)
            weights, extra = weights | {NORMALISER_KEY: nw}, {"normaliser": report}
        stop.check()  # a signal swallowed by a library meanwhile: nothing is cached
        stop.phase = "saving"
        with stop.critical():  # publishing takes milliseconds and must finish whole
            path = save_entry(
                spec,
                settings,
                weights,
                evidence=evidence,
                root=root,
                extra_metadata={
                    "n_dropped_timeouts": data["n_dropped"],
                    "simulation_seconds": round(sim_seconds, 1),
                    "train_seconds": round(result["train_seconds"], 1),
                    "steps_run": result["steps"],
                    "planned_steps": result["planned_steps"],
                    "stopped_early": result["stopped_early"],
                    "loss_per_epoch": [round(x, 5) for x in result["history"]],
                    "rt_range": rt_range(data["rt"]),
                    "simulation": describe_simulation(spec),
                    "reproduce": reproduce_command(spec.name, settings, spec.features, normaliser is not None),
                }
                | extra,
            )
            stop.kept = f"the network was complete and is cached at {path}"
            if pin:
                pin_entry(path, root=root)
    # A spec passed in (not built from a name) may differ from today's config on purpose.
    entry = load_entry(path, check_spec=isinstance(model, str))
    entry.metadata["source"] = "cache"
    return entry


def rt_range(rt) -> dict:
    """What the network saw: the smallest and largest training rt, and the simulator's
    ``max_t`` (no decision in the training data took longer), for the data check."""
    import numpy as np

    rt = np.asarray(rt)
    return {"min": float(rt.min()), "max": float(rt.max()), "max_t": SIM_MAX_T}
