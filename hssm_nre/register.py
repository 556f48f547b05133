"""All HSSM-specific glue: makes ``hssm.HSSM(..., loglik_kind="nre")`` work.

Written for hssm >= 0.5.0, < 0.6 (pinned in pyproject.toml). HSSM 0.5 has no
plug-in point for likelihood kinds: ``Config.from_defaults`` rejects any
``loglik_kind`` outside "analytical", "approx_differentiable" and "blackbox".
Its ``approx_differentiable`` + ``backend="jax"`` path, though, already does what
an NRE needs: it vmaps a per-trial JAX callable ``f(data_i, *params)`` over
trials, builds a PyTensor Op with an exact VJP, registers a ``jax_funcify`` so
numpyro/blackjax trace through it, passes which parameters vary per trial,
defaults ``sample()`` to numpyro and skips the analytic-DDM "safe" priors.

So :func:`install` wraps ``hssm.HSSM.__init__``: when ``loglik_kind="nre"`` it
validates the request (model, data, fixed parameters) before any expensive
work, finds or trains the network, and calls the original constructor with
``loglik_kind="approx_differentiable"``, the NRE callable, ``backend="jax"``
and the network's training box as ``bounds``. The user's own arguments are
stored as the model's init snapshot, so HSSM's save/load rebuilds the model
through this path again (``import hssm_nre`` first). If HSSM opens the kind up,
only this file changes.

Two more private HSSM 0.5 points are adjusted here: the per-instance
``_make_model_distribution`` (regression-bound mask dropped, see the comment in
``_build_nre_call``) and ``hssm.distribution_utils.dist.ensure_positive_ndt``,
which floors trials with rt <= t; for models whose support starts at t - st
(full_ddm, ddm_st) the floor is moved to the support edge, and for ddm_normal_st
(no lower edge) dropped, for NRE Ops only.
"""

from __future__ import annotations

import functools
import inspect
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .cache import NetworkEntry, find_by_checksum, find_network, load_entry
from .config import SIM_MAX_T, ModelSpec, TrainSettings, model_spec, shifted_edge
from .errors import (
    CacheCorruptedError,
    CacheMismatchError,
    InvalidDataError,
    LikelihoodWarning,
    NetworkNotFoundError,
    ParameterOutOfBoundsError,
    PriorOutsideBoxWarning,
    UnseenDataWarning,
    ValidationWarning,
    WrongModelError,
    warn,
)

__all__ = [
    "install",
    "NREInfo",
    "NRE_KWARGS",
    "validate_data",
    "validate_fixed_params",
    "warn_priors_outside_box",
    "rt_limit",
]

#: A child of HSSM's logger, so the network chosen is reported where HSSM reports its own steps.
_log = logging.getLogger("hssm.nre")

SUPPORTED_HSSM = (">=0.5.0", "<0.6")
#: Keyword arguments hssm_nre adds to ``hssm.HSSM`` (removed before HSSM sees them).
NRE_KWARGS = (
    "nre_weights",
    "nre_train",
    "nre_settings",
    "nre_likelihood",
    "nre_allow_unseen_rt",
    "nre_sha256",
)
LIKELIHOOD_KINDS = ("normalised", "exact", "ratio")


@dataclass(frozen=True)
class NREInfo:
    """What an NRE-backed HSSM model runs on (``model.nre``)."""

    spec: ModelSpec
    path: Path
    source: str  # "shipped", "cache", "trained" or "path"
    likelihood: str  # "normalised", "exact" or "ratio"
    metadata: dict
    sha256: str = ""  # the weights' checksum: which network this is, wherever it lies
    reason: str = ""  # why this network was chosen


