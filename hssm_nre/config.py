"""Model specifications and training settings.

Everything that changes a trained network lives in two frozen dataclasses:

* :class:`ModelSpec` -- what is modelled: the ssm-simulators model name, the
  parameter order, the training box (the bounds HSSM will enforce), the choices
  and the input features the network uses.
* :class:`TrainSettings` -- how it is trained: simulation budget, steps, batch,
  contrastive ``K`` and ``gamma``, network widths, seed.

Both are plain data with a stable ``to_dict`` so the cache can key on them.
This module imports nothing heavy (no jax, keras or hssm).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import UnknownModelError, UnsupportedModelError

__all__ = [
    "ModelSpec",
    "TrainSettings",
    "model_spec",
    "available_models",
    "TRAIN_FLAGS",
    "settings_from_flags",
    "settings_to_flags",
]

#: Models whose first-passage density obeys the diffusion scaling law
#: p(u | v, a, z, ...) = a**-2 * p1(u / a**2 | v * a, z, ...) and the mirror symmetry
#: (v, z, choice) -> (-v, 1 - z, -choice), with a closed-form single-boundary density: the
#: DDM; ddm_sdv (per-trial drift ~ Normal(v, sv), which scales like v: sv * a); angle
#: (boundaries +-(a - u tan(theta)): a constant boundary for the process plus u tan(theta));
#: weibull (boundaries +-a exp(-(u / beta)^alpha): beta scales like u, and Durbin's first-order
#: density of the collapsing boundary stands in for the Wald head, trained as the bound features' is).
#: Their networks can be told all three (``ModelSpec.features == "scaling"``, ``--features scaling``).
DDM_SCALING_CAPABLE = frozenset({"ddm", "ddm_legacy", "ddm_sdv", "angle", "angle_extended", "weibull"})
#: Those whose networks get the DDM features by default: where a measurement showed the gain
#: (ddm_sdv against its analytic likelihood: ``benchmarks/feature_ablation.py``; angle by
#: recovery on the same 30 datasets: a 2-core CPU network with them, 23,430 steps of batch 1,024,
#: missed 1 coverage check where the GPU network with generic features, 48,009 steps of batch
#: 4,096, missed 6: the study's report, ``benchmarks/results/recovery_angle.md``, is in the git history up to 48e6041);
#: weibull by ``hssm-nre validate`` against PyDDM on the same datasets, both at the default 2-core budget:
#: at 1,000 trials median posterior shifts 0.05-0.14 reference SD with them, 0.24-0.66 with the bound
#: features, k-hat > 0.7 at 1 of 9 datasets against 5 of 7, per-trial error 0.009 / 0.044 nats against
#: 0.014 / 0.059 (``hssm_nre/pretrained/weibull/validation.md``; the bound network's record is in the git
#: history up to 2e1a7ab).
DDM_SCALING_MODELS = frozenset({"ddm", "ddm_sdv", "angle", "weibull"})

#: The feature sets a network can be trained with (``hssm-nre train --features``);
#: see :attr:`ModelSpec.features`.
FEATURE_SETS = ("scaling", "edge", "bound", "race", "generic")

#: Collapsing boundaries whose shape the ``bound`` features know (``ModelSpec.features == "bound"``):
#: ssm-simulators' ``boundary_name`` -> (its parameters, how it combines with ``a``). The
#: boundaries sit at +-b(u): weibull_cdf b = a exp(-(u / beta)^alpha) (multiplicative), angle
#: b = a - u tan(theta) (additive), as ssm-simulators' ``ddm_flexbound`` simulates them.
BOUNDARY_FUNCTIONS: dict[str, tuple[str, ...]] = {"weibull_cdf": ("alpha", "beta"), "angle": ("theta",)}

#: Models whose networks get the collapsing-bound features by default: none now. They beat the generic
#: and edge features for weibull (recovery on the same datasets: 1 of 15 coverage checks missed against
#: 15 and 12, ``benchmarks/results/recovery_weibull.md`` in the git history up to 48e6041), and the DDM
#: features, which keep Durbin's head in the scaled units, beat them in turn (``DDM_SCALING_MODELS``).
#: Every model with a boundary in ``BOUNDARY_FUNCTIONS`` can take them (``--features bound``).
BOUND_FEATURE_MODELS: frozenset[str] = frozenset()

#: Races of independent accumulators with a constant threshold, simulated with the correction
#: for their cut at 0 and their discrete monitoring (:func:`hssm_nre.simulate.simulator_theta`):
#: the threshold lowered by 2 beta sqrt(dt), the start points by beta sqrt(dt), checked against
#: the continuous-time Fokker-Planck solution (``benchmarks/results/continuous_time.md``). The LCA (leak and inhibition act on the
#: shifted positions) and the collapsing races are not derived; they learn the 1 ms walk.
RACE_CORRECTED_MODELS = frozenset({
    "race_2", "race_3", "race_4", "race_no_bias_2", "race_no_bias_3", "race_no_bias_4",
    "race_no_z_2", "race_no_z_3", "race_no_z_4",
})

#: Models simulated with the discrete-monitoring boundary correction (see
#: :func:`hssm_nre.simulate.simulator_theta`): constant boundaries at +-a and a
#: relative start point z, so the continuous-time model is what the network learns.
#: ddm_sdv and full_ddm qualify (drift, start point and non-decision time are constant
#: within a trial, so the correction holds trial by trial; full_ddm's start-point spread
#: sz is absolute and held fixed with the start point), and the continuous-time models
#: are what HSSM's analytic ddm_sdv and HDDM's numerical full_ddm likelihoods describe.
#: angle and weibull have moving boundaries: the shift holds locally, b(t) - beta sqrt(dt)
#: (checked against PyDDM's continuous-time solution: ``benchmarks/results/continuous_time.md``).
#: ornstein's leak v - g x is constant within a step, so the constant-boundary shift holds as
#: for the DDM (checked there too: 3 of 3 inside at the fine step).
BOUNDARY_CORRECTED_MODELS = frozenset({"ddm", "ddm_sdv", "full_ddm", "angle", "weibull", "ornstein"}) | RACE_CORRECTED_MODELS

#: Boundary-corrected models simulated below a boundary of 1 at a finer Euler step than 1 ms
#: (:func:`hssm_nre.simulate.euler_steps`: at most 1 ms * a**2). For a collapsing or leaky
#: model the corrected 1 ms walk still misses the continuous-time model at small ``a``
#: (500,000-trial KS 0.0034-0.0088 against PyDDM's solution, band 0.0025), the fine step
#: does not (9 of 9 inside: ``benchmarks/results/continuous_time.md``). The DDM family keeps
#: 1 ms, at which its networks were trained and validated (within 0.07 posterior SD of WFPT).
FINE_STEP_MODELS = frozenset({"angle", "weibull", "ornstein"})

#: Models whose networks get the leading-edge features by default (``ModelSpec.features == "edge"``):
#: those where a reference likelihood measured the gain at the default CPU budget
#: (``benchmarks/feature_ablation.py --model NAME``; results in benchmarks/results/).
#: Networks trained either way still serve their model (``ModelSpec.same_model``).
EDGE_FEATURE_MODELS = frozenset({"full_ddm"})

#: Models whose networks get the race features by default (``ModelSpec.features == "race"``): where
#: recovery on the same datasets measured the gain (race_no_bias_3: a 2-core CPU network with
#: them, 31,248 steps of batch 1,024, matched the LAN in ../shared/anchors where the GPU network
#: with generic features, 46,524 steps of batch 4,096, was overconfident;
#: ``benchmarks/results/recovery_race_no_bias_3.md``, in the git history up to 48e6041). The other race and LCA models can take
#: them (``--features race``); their gain is not measured.
RACE_FEATURE_MODELS = frozenset({"race_no_bias_3"})

#: Models whose non-decision time has an unbounded kernel (ddm_normal_st: ndt ~ Normal(t, st)),
#: so rt has no hard lower edge at t: their networks see rt itself, not u = rt - t.
NDT_UNBOUNDED_MODELS = frozenset({"ddm_normal_st"})

#: Parameters that ssm-simulators' batched simulator mishandles when they vary from row to row
#: of one call (``benchmarks/batch_consistency.py``, every model: levy's stability index alpha,
#: drawn per row, gives alpha = 2 rows mixed with alpha = 1 rows a mean rt of 0.26 s where
#: alpha = 2 alone gives 1.30 s). Training data for these models are simulated in groups of rows
#: that share one value of them (:func:`hssm_nre.simulate.simulate_chunk`); one parameter vector
#: per call, as datasets are simulated, is unaffected.
PER_CALL_PARAMS: dict[str, tuple[str, ...]] = {"levy": ("alpha",), "levy_angle": ("alpha",)}

#: Simulator settings used for every training set (ssm-simulators defaults).
SIM_DELTA_T = 0.001
SIM_MAX_T = 20.0


def _ssms_config() -> dict[str, dict[str, Any]]:
    from ssms.config import model_config

    return model_config


def available_models() -> list[str]:
    """Every model name ssm-simulators defines, sorted.

    Not every one can be fitted with an NRE: :func:`model_spec` says which cannot, and why.

    Returns
    -------
    list of str
        The model names.

    Examples
    --------
    >>> import hssm_nre
    >>> "ddm" in hssm_nre.available_models()
    True
    """
    return sorted(_ssms_config())


def _choices_of(cfg: dict[str, Any]) -> tuple[int, ...]:
    if cfg.get("choices") is not None:
        return tuple(int(c) for c in cfg["choices"])
    n = int(cfg["nchoices"])
    return (-1, 1) if n == 2 else tuple(range(n))


def shifted_edge(t, spread, scale: float):
    """Lowest possible rt when the non-decision time is spread below t (``ModelSpec.edge_shift``):
    t - scale * spread. Works on numbers, arrays and tensors alike."""
    return t - scale * spread


_FEATURE_FIELDS = frozenset({"features"})


def collapsing_boundary(name: str) -> str | None:
    """The ssm-simulators boundary of model ``name`` when it is one of ``BOUNDARY_FUNCTIONS``
    (and its parameters are the model's), else None."""
    cfg = _ssms_config().get(name)
    if cfg is None:
        return None
    b = cfg.get("boundary_name")
    if b in BOUNDARY_FUNCTIONS and set(BOUNDARY_FUNCTIONS[b]) <= set(cfg["params"]):
        return b
    return None


def race_layout(
    params: tuple[str, ...], choices: tuple[int, ...], lower=None, upper=None
) -> tuple[int, tuple[str, ...], tuple[str, ...]] | None:
    """How a race-like model's parameters map onto its accumulators, or None if they do not.

    A race-like model has choices 0..n-1 (n >= 2), one drift ``v0``..``v{n-1}`` per
    accumulator, a shared boundary ``a``, a non-decision time ``t`` and a start point that is
    shared (``z``), per accumulator (``z0``..``z{n-1}``) or absent (start at 0): ssm-simulators'
    race models and the LCA. Anything else (``g``, ``b``, ``theta``) is an extra parameter.

    Parameters
    ----------
    params
        The model's parameter names, in order.
    choices
        The model's response codes.
    lower, upper
        The training box, one entry per parameter (optional). When given, the drifts (and
        per-accumulator start points) must share one box, so that relabelling the accumulators
        maps the box onto itself.

    Returns
    -------
    tuple or None
        ``(n, start-point names, extra names)``, or None when the model is not race-like.

    Examples
    --------
    >>> from hssm_nre.config import race_layout
    >>> race_layout(("v0", "v1", "v2", "a", "z", "t"), (0, 1, 2))
    (3, ('z',), ())
    """
    n = len(choices)
    if n < 2 or tuple(choices) != tuple(range(n)):
        return None
    vs = tuple(f"v{i}" for i in range(n))
    zs_each = tuple(f"z{i}" for i in range(n))
    if not (set(vs) | {"a", "t"}) <= set(params):
        return None
    if set(zs_each) <= set(params):
        zs = zs_each
    elif "z" in params:
        zs = ("z",)
    elif any(p.startswith("z") for p in params):
        return None
    else:
        zs = ()
    if any(re.fullmatch(r"v\d+", p) and p not in vs for p in params):
        return None
    if lower is not None and upper is not None:
        box = dict(zip(params, zip(lower, upper)))
        for group in (vs, zs if len(zs) > 1 else ()):
            if len({box[p] for p in group}) > 1:
                return None
    extras = tuple(p for p in params if p not in set(vs) | set(zs) | {"a", "t"})
    return n, zs, extras


@dataclass(frozen=True)
class ModelSpec:
    """What a network models: names, order, box, choices and feature set.

    Built from the ssm-simulators config by :func:`model_spec`; frozen, with a stable
    :meth:`to_dict` that the cache keys on.

    Attributes
    ----------
    name
        The ssm-simulators model name.
    params
        Parameter names in ssm-simulators order (also HSSM's ``list_params``).
    lower, upper
        The training box, one entry per parameter. HSSM's ``bounds`` are set to it.
    choices
        The response values the simulator produces, e.g. ``(-1, 1)``.
    shift
        True when the model has a non-decision time ``t`` that shifts the RT
        distribution; the network then sees ``u = rt - edge`` and the region
        ``rt <= edge`` is known to have zero likelihood. ``edge = t`` unless
        ``edge_shift`` says otherwise.
    features
        The network's feature set, one of ``FEATURE_SETS``; a property of the network, not
        the model (see :meth:`same_model`), chosen per training with ``hssm-nre train
        --features`` and defaulting per model (:func:`model_spec`). :mod:`hssm_nre.architecture`
        describes each:

        * ``"scaling"``: the diffusion scaling law, the mirror symmetry and the exact
          single-boundary (Wald) density as a fixed head (``DDM_SCALING_CAPABLE`` only; for
          weibull Durbin's leading-order density of its collapsing boundary, trained).
        * ``"edge"``: the generic network plus the leading-edge term of a first-passage density,
          D^2 / u with D the distance from the start point to the boundary the choice names, in
          a trainable linear head initialised at the Wald density's coefficients. Two-choice
          models with ``a`` and ``z``.
        * ``"race"``: for race-like models (:func:`race_layout`: one accumulator per choice,
          drifts ``v0``.., boundary ``a``, start point ``z`` / ``z0``.. / none) the network sees
          the chosen accumulator and the others as sorted lists instead of one-hot choices, so
          relabelling the accumulators relabels the network's density exactly, and a trainable
          linear head starts at the race of independent Wiener accumulators. ssm-simulators
          reflects accumulators at 0 and the LCA couples them: the MLP corrects the head.
        * ``"bound"``: like ``"edge"`` for collapsing boundaries (``BOUNDARY_FUNCTIONS``): the
          head starts at Durbin's first-order first-passage density for the named boundary
          b(u), (D(u) / u - b'(u)) phi_u(D(u) - v u); exact for one linear boundary. Two-choice
          models with ``v``, ``a``, ``z`` and ``t``.
        * ``"generic"``: theta scaled to [-1, 1], log u, c / u and the one-hot choice.
    boundary_correction
        True when training simulations shift the boundary to undo the bias of
        discrete-time (Euler, dt = 0.001) boundary monitoring.
    edge_shift
        ``(param, scale)`` when the non-decision time is spread below ``t``
        (ssm-simulators' ``ndt_edge_shift``: full_ddm and ddm_st draw it from
        U(t - st, t + st)), so the support starts at ``t - scale * param``.
    per_call_params
        Parameters that training simulations hold fixed within each simulator call
        (``PER_CALL_PARAMS``: ssm-simulators mishandles per-row values of them). Part of the
        model's identity, so a network trained on data simulated the faulty way (without
        this field) no longer loads for that model.

    Raises
    ------
    ValueError
        ``features`` is not one of ``FEATURE_SETS``, or the model cannot take that feature set
        (the message names the reason).
    """

    name: str
    params: tuple[str, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    choices: tuple[int, ...]
    shift: bool
    features: str = "generic"
    boundary_correction: bool = False
    edge_shift: tuple[str, float] | None = None
    per_call_params: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.features not in FEATURE_SETS:
            raise ValueError(f"{self.name!r}: features must be one of {FEATURE_SETS}, got {self.features!r}.")
        if self.features == "race" and not (
            self.shift
            and self.edge_shift is None
            and race_layout(self.params, self.choices, self.lower, self.upper) is not None
        ):
            raise ValueError(
                "the race features need a race-like model: choices 0..n-1, drifts v0..v{n-1} with one "
                "box, a boundary 'a', a non-decision time 't' and a start point 'z', z0..z{n-1} or "
                f"none; {self.name!r} has params {self.params}, choices {self.choices}."
            )
        two_choice_az = tuple(self.choices) == (-1, 1) and {"a", "z"} <= set(self.params)
        if self.features == "edge" and not two_choice_az:
            raise ValueError(
                f"the edge features need a generic two-choice model with 'a' and 'z' (choices (-1, 1)); "
                f"{self.name!r} has params {self.params}, choices {self.choices}."
            )
        if self.features == "bound" and not (
            two_choice_az
            and {"v", "t"} <= set(self.params)
            and self.shift
            and self.edge_shift is None
            and collapsing_boundary(self.name) is not None
        ):
            raise ValueError(
                "the bound features need a two-choice model with 'v', 'a', 'z', 't' and a collapsing "
                f"boundary of ssm-simulators' {sorted(BOUNDARY_FUNCTIONS)}; {self.name!r} has params "
                f"{self.params}, boundary {_ssms_config().get(self.name, {}).get('boundary_name')!r}."
            )
        if self.features == "scaling" and not (
            self.name in DDM_SCALING_CAPABLE
            and tuple(self.choices) == (-1, 1)
            and self.shift
            and self.edge_shift is None
        ):
            raise ValueError(
                "the scaling (DDM) features need a model whose first-passage density obeys the "
                f"diffusion scaling law with a closed-form (or leading-order) single-boundary density "
                f"({', '.join(sorted(DDM_SCALING_CAPABLE))}); {self.name!r} is not one."
            )

    def with_features(self, features: str) -> ModelSpec:
        """This model with another network feature set.

        Parameters
        ----------
        features
            One of ``FEATURE_SETS``.

        Returns
        -------
        ModelSpec
            A copy with ``features`` replaced.

        Raises
        ------
        ValueError
            ``features`` is unknown, or the model cannot take them (the message names the reason).
        """
        if features not in FEATURE_SETS:
            raise ValueError(f"features must be one of {FEATURE_SETS}, got {features!r}.")
        return dataclasses.replace(self, features=features)

    def same_model(self, other: ModelSpec) -> bool:
        """Whether ``other`` describes the same model, whatever feature set its network uses.

        The same names, box, choices and support: a network trained with any of ``FEATURE_SETS``
        serves the model.

        Parameters
        ----------
        other
            Another spec, e.g. a network's.

        Returns
        -------
        bool
            True when no model-defining field differs (:meth:`model_differences` is empty).
        """
        return self.model_differences(other) == []

    def model_differences(self, other: ModelSpec) -> list[str]:
        """Names of the model-defining fields that differ from ``other``.

        Every field is model-defining but the network's feature choice (``_FEATURE_FIELDS``).

        Parameters
        ----------
        other
            Another spec.

        Returns
        -------
        list of str
            The field names, in field order.
        """
        mine, theirs = dataclasses.asdict(self), dataclasses.asdict(other)
        return [k for k in mine if k not in _FEATURE_FIELDS and mine[k] != theirs[k]]

    @property
    def n_params(self) -> int:
        """The number of parameters."""
        return len(self.params)

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """The training box as HSSM's ``bounds`` dict, ``{param: (lower, upper)}``."""
        return {p: (lo, hi) for p, lo, hi in zip(self.params, self.lower, self.upper)}

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (JSON-serialisable; what the cache keys on and stores)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        """The inverse of :meth:`to_dict`.

        Also reads format-1 metadata, whose four feature booleans (``ddm_scaling``,
        ``edge_features``, ``race_features``, ``bound_features``) were one ``features`` field's
        values.

        Parameters
        ----------
        d
            A dict as :meth:`to_dict` writes it.

        Returns
        -------
        ModelSpec
            The spec.
        """
        if "features" in d:
            features = str(d["features"])
        else:
            legacy = {"ddm_scaling": "scaling", "edge_features": "edge", "race_features": "race", "bound_features": "bound"}
            features = next((name for key, name in legacy.items() if d.get(key)), "generic")
        return cls(
            name=d["name"],
            params=tuple(d["params"]),
            lower=tuple(float(x) for x in d["lower"]),
            upper=tuple(float(x) for x in d["upper"]),
            choices=tuple(int(c) for c in d["choices"]),
            shift=bool(d["shift"]),
            features=features,
            boundary_correction=bool(d.get("boundary_correction", False)),
            edge_shift=(
                (str(d["edge_shift"][0]), float(d["edge_shift"][1])) if d.get("edge_shift") else None
            ),
            per_call_params=tuple(str(p) for p in d.get("per_call_params", ())),
        )


def model_spec(name: str) -> ModelSpec:
    """Build the :class:`ModelSpec` of an ssm-simulators model.

    The training box is the model's ``param_bounds`` in the ssm-simulators config; the feature
    set is the model's default (``hssm-nre train --features`` chooses another).

    Parameters
    ----------
    name
        The ssm-simulators model name.

    Returns
    -------
    ModelSpec
        The model's spec.

    Raises
    ------
    TypeError
        ``name`` is not a string.
    UnknownModelError
        ``name`` is not an ssm-simulators model; the message lists close matches.
    UnsupportedModelError
        The model cannot be trained as a single-trial NRE: deadline models (omissions coded
        rt = -999), choice-only models, models whose drifts must sum to 1
        (``*_vs_constraint``), models whose box depends on other parameters in a way we cannot
        express as HSSM bounds, or whose rt support is shifted by something that is not one of
        their parameters.

    Examples
    --------
    >>> import hssm_nre
    >>> spec = hssm_nre.model_spec("ddm")
    >>> spec.params
    ('v', 'a', 'z', 't')
    >>> spec.bounds["a"]
    (0.3, 2.5)
    """
    if not isinstance(name, str):
        raise TypeError(f"model must be a model name string, got {type(name).__name__}.")
    cfg_all = _ssms_config()
    if name.endswith("_deadline"):
        raise UnsupportedModelError(
            f"Model {name!r} codes omissions as rt = -999, which a single-trial ratio "
            "estimator over (rt, choice) does not model yet. Fit "
            f"{name[: -len('_deadline')]!r} on the trials that responded instead."
        )
    if name not in cfg_all:
        close = difflib.get_close_matches(name, list(cfg_all), n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"Unknown model {name!r}: it is not an ssm-simulators model.{hint} "
            "`hssm-nre list` shows every model name."
        )
    cfg = cfg_all[name]
    if any("choice_only" in str(tag) for tag in cfg.get("tags", ())):
        raise UnsupportedModelError(
            f"Model {name!r} is choice-only (its simulator returns no response times); "
            "its likelihood over choices is a closed-form softmax that needs no ratio "
            "estimator. Use HSSM's choice-only models instead."
        )
    if name.endswith("_vs_constraint"):
        raise UnsupportedModelError(
            f"Model {name!r} requires its drift rates to sum to 1 on every trial (the "
            "simulator refuses anything else), a constraint that HSSM's per-parameter "
            "bounds cannot express. Fit the unconstrained variant instead."
        )
    params = tuple(cfg["params"])
    bounds = cfg.get("param_bounds_dict") or {
        p: (lo, hi) for p, lo, hi in zip(params, *cfg["param_bounds"])
    }
    lower, upper = [], []
    for p in params:
        lo, hi = bounds[p]
        if isinstance(lo, str) or isinstance(hi, str):
            raise UnsupportedModelError(
                f"Model {name!r} has a parameter box that depends on other parameters "
                f"({p}: ({lo}, {hi})); HSSM bounds cannot express that."
            )
        lower.append(float(lo))
        upper.append(float(hi))
    return ModelSpec(
        name=name,
        params=params,
        lower=tuple(lower),
        upper=tuple(upper),
        choices=_choices_of(cfg),
        shift="t" in params and name not in NDT_UNBOUNDED_MODELS,
        features=default_features(name),
        boundary_correction=name in BOUNDARY_CORRECTED_MODELS,
        edge_shift=_edge_shift_of(cfg, params),
        per_call_params=PER_CALL_PARAMS.get(name, ()),
    )


def default_features(name: str) -> str:
    """The feature set a network for model ``name`` gets unless told otherwise."""
    for features, models in (
        ("scaling", DDM_SCALING_MODELS),
        ("edge", EDGE_FEATURE_MODELS),
        ("race", RACE_FEATURE_MODELS),
        ("bound", BOUND_FEATURE_MODELS),
    ):
        if name in models:
            return features
    return "generic"


def _edge_shift_of(cfg: dict[str, Any], params: tuple[str, ...]) -> tuple[str, float] | None:
    es = cfg.get("ndt_edge_shift")
    if not es:
        return None
    if es["param"] not in params or "t" not in params:
        raise UnsupportedModelError(
            f"Model {cfg.get('name')!r} shifts its rt support by {es['param']!r}, which is not "
            f"one of its parameters {params}."
        )
    return (str(es["param"]), float(es.get("scale", 1.0)))


def _hard_limits(name: str, param: str) -> tuple[float, float]:
    """Values a parameter cannot take whatever the box: the stable index of levy models is at
    most 2 (scipy's stable draws refuse more) and an angle theta stays inside (-pi/2, pi/2),
    where tan(theta), the boundary's slope, turns over."""
    if param == "alpha" and name.startswith("levy"):
        return (-math.inf, 2.0)
    if param == "theta":
        return (-1.5, 1.5)
    return (-math.inf, math.inf)


def padded_box(spec: ModelSpec, pad: float) -> ModelSpec:
    """``spec`` with its box widened by ``pad`` times each parameter's range on both sides, for
    drawing training parameters (HSSM's bounds stay ``spec``'s). A face at 0 stays (signs:
    a > 0, t >= 0, variabilities, rates), a positive lower bound widens at most to half of
    itself, relative start points (``z``, ``z0``, ...) stay below 1, and no face moves past a
    hard limit (:func:`_hard_limits`) or back inside the box."""
    if not pad:
        return spec
    lower, upper = [], []
    for p, lo, hi in zip(spec.params, spec.lower, spec.upper):
        w = pad * (hi - lo)
        new_lo = lo - w if lo < 0 else (lo if lo == 0 else max(lo - w, lo / 2))
        new_hi = min(hi + w, (1 + hi) / 2) if p.startswith("z") and hi < 1 else hi + w
        floor, ceiling = _hard_limits(spec.name, p)
        new_lo, new_hi = min(lo, max(new_lo, floor)), max(hi, min(new_hi, ceiling))
        lower.append(new_lo)
        upper.append(new_hi)
    return dataclasses.replace(spec, lower=tuple(lower), upper=tuple(upper))


@dataclass(frozen=True)
class TrainSettings:
    """How a network is trained. Every field is part of the cache key.

    The defaults are the budget of the shipped DDM network: about 13 minutes on
    two CPU cores (2M simulations, 12k steps of batch 1,024). ``hssm-nre train`` sets the
    fields with its options (``TRAIN_FLAGS``).

    Attributes
    ----------
    n_simulations
        Simulated trials (one per parameter draw); at least ``2 * batch_size``.
    steps
        Training steps.
    batch_size
        Batch size; larger than ``K``.
    K
        Contrastive candidates per trial (taken from the batch).
    gamma
        NRE-C's odds of a dependent pair; positive.
    learning_rate
        The initial learning rate of Adam's cosine decay schedule; positive.
    widths
        Hidden widths of the ratio network's MLP, F(theta, x).
    evidence_widths
        Hidden widths of the network's x-only MLP, G(x), the logit's data-only term
        (:mod:`hssm_nre.architecture`).
    seed
        Random seed of the simulations, the weights' initialisation and the training.
    extra
        Rarely used options, part of the key like every field. ``stop_after_steps``: stop after
        that many steps of the planned cosine schedule (set by :func:`hssm_nre.train` when a time
        limit cut training short, so the entry says what it holds). ``pad``: draw training
        parameters from the box widened by this fraction (in (0, 0.5]) of each range on both
        sides (``padded_box``), so the network has support at HSSM's bounds, not only inside.

    Raises
    ------
    ValueError
        A field is out of range (the message names it).
    """

    n_simulations: int = 2_000_000
    steps: int = 12_000
    batch_size: int = 1_024
    K: int = 8
    gamma: float = 1.0
    learning_rate: float = 1e-3
    widths: tuple[int, ...] = (128, 128, 128)
    evidence_widths: tuple[int, ...] = (64, 64)
    seed: int = 0
    #: Rarely used options, part of the key like every field. ``stop_after_steps``:
    #: stop after that many steps of the planned cosine schedule (set by ``train``
    #: when a time limit cut training short, so the entry says what it holds). ``pad``:
    #: draw training parameters from the box widened by this fraction of each range on both
    #: sides (:func:`padded_box`), so the network has support at HSSM's bounds, not only inside.
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_simulations < 2 * self.batch_size:
            raise ValueError(
                f"n_simulations must be at least 2 * batch_size = {2 * self.batch_size}, "
                f"got {self.n_simulations}."
            )
        if self.steps <= 0:
            raise ValueError(f"steps must be positive, got {self.steps}.")
        if self.batch_size <= self.K:
            raise ValueError(
                f"batch_size must exceed K (contrastive candidates come from the batch), "
                f"got batch_size={self.batch_size}, K={self.K}."
            )
        if self.K <= 0:
            raise ValueError(f"K must be positive, got {self.K}.")
        if self.gamma <= 0:
            raise ValueError(f"gamma must be positive, got {self.gamma}.")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}.")
        if not self.widths or any(w <= 0 for w in self.widths):
            raise ValueError(f"widths must be positive integers, got {self.widths}.")
        pad = self.extra.get("pad")
        if pad is not None and not (isinstance(pad, (int, float)) and 0.0 < pad <= 0.5):
            raise ValueError(f"pad must be a fraction of each parameter's range in (0, 0.5], got {pad!r}.")
        stop = self.extra.get("stop_after_steps")
        if stop is not None and (not isinstance(stop, int) or stop <= 0):
            raise ValueError(f"stop_after_steps must be a positive integer, got {stop!r}.")

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain data (JSON-serialisable; what the cache keys on and stores)."""
        d = dataclasses.asdict(self)
        d["widths"] = list(self.widths)
        d["evidence_widths"] = list(self.evidence_widths)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainSettings:
        """The inverse of :meth:`to_dict`.

        Parameters
        ----------
        d
            A dict as :meth:`to_dict` writes it.

        Returns
        -------
        TrainSettings
            The settings.
        """
        d = dict(d)
        d["widths"] = tuple(d["widths"])
        d["evidence_widths"] = tuple(d["evidence_widths"])
        return cls(**d)


def _widths(text: str) -> tuple[int, ...]:
    import argparse  # its error type makes the parser print this message (stdlib, light)

    try:
        return tuple(int(w) for w in str(text).split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"widths must be comma-separated integers such as 128,128,128, got {text!r}"
        ) from None


@dataclass(frozen=True)
class Flag:
    """One ``hssm-nre train`` option and the :class:`TrainSettings` field it sets."""

    field: str
    flag: str
    parse: Callable[[str], Any]
    help: str
    extra: bool = False  # stored in TrainSettings.extra
    metavar: str | None = None

    def format(self, value: Any) -> str:
        return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


#: The one table of training options: the CLI's flags are built from it and the recorded
#: ``reproduce`` command is written from it, so the two cannot drift apart.
TRAIN_FLAGS: tuple[Flag, ...] = (
    Flag("n_simulations", "--n-simulations", int, "simulated trials (default 2,000,000)"),
    Flag("steps", "--steps", int, "training steps (default 12,000)"),
    Flag("batch_size", "--batch-size", int, "batch size (default 1,024)"),
    Flag("K", "--K", int, "contrastive candidates per trial (default 8)"),
    Flag("gamma", "--gamma", float, "NRE-C odds of a dependent pair (default 1.0; must be positive)"),
    Flag("learning_rate", "--learning-rate", float, "initial learning rate (default 1e-3)"),
    Flag("seed", "--seed", int, "random seed (default 0)"),
    Flag("widths", "--widths", _widths, "hidden widths, e.g. 128,128,128"),
    Flag("evidence_widths", "--evidence-widths", _widths, "hidden widths of the x-only head, e.g. 64,64"),
    Flag(
        "pad",
        "--pad",
        float,
        "draw training parameters from the box widened by FRACTION of each range on both sides "
        "(faces at 0 stay, positive lower bounds at most halve, start points stay below 1, levy's alpha "
        "at most 2, angles inside (-pi/2, pi/2)), so the network has support at HSSM's bounds; HSSM's "
        "bounds are unchanged",
        extra=True,
        metavar="FRACTION",
    ),
    Flag(
        "stop_after_steps",
        "--stop-after-steps",
        int,
        "stop after N steps of the planned schedule (how time-limited networks are reproduced)",
        extra=True,
        metavar="N",
    ),
)


def settings_from_flags(values: Mapping[str, Any]) -> TrainSettings:
    """:class:`TrainSettings` from option values keyed by field name (``None``: the default).

    A value given is used as given, so an invalid one (``gamma=0``) is refused by
    :class:`TrainSettings`' checks rather than replaced by the default."""
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for f in TRAIN_FLAGS:
        value = values.get(f.field)
        if value is None:
            continue
        if isinstance(value, str):
            value = f.parse(value)
        (extra if f.extra else kwargs)[f.field] = value
    return TrainSettings(**kwargs, extra=extra)


def settings_to_flags(settings: TrainSettings) -> list[str]:
    """The options that rebuild ``settings`` (those that differ from the defaults)."""
    default = TrainSettings()
    parts: list[str] = []
    for f in TRAIN_FLAGS:
        value = settings.extra.get(f.field) if f.extra else getattr(settings, f.field)
        if value is None or (not f.extra and value == getattr(default, f.field)):
            continue
        parts += [f.flag, f.format(value)]
    return parts
