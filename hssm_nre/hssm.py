"""The public, patch-free HSSM path: ``hssm.HSSM(data, **hssm_nre.hssm_kwargs("ddm", ...))``.

Everything here goes through HSSM's public arguments: ``loglik_kind="approx_differentiable"``,
``loglik=`` a PyTensor Op (HSSM passes Ops through unchanged; :mod:`hssm_nre._pytensor_op`), and
``model_config`` (``list_params``, ``choices``, ``bounds``, ``default_priors``). No HSSM internal
is read or changed. :func:`build` validates a request before any expensive work and returns the
keyword arguments; ``loglik_kind="nre"`` (:mod:`hssm_nre.register`) is a thin layer on top that
adds what only HSSM's internals allow.

How it keeps HSSM's behaviour for NRE likelihoods right:

* **The box.** ``bounds`` are the network's training box for every simple parameter (HSSM
  truncates their priors to it) and uniform default priors over the box (the prior the network
  was trained under).
* **Regressions.** HSSM sets the log-likelihood of every trial whose regression parameter leaves
  its bounds to -66.1, a cliff NUTS cannot cross. Regression parameters therefore get the bounds
  (-inf, inf); the likelihood's continuous soft wall (``likelihood.SOFT_WALL``) keeps them in the
  box, and their intercept gets the prior HSSM would have derived from the box (Normal(box centre,
  0.25) within the box). With ``link_settings="log_logit"`` the bounds stay (they define the link).
* **The exact likelihood** (``likelihood="exact"``) needs parameters constant across trials,
  which is decided here from ``include`` and the parameter arguments.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cache import NetworkEntry, find_by_checksum, find_network, load_entry
from .config import SIM_MAX_T, ModelSpec, TrainSettings, model_spec
from .data import rt_limit, validate_data
from .errors import (
    CacheCorruptedError,
    CacheMismatchError,
    InvalidDataError,
    LikelihoodWarning,
    NetworkNotFoundError,
    ParameterOutOfBoundsError,
    PriorOutsideBoxWarning,
    UnseenDataWarning,
    UnvalidatedNetworkWarning,
    ValidationWarning,
    WrongModelError,
    warn,
)

__all__ = [
    "hssm_kwargs",
    "build",
    "NRESetup",
    "LIKELIHOOD_KINDS",
    "validate_fixed_params",
    "warn_priors_outside_box",
    "resolve_network",
]

LIKELIHOOD_KINDS = ("normalised", "exact", "ratio")


def validate_fixed_params(spec: ModelSpec, kwargs: dict[str, Any], include) -> None:
    """Check that fixed numeric parameter values lie inside the network's training box.

    A parameter is fixed when it is given as a number, as a parameter argument (``v=0.5``) or as
    the ``prior`` of an ``include`` entry (``{"name": "v", "prior": 0.5}``). Names that are not
    the model's parameters are ignored.

    Parameters
    ----------
    spec
        The model (its ``bounds`` are the training box).
    kwargs
        ``hssm.HSSM``'s parameter arguments, keyed by parameter name.
    include
        HSSM's ``include`` list, or None.

    Raises
    ------
    ParameterOutOfBoundsError
        A fixed value lies outside the training box; the message names the box.
    """
    fixed: dict[str, float] = {}
    for p in spec.params:
        if isinstance(kwargs.get(p), (int, float, np.number)):
            fixed[p] = float(kwargs[p])
    for item in include or []:
        if isinstance(item, dict) and isinstance(item.get("prior"), (int, float, np.number)):
            fixed[item.get("name")] = float(item["prior"])
    for p, val in fixed.items():
        if p not in spec.bounds:
            continue
        lo, hi = spec.bounds[p]
        if not lo <= val <= hi:
            raise ParameterOutOfBoundsError(
                f"Fixed value {p}={val} is outside the NRE's training box "
                f"[{lo}, {hi}] for {spec.name!r}: the network was never trained there. "
                f"Choose a value inside the box."
            )


#: Prior mass outside the training box above which :func:`warn_priors_outside_box` warns.
PRIOR_MASS_TOL = 1e-3


def _prior_name_args(prior) -> tuple[str, dict] | None:
    """(distribution name, arguments) of a prior given as a dict or an hssm/bambi Prior."""
    if isinstance(prior, dict) and isinstance(prior.get("name"), str):
        return prior["name"], {k: v for k, v in prior.items() if k != "name"}
    name, args = getattr(prior, "name", None), getattr(prior, "args", None)
    if isinstance(name, str) and isinstance(args, dict):
        return name, dict(args)
    return None


def _mass_outside(name: str, args: dict, lo: float, hi: float) -> float | None:
    """Prior mass below ``lo`` plus above ``hi`` (None when it cannot be computed)."""
    if name == "Uniform":
        a, b = float(args.get("lower", 0.0)), float(args.get("upper", 1.0))
        if not b > a:
            return None
        return (max(0.0, min(lo, b) - a) + max(0.0, b - max(hi, a))) / (b - a)
    if any(not isinstance(v, (int, float, np.number)) for v in args.values()):
        return None  # hierarchical or array-valued arguments: no single mass to compute
    try:
        import pymc as pm

        dist = getattr(pm, name).dist(**args)
        below = float(np.exp(pm.logcdf(dist, lo).eval()))
        above = 1.0 - float(np.exp(pm.logcdf(dist, hi).eval()))
    except Exception:  # a distribution without a CDF in PyMC, or arguments it refuses
        return None
    return below + max(above, 0.0)


def warn_priors_outside_box(spec: ModelSpec, kwargs: dict[str, Any], include) -> list[str]:
    """Warn for each parameter whose prior puts mass outside the network's training box.

    HSSM cuts such priors back to the box, so the prior in effect is not the one written. A
    prior is checked when it puts more than ``PRIOR_MASS_TOL`` of its mass outside the box, and
    when it is given as a parameter argument (a prior dict or an hssm/bambi ``Prior``, or
    ``{"prior": ...}`` without a ``formula``) or as the ``prior`` of an ``include`` entry without a
    ``formula``. Priors on regression coefficients are not checked, nor priors whose mass outside
    the box cannot be computed (hierarchical or array-valued arguments, a distribution without a
    CDF in PyMC).

    Parameters
    ----------
    spec
        The model (its ``bounds`` are the training box).
    kwargs
        ``hssm.HSSM``'s parameter arguments, keyed by parameter name.
    include
        HSSM's ``include`` list, or None.

    Returns
    -------
    list of str
        The parameters warned about.

    Warns
    -----
    PriorOutsideBoxWarning
        For each such parameter, naming the prior, the share of its mass outside and the box.
    """
    priors: dict[str, Any] = {}
    for p in spec.params:
        v = kwargs.get(p)
        if isinstance(v, dict) and "prior" in v and "formula" not in v:
            priors[p] = v["prior"]
        elif v is not None and _prior_name_args(v) is not None:
            priors[p] = v
    for item in include or []:
        if isinstance(item, dict) and item.get("name") in spec.bounds and "formula" not in item:
            if item.get("prior") is not None:
                priors[item["name"]] = item["prior"]
    warned = []
    for p, prior in priors.items():
        na = _prior_name_args(prior)
        if na is None:
            continue
        lo, hi = spec.bounds[p]
        mass = _mass_outside(*na, lo, hi)
        if mass is not None and mass > PRIOR_MASS_TOL:
            args = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in na[1].items())
            warn(
                PriorOutsideBoxWarning(
                    f"The prior {p} ~ {na[0]}({args}) puts {mass:.1%} of its mass outside the "
                    f"{spec.name!r} network's training box {p} in [{lo:g}, {hi:g}]; HSSM cuts it "
                    f"back to the box, where the network was trained. Use a prior inside the box "
                    "to say what is fitted."
                )
            )
            warned.append(p)
    return warned


def _check_user_bounds(spec: ModelSpec, user_bounds: dict) -> dict:
    out = dict(spec.bounds)
    for p, (lo, hi) in (user_bounds or {}).items():
        if p in spec.bounds:
            blo, bhi = spec.bounds[p]
            if lo < blo or hi > bhi:
                raise ParameterOutOfBoundsError(
                    f"bounds for {p} ({lo}, {hi}) reach outside the NRE's training box "
                    f"({blo}, {bhi}); bounds may only narrow it."
                )
        out[p] = (lo, hi)
    return out


def resolve_network(
    spec: ModelSpec,
    *,
    weights: str | Path | None = None,
    train_if_missing: bool = False,
    settings: TrainSettings | dict | None = None,
    sha256: str | None = None,
) -> NetworkEntry:
    """Find the network for ``spec``: an explicit folder, the cache or shipped one, or train one.

    Without ``weights`` the network is the one :func:`hssm_nre.cache.find_network` picks (a
    pinned cache entry, a validated cache entry, the shipped network, the newest usable cache
    entry); when there is none and ``train_if_missing`` is set, one is trained with
    :func:`hssm_nre.training.train` and cached. The entry's ``metadata["source"]`` and ``reason``
    say where it came from.

    Parameters
    ----------
    spec
        The model.
    weights
        A network folder (``weights.npz`` + ``metadata.json``) to use instead.
    train_if_missing
        Train a network when none exists (never when ``sha256`` is given).
    settings
        The training budget for ``train_if_missing``: :class:`~hssm_nre.config.TrainSettings`, or
        a dict of its fields that may add ``"normaliser"`` (``None`` or ``False``: no normaliser;
        a dict of :class:`~hssm_nre.normalisation.NormaliserSettings` fields; or an instance).
        Default: the default budget, with the default normaliser.
    sha256
        Demand that very network (recorded by a model when it was built): it is looked up among
        the shipped network and the cache entries (or checked against ``weights``), including
        checksums it had before :func:`hssm_nre.cache.upgrade_entry` converted it.

    Returns
    -------
    NetworkEntry
        The loaded network.

    Raises
    ------
    NetworkNotFoundError
        ``weights`` does not exist; no network exists for the model (and none is trained); or
        the network of checksum ``sha256`` is gone.
    WrongModelError
        ``weights`` holds a network for another model.
    CacheCorruptedError, CacheMismatchError
        The network folder is damaged, or was written for another weight format or model spec
        (:func:`hssm_nre.cache.load_entry`).
    CacheWriteError
        ``train_if_missing`` and the cache cannot be written (checked before training).

    Warns
    -----
    CacheEntryWarning
        Cache entries that could not be used (:func:`hssm_nre.cache.find_network`).
    """
    if weights is not None:
        if not Path(weights).exists():
            raise NetworkNotFoundError(
                f"nre_weights={str(weights)!r} does not exist. Pass the folder that holds a network's "
                "weights.npz and metadata.json (`hssm-nre cache` lists cached ones)."
            )
        entry = load_entry(weights)
        if entry.spec.name != spec.name:
            raise WrongModelError(
                f"nre_weights={str(weights)!r} holds a network for model {entry.spec.name!r}, but the "
                f"model is {spec.name!r}. Pass model={entry.spec.name!r}, or a network trained for "
                f"{spec.name!r} (`hssm-nre train {spec.name}`)."
            )
        entry.metadata["source"] = "path"
        entry.reason = "passed as nre_weights"
    else:
        try:
            entry = find_network(spec.name)
        except NetworkNotFoundError:
            if not train_if_missing or sha256:
                raise
            from .normalisation import NormaliserSettings
            from .training import train

            normaliser = NormaliserSettings()
            if isinstance(settings, dict):
                settings = dict(settings)
                given = settings.pop("normaliser", True)
                normaliser = (
                    None if given in (None, False) else NormaliserSettings(**given) if isinstance(given, dict)
                    else given if isinstance(given, NormaliserSettings) else NormaliserSettings()
                )
                for key in ("widths", "evidence_widths"):
                    if key in settings:
                        settings[key] = tuple(settings[key])
                settings = TrainSettings(**settings)
            entry = train(spec, settings, normaliser=normaliser)
            entry.metadata["source"] = "trained"
            entry.reason = "trained now (nre_train=True; no network existed)"
    if sha256 and not entry.has_checksum(sha256):
        same = None if weights is not None else find_by_checksum(spec.name, sha256)
        if same is None:
            where = f"in {weights}" if weights is not None else "among the shipped network and cache entries"
            raise NetworkNotFoundError(
                f"This {spec.name!r} model was built with the network of weights sha256 {sha256[:12]}..., "
                f"which is no longer {where} (found {entry.sha256[:12]}... at {entry.path}). Rebuild "
                "the model without nre_sha256 to use the current network, or restore the old one."
            )
        entry = same
        entry.reason = "the network this model was built with (nre_sha256)"
    return entry


@dataclass
class NRESetup:
    """What :func:`build` decided for an NRE request.

    Attributes
    ----------
    spec
        The network's model spec (its own feature set drives the forward pass).
    entry
        The network used (:class:`~hssm_nre.cache.NetworkEntry`).
    kind
        The likelihood kind used: ``"normalised"``, ``"exact"`` or ``"ratio"``.
    kwargs
        The keyword arguments for ``hssm.HSSM`` (what :func:`hssm_kwargs` returns).
    bounds
        The training box, narrowed where ``bounds`` asked for it.
    op
        The fused PyTensor likelihood Op, also ``kwargs["loglik"]``.
    """

    spec: ModelSpec
    entry: NetworkEntry
    kind: str
    kwargs: dict[str, Any]
    bounds: dict[str, tuple[float, float]]
    op: Any = field(repr=False, default=None)


def hssm_kwargs(model: str = "ddm", **options) -> dict[str, Any]:
    """Keyword arguments that make ``hssm.HSSM`` fit ``model`` with its NRE likelihood.

    This goes through HSSM's public API only (no patch of HSSM) and gives the same model as
    ``loglik_kind="nre"``. Pass every parameter specification here (``include``, ``v=...``,
    ``global_formula``, ``link_settings``): which parameters are regressions decides their bounds
    and whether the exact likelihood applies. Everything that is not an option of :func:`build`
    is passed on to HSSM.

    Parameters
    ----------
    model
        An ssm-simulators model name.
    **options
        The options of :func:`build` (``data``, ``include``, ``weights``, ``likelihood``,
        ``train``, ``settings``, ``sha256``, ``allow_unseen_rt``, ``response``, ``bounds``,
        ``default_priors``, ``rv``) and other ``hssm.HSSM`` arguments.

    Returns
    -------
    dict
        ``model``, ``loglik_kind`` (``"approx_differentiable"``), ``loglik`` (a PyTensor Op),
        ``model_config``, ``choices`` and the parameter arguments (``include`` with the intercept
        priors added); pass them to ``hssm.HSSM`` with the data.

    Raises
    ------
    ValueError
        An invalid option (see :func:`build`).
    UnknownModelError, UnsupportedModelError
        ``model`` cannot be fitted with an NRE.
    InvalidDataError
        ``data`` cannot be fitted, or ``choices`` differ from the simulator's.
    ParameterOutOfBoundsError
        A fixed value, or ``bounds``, reach outside the training box.
    NetworkNotFoundError, WrongModelError, CacheCorruptedError, CacheMismatchError
        No usable network (see :func:`build`).
    CacheWriteError
        ``train=True`` and the cache cannot be written.

    Warns
    -----
    PriorOutsideBoxWarning, UnseenDataWarning, UnvalidatedNetworkWarning, ValidationWarning
        As :func:`build`.
    LikelihoodWarning, CacheEntryWarning
        As :func:`build`.

    Examples
    --------
    >>> import hssm, hssm_nre
    >>> include = [{"name": "v", "formula": "v ~ 1 + x"}]
    >>> kwargs = hssm_nre.hssm_kwargs("ddm", data=df, include=include)  # doctest: +SKIP
    >>> model = hssm.HSSM(data=df, **kwargs)  # doctest: +SKIP
    """
    return build(model, **options).kwargs


def build(
    model: str = "ddm",
    *,
    data=None,
    include: list | None = None,
    weights: str | Path | None = None,
    likelihood: str | None = None,
    train: bool = False,
    settings: TrainSettings | dict | None = None,
    sha256: str | None = None,
    allow_unseen_rt: bool = False,
    response: tuple[str, ...] = ("rt", "response"),
    bounds: dict | None = None,
    default_priors: dict | None = None,
    rv=None,
    **hssm_args,
) -> NRESetup:
    """Validate an NRE request for HSSM and build its keyword arguments.

    Everything cheap is checked before any expensive work (loading or training a network). The
    likelihood is one fused PyTensor Op (value and per-trial partials from one JAX call), which
    HSSM's ``approx_differentiable`` path takes as it is. ``model_config`` gets the training box
    as ``bounds`` (``(-inf, inf)`` for regression parameters, unless
    ``link_settings="log_logit"``) and uniform default priors over the box.

    Parameters
    ----------
    model
        An ssm-simulators model name.
    data
        The data frame, checked here when given (columns, types, choices, rt beyond the
        network's training data: :func:`hssm_nre.data.validate_data`).
    include
        HSSM's ``include`` list.
    weights
        A network folder instead of the one :func:`hssm_nre.cache.find_network` picks.
    likelihood
        ``"normalised"``, ``"exact"`` or ``"ratio"`` (default: the network's record's, else
        ``"normalised"``). A default ``"exact"`` falls back to ``"normalised"`` (with a
        :class:`~hssm_nre.errors.LikelihoodWarning`) when parameters vary by trial.
    train, settings
        Train a network when none exists (``settings``: its budget; a dict may add
        ``"normaliser": False`` or NormaliserSettings fields).
    sha256
        Demand the network with these weights (how a saved model reloads its own network).
    allow_unseen_rt
        Score trials slower than anything the network was trained on.
    response, bounds, default_priors, rv
        As HSSM's ``model_config`` entries; ``bounds`` may only narrow the box.
    **hssm_args
        Other ``hssm.HSSM`` arguments (parameter specifications such as ``v=...``,
        ``p_outlier``, ``global_formula``, ``link_settings``, ...), passed on.

    Returns
    -------
    NRESetup
        The keyword arguments for ``hssm.HSSM`` (``.kwargs``), the network, the likelihood kind
        and the training box.

    Raises
    ------
    ValueError
        ``likelihood`` is not one of ``LIKELIHOOD_KINDS``; a ``loglik`` is passed;
        ``missing_data`` or ``deadline`` is set (the NRE has no missing-data networks); or
        ``likelihood="exact"`` with parameters that vary by trial (a regression, a hierarchical
        term or a fixed vector).
    UnknownModelError, UnsupportedModelError
        ``model`` is not an ssm-simulators model, or cannot be fitted with an NRE
        (:func:`hssm_nre.config.model_spec`).
    InvalidDataError
        ``data`` cannot be fitted (:func:`hssm_nre.data.validate_data`), or ``choices`` differ
        from the simulator's.
    ParameterOutOfBoundsError
        A fixed parameter value lies outside the training box, or ``bounds`` would widen it.
    NetworkNotFoundError
        No network exists for the model (and ``train`` is off), ``weights`` does not exist, the
        network of ``sha256`` is gone, or the network has no evidence term for a ``"normalised"``
        or ``"exact"`` likelihood.
    WrongModelError
        ``weights`` holds a network for another model.
    CacheMismatchError
        The network was trained for another model spec or weight format.
    CacheCorruptedError
        The network folder is damaged, or its recorded default likelihood is unknown.
    CacheWriteError
        ``train=True`` and the cache cannot be written (checked before training).

    Warns
    -----
    PriorOutsideBoxWarning
        A prior puts mass outside the training box (:func:`warn_priors_outside_box`).
    UnseenDataWarning
        ``allow_unseen_rt=True`` and some trials are slower than the network's training data.
    UnvalidatedNetworkWarning
        The network has never been validated.
    ValidationWarning
        The network failed its validation.
    LikelihoodWarning
        ``"ratio"`` with a lapse (``p_outlier`` not 0), or the network's default ``"exact"``
        likelihood falls back to ``"normalised"``.
    CacheEntryWarning
        Cache entries that could not be used (:func:`hssm_nre.cache.find_network`).
    """
    from ._pytensor_op import make_logp_op
    from .architecture import network_weights
    from .evidence import make_evidence_fn
    from .likelihood import make_logp_fn, make_value_and_partials_fn, resolve_kind
    from .quadrature import make_log_z_fn

    if likelihood is not None and likelihood not in LIKELIHOOD_KINDS:
        raise ValueError(f"nre_likelihood must be one of {LIKELIHOOD_KINDS}, got {likelihood!r}.")
    spec = model_spec(model)  # UnknownModelError / UnsupportedModelError
    if hssm_args.get("loglik") is not None:
        raise ValueError("An NRE likelihood builds its own `loglik`; do not pass one.")
    for flag in ("missing_data", "deadline"):
        if hssm_args.get(flag):
            raise ValueError(
                f"{flag}={hssm_args[flag]!r} needs HSSM's missing-data networks, which the NRE "
                "backend does not provide; drop the omitted trials instead."
            )
    user_choices = hssm_args.pop("choices", None)
    if user_choices is not None and tuple(user_choices) != spec.choices:
        raise InvalidDataError(
            f"choices={list(user_choices)} differ from {spec.name!r}'s simulator choices "
            f"{list(spec.choices)}; the network is trained on the latter."
        )
    response = tuple(response or ("rt", "response"))
    if data is not None:
        # rt beyond the training data is checked once the network (and its recorded range) is
        # known, which costs nothing, except before training a missing one
        early = train and not allow_unseen_rt
        validate_data(spec, data, response, rt_max=SIM_MAX_T if early else None)
    validate_fixed_params(spec, hssm_args, include)
    box = _check_user_bounds(spec, bounds)
    warn_priors_outside_box(spec, hssm_args, include)

    entry = resolve_network(spec, weights=weights, train_if_missing=train, settings=settings, sha256=sha256)
    if not entry.spec.same_model(spec):
        raise CacheMismatchError(
            f"The network at {entry.path} was trained for another {spec.name!r} model (its spec: "
            f"{entry.spec}; today's: {spec}). Retrain it with `hssm-nre train {spec.name}`."
        )
    if data is not None:
        limit, trained_on = rt_limit(entry.metadata)
        if allow_unseen_rt:
            n_unseen = int((data[response[0]].to_numpy(float) > limit).sum())
            if n_unseen:
                warn(UnseenDataWarning(
                    f"{n_unseen} trial(s) have rt above {limit:g} s, beyond the network's training data "
                    f"({trained_on}); scored anyway (nre_allow_unseen_rt=True)."
                ))
        else:
            validate_data(spec, data, response, rt_max=limit, trained_on=trained_on)
    spec = entry.spec  # the network's own feature set (e.g. "edge") drives its forward pass
    validation = entry.metadata.get("validation") or {}
    if not validation:
        warn(UnvalidatedNetworkWarning(
            f"The {entry.source} {spec.name!r} network at {entry.path} has never been validated: how far "
            f"its posteriors are from the truth is unknown. `hssm-nre validate {spec.name}"
            + (f" --weights {entry.path}" if entry.source == "path" else "")
            + "` measures it (calibration, recovery and, where one exists, a reference likelihood)."
        ))
    elif validation.get("status") == "failed":
        warn(ValidationWarning(
            f"The {entry.source} {spec.name!r} network failed its validation: "
            f"{validation.get('summary', '')} Its record is in {entry.validation_record}. "
            f"For inference you rely on, train a larger network (e.g. `hssm-nre train {spec.name} "
            "--n-simulations 15000000 --steps 60000 --batch-size 4096 --pin`, minutes on a GPU); "
            "`--pin` makes it the network used for this model."
        ))

    kind = likelihood or entry.metadata.get("default_likelihood") or "normalised"
    if kind not in LIKELIHOOD_KINDS:
        raise CacheCorruptedError(
            f"{entry.path}: metadata default_likelihood={kind!r} is not one of {LIKELIHOOD_KINDS}."
        )
    regressions = _regression_params(spec, include, hssm_args)
    if kind == "exact":
        varying = regressions | _fixed_vectors(spec, include, hssm_args)
        kind = resolve_kind(entry, likelihood, varying, arg="nre_likelihood")
    evidence_fn = None
    if kind in ("normalised", "exact"):
        if entry.evidence is None:
            raise NetworkNotFoundError(
                f"The network at {entry.path} has no evidence term; pass "
                "nre_likelihood='ratio' or retrain it."
            )
        evidence_fn = make_evidence_fn(spec, entry.evidence)
    elif hssm_args.get("p_outlier", 0.05) not in (None, 0, 0.0):
        warn(LikelihoodWarning(
            "nre_likelihood='ratio' with a lapse (p_outlier != 0): HSSM mixes the lapse "
            "density with a likelihood *ratio*, so the lapse is reweighted by 1/p(x) and "
            "p_outlier loses its meaning; log_likelihood/LOO are shifted by -log p(x). "
            "Use the default nre_likelihood='normalised' or p_outlier=0."
        ))
    # One fused PyTensor Op (value and per-trial partials from one JAX call), which HSSM's
    # approx_differentiable path takes as it is: PyMC's NUTS runs the network once per step,
    # JAX samplers trace the same function.
    if kind == "exact":
        # the raw network normalised by quadrature at the model's one parameter vector (any
        # fitted normaliser, the MLP approximation of the same log Z, is left out); log Z at
        # the first trial's parameters, as HSSM hands the parent over per trial even as an
        # intercept
        raw = make_logp_fn(spec, network_weights(entry.weights), evidence=evidence_fn)
        make_fn = functools.partial(
            make_value_and_partials_fn, spec, raw, log_z=make_log_z_fn(spec, entry.weights, entry.evidence)
        )
    else:
        make_fn = functools.partial(
            make_value_and_partials_fn, spec, make_logp_fn(spec, entry.weights, evidence=evidence_fn)
        )
    op = make_logp_op(make_fn, spec.n_params, name=f"nre_{spec.name}" + ("_exact" if kind == "exact" else ""))

    keep_bounds = hssm_args.get("link_settings") == "log_logit"
    mc: dict[str, Any] = {
        "response": list(response),
        "list_params": list(spec.params),
        "choices": tuple(spec.choices),
        # (-inf, inf), not left out: HSSM's own defaults for the models it ships would fill the gap
        "bounds": {p: (b if keep_bounds or p not in regressions else (-np.inf, np.inf)) for p, b in box.items()},
        "backend": "jax",
        "default_priors": _uniform_priors(box) | dict(default_priors or {}),
    }
    # posterior and prior predictive draws simulate the model the network learned (continuous
    # time where its training data are corrected), not ssm-simulators' raw walk
    mc["rv"] = rv if rv is not None else predictive_simulator(spec)
    out = dict(hssm_args)
    out.update(
        model=model,
        loglik_kind="approx_differentiable",
        loglik=op,
        model_config=mc,
        # HSSM reads a non-built-in model's choices from ssm-simulators' config, where some
        # models (lca_3, lba_angle_3, ...) only have `nchoices`: pass them explicitly.
        choices=None if _hssm_ships(model) else list(spec.choices),
    )
    new_include = _with_intercept_priors(include, set() if keep_bounds else regressions, box)
    if new_include is not None:
        out["include"] = new_include
    return NRESetup(spec=spec, entry=entry, kind=kind, kwargs=out, bounds=box, op=op)


def nre_correct(model, idata=None, *, max_draws: int = 400, progress: bool = True):
    """Reweight a fitted NRE model's posterior to its model's reference likelihood (opt-in).

    For models whose reference likelihood has no gradients (angle, weibull, ornstein: a PyDDM
    solve; full_ddm: HDDM's numerical integral; the race models), NUTS runs on the network and
    each draw is then weighted by reference over network likelihood, Pareto-smoothed
    (:mod:`hssm_nre.validation.correct`). k-hat says whether to trust the result (up to 0.7).
    Cost: one reference evaluation of the data per draw, about a second for a PyDDM solve
    (printed first); draws are thinned to ``max_draws``. Needs ``hssm-nre[validation]``.

    Parameters
    ----------
    model
        An ``hssm.HSSM`` model built with ``loglik_kind="nre"`` (or ``hssm_kwargs``), sampled.
    idata
        Its ``InferenceData`` (default: ``model.traces``).
    max_draws
        At most this many draws, evenly thinned.
    progress
        Print the expected cost first.

    Returns
    -------
    hssm_nre.validation.correct.Correction
        k-hat, ESS, weights, and the reweighted posterior's mean and SD beside the network's
        (``print`` it for a table; ``.resample()`` for draws).

    Raises
    ------
    TypeError
        ``model`` is not an NRE-backed HSSM model.
    ValueError
        It has not been sampled, a parameter varies by trial (a regression or hierarchical
        term: the reference would need a solve per trial and draw), it has a lapse
        (``p_outlier``), or its model has no reference likelihood.

    Examples
    --------
    >>> m = hssm.HSSM(data=df, model="angle", loglik_kind="nre", p_outlier=0)  # doctest: +SKIP
    >>> m.sample()  # doctest: +SKIP
    >>> c = hssm_nre.nre_correct(m)  # doctest: +SKIP
    >>> print(c)  # k-hat, and each parameter's NRE and reference mean and SD  # doctest: +SKIP
    """
    from .likelihood import loglik
    from .validation.correct import correct_draws

    info = getattr(model, "nre", None)
    if info is None:
        raise TypeError("nre_correct takes an hssm.HSSM model built with loglik_kind='nre' (it has no .nre).")
    if idata is None:
        try:
            idata = model.traces
        except ValueError:  # HSSM: "Please sample the model first."
            idata = None
    post = getattr(idata, "posterior", None)
    if post is None:
        raise ValueError("The model has no posterior draws: call model.sample() first (or pass idata=).")
    if getattr(model, "has_lapse", False):
        raise ValueError("nre_correct does not handle a lapse (p_outlier): the reference would need the same "
                         "mixture. Fit with p_outlier=0 to correct to the reference.")
    spec = info.spec
    n = int(post.sizes.get("chain", 0) * post.sizes.get("draw", 0))
    if n == 0:
        raise ValueError("The posterior has no draws: call model.sample() first (or pass idata=).")
    cols = []
    for p in spec.params:
        if p in post.data_vars:
            var = post[p]
            if tuple(var.dims) != ("chain", "draw"):
                raise ValueError(f"{p} varies by trial ({', '.join(var.dims[2:])}): nre_correct needs one value of "
                                 "each parameter per draw (a regression or hierarchical term would need a reference "
                                 "solve per trial and draw).")
            cols.append(np.asarray(var.values, np.float64).reshape(-1))
            continue
        fixed = getattr(model.params.get(p), "prior", None)
        if isinstance(fixed, (int, float, np.floating)):
            cols.append(np.full(n, float(fixed)))
            continue
        raise ValueError(f"{p} has no draws in the posterior and is not fixed to a number: nre_correct needs one "
                         "value of each parameter per draw (regression and hierarchical terms are not supported).")
    draws = np.column_stack(cols)
    data = model.data[["rt", "response"]].to_numpy(np.float64)
    lik = loglik(spec.name, weights=info.path, kind=info.likelihood)
    return correct_draws(lik, draws, data, max_draws=max_draws, progress=progress)


def predictive_simulator(spec: ModelSpec):
    """The simulator HSSM's ``model_config["rv"]`` takes (ssm-simulators' HSSM protocol: called
    with ``theta``, ``random_state``, ``n_replicas``; attributes ``model_name``, ``choices``,
    ``obs_dim``) that simulates as the training data are (:func:`hssm_nre.simulate.simulate_replicas`):
    boundary-corrected models in continuous time, per-call parameters grouped."""
    from .simulate import simulate_replicas

    def simulate(theta, random_state=None, n_replicas=1, **_):
        if isinstance(random_state, np.random.Generator):
            random_state = int(random_state.integers(0, 2**31 - 1))
        seed = int(np.random.default_rng().integers(0, 2**31 - 1)) if random_state is None else int(random_state)
        return simulate_replicas(spec, theta, n_replicas, seed=seed).squeeze()

    simulate.model_name = spec.name
    simulate.choices = list(spec.choices)
    simulate.obs_dim = 2
    return simulate


def _formula_of(spec_item) -> str | None:
    if isinstance(spec_item, dict):
        return spec_item.get("formula")
    return getattr(spec_item, "formula", None)


def _regression_params(spec: ModelSpec, include, hssm_args: dict) -> set[str]:
    """The parameters given a formula (in ``include``, as a parameter argument, or all of them
    with ``global_formula``)."""
    if hssm_args.get("global_formula"):
        return set(spec.params)
    out = {p for p in spec.params if _formula_of(hssm_args.get(p))}
    for item in include or []:
        name = item.get("name") if isinstance(item, dict) else getattr(item, "name", None)
        if name in spec.params and _formula_of(item):
            out.add(name)
    return out


def _fixed_vectors(spec: ModelSpec, include, hssm_args: dict) -> set[str]:
    """Parameters fixed to one value per trial (an array as the prior)."""
    out = {p for p in spec.params if isinstance(hssm_args.get(p), (np.ndarray, list, tuple))}
    for item in include or []:
        if isinstance(item, dict) and isinstance(item.get("prior"), (np.ndarray, list, tuple)):
            out.add(item.get("name"))
    return out


def _has_intercept(formula: str) -> bool:
    rhs = formula.split("~", 1)[-1]
    terms = [t.strip() for t in rhs.split("+")]
    return "0" not in terms and not re.search(r"-\s*1\b", rhs)


def _with_intercept_priors(include, regressions: set[str], box: dict) -> list | None:
    """``include`` with HSSM's default common-intercept prior (Normal(box centre, 0.25) within
    the box) added for each regression parameter whose bounds were dropped, unless one is given:
    the prior HSSM would have derived from the bounds."""
    if include is None:
        return None
    import hssm

    out = []
    for item in include:
        if isinstance(item, dict) and item.get("name") in regressions and _has_intercept(item.get("formula") or ""):
            prior = item.get("prior")
            if prior is None or (isinstance(prior, dict) and not {"Intercept", "common"} & set(prior)):
                lo, hi = box[item["name"]]
                intercept = hssm.Prior("Normal", mu=(lo + hi) / 2, sigma=0.25, bounds=(lo, hi))
                item = dict(item) | {"prior": dict(prior or {}) | {"Intercept": intercept}}
        out.append(item)
    return out


def _hssm_ships(model: str) -> bool:
    import hssm

    return model in hssm.list_models()


def _uniform_priors(bounds: dict) -> dict:
    return {p: {"name": "Uniform", "lower": lo, "upper": hi} for p, (lo, hi) in bounds.items()}