def validate_data(
    spec: ModelSpec,
    data,
    response: tuple[str, ...] = ("rt", "response"),
    *,
    rt_max: float | None = SIM_MAX_T,
    trained_on: str = "",
) -> None:
    """Raise :class:`InvalidDataError` for data an NRE cannot fit (before any work).

    Checks that the columns exist and are numeric, that rt is finite and positive, that the
    responses are the model's choices, and (unless ``rt_max`` is None) that no rt exceeds
    ``rt_max``, the longest response time the network was trained on (:func:`rt_limit`);
    ``trained_on`` describes the training range for the message.
    """
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise InvalidDataError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    missing = [c for c in response if c not in data.columns]
    if missing:
        raise InvalidDataError(
            f"data lacks column(s) {missing}; an NRE for {spec.name!r} needs columns "
            f"{list(response)}."
        )
    for col in response[:2]:
        dtype = data[col].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise InvalidDataError(
                f"column {col!r} has dtype {dtype} (e.g. {data[col].iloc[:3].tolist()}); it must be "
                f"numeric. Convert it with `data[{col!r}] = pd.to_numeric(data[{col!r}])`."
            )
    rt = data[response[0]].to_numpy(float)
    bad = ~np.isfinite(rt) | (rt <= 0)
    if bad.any():
        rows = data.index[bad][:5].tolist()
        raise InvalidDataError(
            f"{int(bad.sum())} row(s) have rt <= 0 or NaN (first rows {rows}, values "
            f"{rt[bad][:5].tolist()}). Remove them (omissions are not modelled by the NRE)."
        )
    resp = data[response[1]].to_numpy()
    allowed = np.asarray(spec.choices)
    wrong = ~np.isin(resp, allowed)
    if wrong.any():
        raise InvalidDataError(
            f"response values {sorted(set(np.asarray(resp)[wrong].tolist()))[:10]} are not "
            f"choices of {spec.name!r}, which are {list(spec.choices)}. Recode the column "
            f"(e.g. 0 -> -1 for two-choice models)."
        )
    if rt_max is not None:
        slow = rt > rt_max
        if slow.any():
            rows = data.index[slow][:10].tolist()
            raise InvalidDataError(
                f"{int(slow.sum())} row(s) have rt above {rt_max:g} s (rows {rows}, rt "
                f"{np.sort(rt[slow])[::-1][:5].tolist()} s), beyond what the {spec.name!r} network was "
                f"trained on: {trained_on or rt_limit({})[1]}. It never learned how such slow trials are "
                "scored. Remove them (they are usually lapses), or pass nre_allow_unseen_rt=True to "
                "score them anyway."
            )


def rt_limit(metadata: dict) -> tuple[float, str]:
    """The longest rt a network may be given, and a description of what it was trained on.

    ssm-simulators stops every simulated decision at ``max_t`` (20 s): no training trial took
    longer, so the network never learned the density beyond it. The rt range of the training
    data, recorded in the metadata of networks trained since 0.2, is named in the message (its
    largest value depends on the simulation budget, so it is not itself a limit)."""
    seen = metadata.get("rt_range")
    max_t = float(seen.get("max_t", SIM_MAX_T)) if seen else SIM_MAX_T
    text = (
        f"ssm-simulators stops every simulated decision at max_t = {max_t:g} s, so no training "
        f"trial had a decision time above {max_t:g} s"
    )
    if seen:
        text += f" (its training rts, non-decision time included, ran from {seen['min']:.3g} to {seen['max']:.3g} s)"
    return max_t, text


def validate_fixed_params(spec: ModelSpec, kwargs: dict[str, Any], include) -> None:
    """Fixed numeric parameter values must lie inside the training box."""
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
    """Warn (:class:`PriorOutsideBoxWarning`) for each parameter whose prior puts more than
    ``PRIOR_MASS_TOL`` of its mass outside the network's training box, naming the box: HSSM
    cuts such priors back to the box, so the prior in effect is not the one written. Priors
    on regression coefficients are not checked. Returns the parameters warned about."""
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
    """Find the network for ``spec``: explicit folder, cache, shipped, or train.

    ``sha256`` (recorded by a model when it was built) demands that very network: it is
    looked up among the shipped network and the cache entries, and a clear
    :class:`NetworkNotFoundError` says so when it is gone."""
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
    if sha256 and entry.sha256 != sha256:
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


