"""The training pipeline: simulate -> fit the ratio network -> fit the evidence term ->
fit the normaliser -> cache."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from .cache import NetworkEntry, load_entry, save_entry
from .config import ModelSpec, TrainSettings, model_spec, padded_box
from .evidence import fit_evidence
from .network import steps_per_second_estimate, train_network
from .normalisation import NormaliserSettings, fit_normaliser
from .simulate import default_workers, simulate_training_data

__all__ = ["train", "estimate_seconds", "reproduce_command"]


def estimate_seconds(settings: TrainSettings) -> float:
    """A rough wall-time estimate on this machine's CPU (simulation + training)."""
    sims = settings.n_simulations / (40_000 * default_workers())
    steps = settings.steps / steps_per_second_estimate() * (settings.batch_size / 1024)
    return sims + steps + 20.0


def reproduce_command(
    name: str, settings: TrainSettings, features: str | None = None, normaliser: bool = True
) -> str:
    """The ``hssm-nre train`` command that trains this network again (``features``: the
    network's feature set, ``ModelSpec.features``, named when it is not the model's default;
    ``normaliser``: whether it carries the normaliser ``hssm-nre train`` fits by default)."""
    d = TrainSettings()
    parts = [f"hssm-nre train {name}"]
    try:
        default = model_spec(name).features
    except Exception:  # a custom spec under a name ssm-simulators does not know
        default = None
    if features is not None and features != default:
        parts.append(f"--features {features}")
    flags = {
        "n_simulations": "--n-simulations",
        "steps": "--steps",
        "batch_size": "--batch-size",
        "K": "--K",
        "gamma": "--gamma",
        "learning_rate": "--learning-rate",
        "seed": "--seed",
    }
    for field, flag in flags.items():
        if getattr(settings, field) != getattr(d, field):
            parts.append(f"{flag} {getattr(settings, field)}")
    if settings.widths != d.widths:
        parts.append("--widths " + ",".join(map(str, settings.widths)))
    if settings.evidence_widths != d.evidence_widths:
        parts.append("--evidence-widths " + ",".join(map(str, settings.evidence_widths)))
    if "pad" in settings.extra:
        parts.append(f"--pad {settings.extra['pad']}")
    if "stop_after_steps" in settings.extra:
        parts.append(f"--stop-after-steps {settings.extra['stop_after_steps']}")
    if not normaliser:
        parts.append("--no-normaliser")
    return " ".join(parts)


def train(
    model: str | ModelSpec,
    settings: TrainSettings | None = None,
    *,
    root: Path | None = None,
    progress: bool = True,
    time_limit: float | None = None,
    normaliser: NormaliserSettings | None = NormaliserSettings(),
) -> NetworkEntry:
    """Train an NRE for ``model`` and store it in the cache; return the loaded entry.

    Everything is validated before the first simulation. The entry appears in the
    cache only once fully written (see :mod:`hssm_nre.cache`).

    ``time_limit`` (seconds, simulation included) stops training early, keeping the
    weights so far; the metadata then records ``stopped_early`` and the steps run.
    The steps run are then written into the settings (``extra["stop_after_steps"]``),
    so the cache key and the ``reproduce`` command describe the network as trained.

    ``normaliser``: how the normaliser (:func:`hssm_nre.normalisation.fit_normaliser`,
    a minute or two on two cores) is fitted after training; ``None`` leaves it out, so the
    likelihood is the raw network's.
    """
    if time_limit is not None and time_limit <= 0:
        raise ValueError(f"time_limit must be positive seconds, got {time_limit}.")
    spec = model_spec(model) if isinstance(model, str) else model
    settings = TrainSettings() if settings is None else settings
    if progress:
        est = estimate_seconds(settings)
        print(
            f"Training an NRE for {spec.name!r}: {settings.n_simulations:,} simulations, "
            f"{settings.steps:,} steps; estimated {est / 60:.1f} min on this machine"
            + (" (+ about 2 min for the normaliser)." if normaliser is not None else "."),
            file=sys.stderr,
        )
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    data = simulate_training_data(
        padded_box(spec, settings.extra.get("pad", 0.0)), settings.n_simulations, seed=settings.seed, progress=progress
    )
    sim_seconds = time.perf_counter() - t0
    result = train_network(spec, settings, data, progress=progress, deadline=deadline)
    if result["stopped_early"] and "stop_after_steps" not in settings.extra:
        # Cut short by the time limit: key and reproduce command name the steps run.
        settings = dataclasses.replace(
            settings, extra=settings.extra | {"stop_after_steps": int(result["steps"])}
        )
    evidence = fit_evidence(spec, data["rt"], data["choice"])
    weights, extra = result["weights"], {}
    if normaliser is not None:
        nw, report = fit_normaliser(spec, weights, evidence, normaliser, progress=progress)
        weights, extra = weights | nw, {"normaliser": report}
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
            "reproduce": reproduce_command(spec.name, settings, spec.features, normaliser is not None),
        }
        | extra,
    )
    # A spec passed in (not built from a name) may differ from today's config on purpose.
    entry = load_entry(path, check_spec=isinstance(model, str))
    entry.metadata["source"] = "cache"
    return entry