def _keep_initvals_inside(model, bounds: dict) -> None:
    """Move HSSM's default initial values strictly inside the training box.

    HSSM starts every model at t = 0.025, a = 1.5, v = 0 (plus jitter) whatever the
    bounds; where that lies on or outside a box edge (ddm_st's t in [0.25, 2.25], lba's
    v in [0, 2.5]) the interval transform gives NaN and the chain never moves.
    """
    inits = getattr(model, "_initvals", None) or {}
    for name, (lo, hi) in bounds.items():
        if name not in inits or not (np.isfinite(lo) and np.isfinite(hi)):
            continue
        val = np.asarray(inits[name])
        margin = 0.01 * (hi - lo)
        inits[name] = np.clip(val, lo + margin, hi - margin).astype(val.dtype)


def _hssm_ships(model: str) -> bool:
    from typing import get_args

    from hssm.defaults import SupportedModels

    return model in get_args(SupportedModels)


def _uniform_priors(bounds: dict) -> dict:
    return {p: {"name": "Uniform", "lower": lo, "upper": hi} for p, (lo, hi) in bounds.items()}


def _build_nre_call(original_init, self, bound: inspect.BoundArguments):
    from .architecture import network_weights, normaliser_weights
    from .evidence import make_evidence_fn
    from .likelihood import make_log_ratio_fn
    from .normalisation import make_log_z_fn

    args = dict(bound.arguments)
    args.pop("self", None)
    kwargs = dict(args.pop("kwargs", {}) or {})
    user_args = dict(args) | dict(kwargs)  # the snapshot HSSM's save/load replays

    opts = {k: kwargs.pop(k) for k in NRE_KWARGS if k in kwargs}
    requested = opts.get("nre_likelihood")  # None: the network's default (metadata), else "normalised"
    if requested is not None and requested not in LIKELIHOOD_KINDS:
        raise ValueError(f"nre_likelihood must be one of {LIKELIHOOD_KINDS}, got {requested!r}.")

    model = args.get("model", "ddm")
    spec = model_spec(model)  # UnknownModelError / UnsupportedModelError
    if args.get("loglik") is not None:
        raise ValueError("loglik_kind='nre' builds its own likelihood; do not pass `loglik`.")
    for flag in ("missing_data", "deadline"):
        if args.get(flag):
            raise ValueError(
                f"{flag}={args[flag]!r} needs HSSM's missing-data networks, which the NRE "
                "backend does not provide; drop the omitted trials instead."
            )
    user_choices = args.get("choices")
    if user_choices is not None and tuple(user_choices) != spec.choices:
        raise InvalidDataError(
            f"choices={list(user_choices)} differ from {spec.name!r}'s simulator choices "
            f"{list(spec.choices)}; the network is trained on the latter."
        )

    user_mc = args.get("model_config") or {}
    if not isinstance(user_mc, dict):
        user_mc = {k: getattr(user_mc, k) for k in user_mc.__dataclass_fields__ if getattr(user_mc, k) is not None}
    response = tuple(user_mc.get("response") or ("rt", "response"))
    allow_unseen = bool(opts.get("nre_allow_unseen_rt", False))
    # rt beyond the training data is checked once the network (and its recorded range) is
    # known, which costs nothing, except before training a missing one
    early_rt_check = bool(opts.get("nre_train")) and not allow_unseen
    validate_data(spec, args["data"], response, rt_max=SIM_MAX_T if early_rt_check else None)
    validate_fixed_params(spec, kwargs, args.get("include"))
    bounds = _check_user_bounds(spec, user_mc.get("bounds"))
    warn_priors_outside_box(spec, kwargs, args.get("include"))

    entry = resolve_network(
        spec,
        weights=opts.get("nre_weights"),
        train_if_missing=bool(opts.get("nre_train", False)),
        settings=opts.get("nre_settings"),
        sha256=opts.get("nre_sha256"),
    )
    if not entry.spec.same_model(spec):
        raise CacheMismatchError(
            f"The network at {entry.path} was trained for another {spec.name!r} model (its spec: "
            f"{entry.spec}; today's: {spec}). Retrain it with `hssm-nre train {spec.name}`."
        )
    limit, trained_on = rt_limit(entry.metadata)
    if allow_unseen:
        n_unseen = int((args["data"][response[0]].to_numpy(float) > limit).sum())
        if n_unseen:
            warn(
                UnseenDataWarning(
                    f"{n_unseen} trial(s) have rt above {limit:g} s, beyond the network's training data "
                    f"({trained_on}); scored anyway (nre_allow_unseen_rt=True)."
                )
            )
    else:
        validate_data(spec, args["data"], response, rt_max=limit, trained_on=trained_on)
    spec = entry.spec  # the network's own feature set (e.g. edge_features) drives its forward pass
    validation = entry.metadata.get("validation") or {}
    if validation.get("status") == "failed":
        warn(ValidationWarning(
            f"The {entry.source} {spec.name!r} network failed its validation: "
            f"{validation.get('summary', '')} Its record is in {entry.path / 'README.md'}. "
            f"For inference you rely on, train a larger network (e.g. `hssm-nre train {spec.name} "
            "--n-simulations 15000000 --steps 60000 --batch-size 4096 --pin`, minutes on a GPU); "
            "`--pin` makes it the network used for this model."
        ))
    kind = requested or entry.metadata.get("default_likelihood") or "normalised"
    if kind not in LIKELIHOOD_KINDS:
        raise CacheCorruptedError(
            f"{entry.path}: metadata default_likelihood={kind!r} is not one of {LIKELIHOOD_KINDS}."
        )
    evidence_fn = log_z = None
    if kind in ("normalised", "exact"):
        if entry.evidence is None:
            raise NetworkNotFoundError(
                f"The network at {entry.path} has no evidence term; pass "
                "nre_likelihood='ratio' or retrain it."
            )
        evidence_fn = make_evidence_fn(spec, entry.evidence)
        if kind == "exact":
            log_z = make_log_z_fn(spec, entry.weights, entry.evidence)
    elif args.get("p_outlier", 0.05) not in (None, 0, 0.0):
        warn(LikelihoodWarning(
            "nre_likelihood='ratio' with a lapse (p_outlier != 0): HSSM mixes the lapse "
            "density with a likelihood *ratio*, so the lapse is reweighted by 1/p(x) and "
            "p_outlier loses its meaning; log_likelihood/LOO are shifted by -log p(x). "
            "Use the default nre_likelihood='normalised' or p_outlier=0."
        ))
    loglik = make_log_ratio_fn(spec, entry.weights, evidence=evidence_fn)
    # "exact": the raw network normalised by quadrature at each theta (any fitted normaliser,
    # the MLP approximation of the same log Z, is left out)
    loglik_raw = make_log_ratio_fn(spec, network_weights(entry.weights), evidence=evidence_fn)
    used = {"kind": kind}

    mc = {
        "response": list(response),
        "list_params": list(spec.params),
        "choices": tuple(spec.choices),
        "bounds": bounds,
        "backend": "jax",
        "default_priors": _uniform_priors(bounds) | dict(user_mc.get("default_priors") or {}),
    }
    if user_mc.get("rv") is not None:
        mc["rv"] = user_mc["rv"]
    if user_mc.get("extra_fields"):
        raise ValueError("extra_fields are not supported with loglik_kind='nre'.")

    call = dict(args) | kwargs
    call["loglik_kind"] = "approx_differentiable"
    call["loglik"] = loglik
    call["model_config"] = mc
    # HSSM reads a non-built-in model's choices from ssm-simulators' config, where some
    # models (lca_3, lba_angle_3, ...) only have `nchoices`: pass them explicitly.
    call["choices"] = None if _hssm_ships(model) else list(spec.choices)
    # HSSM masks every trial whose regression parameter leaves its bounds with a
    # constant -66.1: a cliff NUTS cannot cross (see likelihood.SOFT_WALL). The
    # bounds still shape the default priors; only the mask is dropped, for the
    # likelihood's continuous soft wall. HSSM 0.5 reads `self.bounds` only in
    # `_make_model_distribution`, so it is emptied there (instance attribute,
    # removed again so the model pickles).
    cls_make = type(self)._make_model_distribution

    def _make_without_bound_mask():
        if kind == "exact":
            varying = _varying_params(spec, self.params)
            if not varying:
                self.loglik = _exact_op(spec, loglik_raw, log_z, self.params)
            elif requested == "exact":
                raise ValueError(
                    f"nre_likelihood='exact' needs every parameter constant across trials; {varying} "
                    "vary by trial (a regression, a hierarchical term or a fixed vector), where log "
                    "Z(theta) would be integrated once per trial. Use nre_likelihood='normalised' "
                    "(the fitted normaliser) for such models."
                )
            else:  # the network's default: fall back, and say what that means
                used["kind"] = "normalised"
                warn(LikelihoodWarning(
                    f"The {spec.name!r} network is validated with nre_likelihood='exact' (log Z by "
                    f"quadrature at each theta), which needs parameters constant across trials; "
                    f"{varying} vary by trial, so the 'normalised' likelihood is used, which its record "
                    f"({entry.path / 'README.md'}) does not validate"
                    + ("" if normaliser_weights(entry.weights) else
                       " (and this network has no fitted normaliser: that likelihood is not normalised per theta)")
                    + "."
                ))
        self.nre_regression_bounds = dict(self.bounds)
        self.bounds = {}
        dist = cls_make(self)
        if "t" in spec.params and (spec.edge_shift is not None or not spec.shift):
            # HSSM floors every trial with rt <= t; this model's support starts at
            # t - scale * param, or has no lower edge (see _ensure_positive_ndt_at_support).
            # self.loglik is now HSSM's Op: tag it (HSSM's floor reads the tag).
            setattr(self.loglik, _SUPPORT_TAG, spec.edge_shift if spec.shift else _NO_EDGE)
        return dist

    self._make_model_distribution = _make_without_bound_mask
    try:
        original_init(self, **call)
    finally:
        self.__dict__.pop("_make_model_distribution", None)
    _keep_initvals_inside(self, bounds)
    # the snapshot HSSM's save/load replays names this very network, so a reloaded model
    # gets it back or fails clearly (resolve_network's sha256)
    self._init_args = user_args | {"nre_sha256": entry.sha256}
    self.nre = NREInfo(
        spec, entry.path, entry.source, used["kind"], entry.metadata, sha256=entry.sha256, reason=entry.reason
    )
    _log.info(
        "NRE likelihood (%s) for %r: %s network %s (sha256 %s...), %s.",
        used["kind"], spec.name, entry.source, entry.path, entry.sha256[:12], entry.reason or "as given",
    )


def _varying_params(spec: ModelSpec, params: dict) -> list[str]:
    """The model's parameters that vary across trials: regressions (hierarchical terms included)
    and fixed vectors. HSSM also flags the parent parameter as trial-wise when it is an intercept
    (it hands it over per trial), which is not counted."""
    own = [(n, p) for n, p in params.items() if n != "p_outlier"]
    if [n for n, _ in own] != list(spec.params):  # HSSM passes them to the likelihood in this order
        raise RuntimeError(f"HSSM's parameters {[n for n, _ in own]} are not the network's {list(spec.params)}.")
    return [
        n
        for n, p in own
        if p.is_regression or isinstance(p.prior, np.ndarray) or (p.is_trialwise and not p.is_parent)
    ]


def _exact_op(spec: ModelSpec, loglik, log_z, params: dict):
    """HSSM's JAX Op for ``nre_likelihood="exact"`` (parameters constant across trials), built
    here rather than by HSSM's ``make_likelihood_callable``, which would vmap log Z with the
    per-trial likelihood (once per trial: HSSM hands the parent parameter over per trial
    even as an intercept)."""
    from hssm.distribution_utils.func_utils import make_vjp_func
    from hssm.distribution_utils.jax import make_jax_logp_ops
    from jax import jit

    from .likelihood import make_exact_logp

    logp = make_exact_logp(spec, loglik, log_z, tuple(bool(params[n].is_trialwise) for n in spec.params))
    return make_jax_logp_ops(jit(logp), jit(make_vjp_func(logp)), logp)


#: Attribute set on the HSSM likelihood Op of an NRE model whose rt support starts below t:
#: (param, scale) (full_ddm, ddm_st: ssm-simulators draws the non-decision time from
#: U(t - st, t + st)), or _NO_EDGE (ddm_normal_st: ndt ~ Normal(t, st), no lower edge).
_SUPPORT_TAG = "_hssm_nre_support"
_NO_EDGE = object()


def _ensure_positive_ndt_at_support(original):
    """HSSM's ``ensure_positive_ndt`` sets the log-likelihood of every trial with rt <= t
    to -66.1. For models whose support starts at t - st that floors valid trials and
    puts a cliff at t = min(rt) that NUTS cannot cross (measured: full_ddm chains stuck
    there, 44 nats below the truth). For those models' Ops the floor is applied at the
    support edge instead, and dropped for ddm_normal_st (no lower edge); every other
    likelihood gets HSSM's own function. The floor itself (-66.1, below which HSSM's analytic
    likelihoods are cut too) is kept, so the NRE is treated as the likelihoods it is compared
    with. Upstream:
    lnccbrown/HSSM#1292 (open) fixes the same floor in HSSM; drop this once it lands."""

    @functools.wraps(original)
    def ensure_positive_ndt(data, logp, list_params, dist_params):
        shifted = getattr(logp.owner.op, _SUPPORT_TAG, None) if logp.owner is not None else None
        if shifted is None or "t" not in list_params:
            return original(data, logp, list_params, dist_params)
        if shifted is _NO_EDGE:
            return logp  # every rt > 0 is possible: the network models all of it
        import pytensor.tensor as pt
        from hssm.distribution_utils.dist import LOGP_LB

        param, scale = shifted
        edge = shifted_edge(dist_params[list_params.index("t")], dist_params[list_params.index(param)], scale)
        rt = data[:, 0]
        return pt.where(pt.bitwise_and(rt - edge <= 1e-15, pt.neq(rt, -999.0)), LOGP_LB, logp)

    ensure_positive_ndt._hssm_nre_original = original
    return ensure_positive_ndt


def install() -> None:
    """Teach ``hssm.HSSM`` the ``loglik_kind="nre"`` option (idempotent)."""
    import hssm
    from packaging.version import Version

    v = Version(hssm.__version__)
    if not (Version("0.5.0") <= v < Version("0.6")):
        warnings.warn(
            f"hssm_nre was written for hssm {', '.join(SUPPORTED_HSSM)}; found {v}. "
            "loglik_kind='nre' may not work.",
            RuntimeWarning,
            stacklevel=2,
        )
    cls = hssm.HSSM
    if getattr(cls.__init__, "_hssm_nre_original", None) is not None:
        return
    original = cls.__init__
    sig = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        bound = sig.bind(self, *args, **kwargs)
        if bound.arguments.get("loglik_kind") != "nre":
            return original(self, *args, **kwargs)
        return _build_nre_call(original, self, bound)

    __init__._hssm_nre_original = original
    cls.__init__ = __init__
    from hssm.distribution_utils import dist as hssm_dist

    if getattr(hssm_dist.ensure_positive_ndt, "_hssm_nre_original", None) is None:
        hssm_dist.ensure_positive_ndt = _ensure_positive_ndt_at_support(hssm_dist.ensure_positive_ndt)
