"""``loglik_kind="nre"``: the one place that touches HSSM's internals.

The likelihood, the box, the priors and every check come from the public, patch-free path
(:func:`hssm_nre.hssm.build`, ``hssm.HSSM(data, **hssm_nre.hssm_kwargs(...))``). What HSSM 0.5
offers no public argument for is done here, and each piece is checked by :func:`install`, which
names the HSSM version and the missing piece (a ``RuntimeWarning`` at import, and
:class:`~hssm_nre.errors.HSSMCompatibilityError` when ``loglik_kind="nre"`` is asked for):

* ``hssm.HSSM.__init__`` is wrapped: with ``loglik_kind="nre"`` it builds the public keyword
  arguments and calls the original constructor with them (HSSM's ``Config.from_defaults``
  rejects unknown likelihood kinds: there is no plug-in point).
* The model's init snapshot (``_init_args``, which HSSM's save/load replays) is the user's own
  arguments plus the network's checksum, so a reloaded model rebuilds through this path and
  gets its very network back.
* HSSM's default initial values (``_initvals``: t = 0.025, a = 1.5, v = 0, jittered) are moved
  strictly inside the box (outside it the interval transform gives NaN chains).
* ``hssm.distribution_utils.dist.ensure_positive_ndt``, which floors trials with rt <= t to
  -66.1, is wrapped so that for models whose support starts at t - st (full_ddm, ddm_st) the
  floor sits at the support edge, and for ddm_normal_st (no edge) there is none; other
  likelihoods keep HSSM's own. Upstream: lnccbrown/HSSM#1292.

Written for hssm >= 0.5.0, < 0.6 (pinned in pyproject.toml for these reasons).
"""

from __future__ import annotations

import functools
import inspect
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ModelSpec, shifted_edge
from .errors import HSSMCompatibilityError
from .hssm import LIKELIHOOD_KINDS, build

__all__ = ["install", "NREInfo", "NRE_KWARGS", "LIKELIHOOD_KINDS", "hssm_problems"]

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


@dataclass(frozen=True)
class NREInfo:
    """What an NRE-backed HSSM model runs on (``model.nre``).

    Set on every model built with ``loglik_kind="nre"``.

    Attributes
    ----------
    spec
        The network's model spec.
    path
        The network's folder.
    source
        Where the network came from: ``"shipped"``, ``"cache"``, ``"trained"`` or ``"path"``.
    likelihood
        The likelihood kind used: ``"normalised"``, ``"exact"`` or ``"ratio"``.
    metadata
        The network's metadata.
    sha256
        The weights' checksum: which network this is, wherever it lies (a saved model reloads
        this very network).
    reason
        Why this network was chosen.
    """

    spec: ModelSpec
    path: Path
    source: str  # "shipped", "cache", "trained" or "path"
    likelihood: str  # "normalised", "exact" or "ratio"
    metadata: dict
    sha256: str = ""  # the weights' checksum: which network this is, wherever it lies
    reason: str = ""  # why this network was chosen


def _build_nre_call(original_init, self, bound: inspect.BoundArguments):
    problems = hssm_problems()
    if problems:
        import hssm

        raise HSSMCompatibilityError(
            f"loglik_kind='nre' needs HSSM internals that hssm {hssm.__version__} lacks: "
            f"{'; '.join(problems)}. Install hssm{','.join(SUPPORTED_HSSM)} (what this hssm_nre "
            "was written for), or use the public path: hssm.HSSM(data, **hssm_nre.hssm_kwargs(...))."
        )
    args = dict(bound.arguments)
    args.pop("self", None)
    kwargs = dict(args.pop("kwargs", {}) or {})
    user_args = dict(args) | dict(kwargs)  # the snapshot HSSM's save/load replays
    opts = {k: kwargs.pop(k) for k in NRE_KWARGS if k in kwargs}
    args.pop("loglik_kind", None)
    user_mc = args.pop("model_config", None) or {}
    if not isinstance(user_mc, dict):
        user_mc = {k: getattr(user_mc, k) for k in user_mc.__dataclass_fields__ if getattr(user_mc, k) is not None}
    if user_mc.get("extra_fields"):
        raise ValueError("extra_fields are not supported with loglik_kind='nre'.")
    data = args.pop("data")
    setup = build(
        args.pop("model", "ddm"),
        data=data,
        include=args.pop("include", None),
        weights=opts.get("nre_weights"),
        likelihood=opts.get("nre_likelihood"),
        train=bool(opts.get("nre_train", False)),
        settings=opts.get("nre_settings"),
        sha256=opts.get("nre_sha256"),
        allow_unseen_rt=bool(opts.get("nre_allow_unseen_rt", False)),
        response=user_mc.get("response"),
        bounds=user_mc.get("bounds"),
        default_priors=user_mc.get("default_priors"),
        rv=user_mc.get("rv"),
        **args,
        **kwargs,
    )
    spec, entry = setup.spec, setup.entry
    if "t" in spec.params and (spec.edge_shift is not None or not spec.shift):
        # HSSM floors every trial with rt <= t; this model's support starts at t - scale *
        # param, or has no lower edge: tag the Op, HSSM's (wrapped) floor reads the tag
        setattr(setup.op, _SUPPORT_TAG, spec.edge_shift if spec.shift else _NO_EDGE)
    original_init(self, data=data, **setup.kwargs)
    _keep_initvals_inside(self, setup.bounds)
    # the snapshot HSSM's save/load replays names this very network, so a reloaded model
    # gets it back or fails clearly (resolve_network's sha256)
    self._init_args = user_args | {"nre_sha256": entry.sha256}
    self.nre = NREInfo(
        spec, entry.path, entry.source, setup.kind, entry.metadata, sha256=entry.sha256, reason=entry.reason
    )
    _log.info(
        "NRE likelihood (%s) for %r: %s network %s (sha256 %s...), %s.",
        setup.kind, spec.name, entry.source, entry.path, entry.sha256[:12], entry.reason or "as given",
    )


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


def hssm_problems() -> list[str]:
    """The HSSM internals ``loglik_kind="nre"`` relies on that the installed hssm lacks.

    Returns
    -------
    list of str
        One description per missing piece; empty when all are there.
    """
    import hssm

    problems = []
    if "loglik_kind" not in inspect.signature(hssm.HSSM.__init__).parameters:
        problems.append("hssm.HSSM.__init__ takes no `loglik_kind`")
    try:
        from hssm.distribution_utils import dist as hssm_dist

        params = list(inspect.signature(hssm_dist.ensure_positive_ndt).parameters)
        if params != ["data", "logp", "list_params", "dist_params"]:
            problems.append(f"hssm.distribution_utils.dist.ensure_positive_ndt takes {params}")
        if not hasattr(hssm_dist, "LOGP_LB"):
            problems.append("hssm.distribution_utils.dist.LOGP_LB is gone")
    except (ImportError, AttributeError) as e:
        problems.append(f"hssm.distribution_utils.dist.ensure_positive_ndt: {e}")
    for name in ("list_models", "Prior"):
        if not hasattr(hssm, name):
            problems.append(f"hssm.{name} is gone")
    return problems


def install() -> None:
    """Teach ``hssm.HSSM`` the ``loglik_kind="nre"`` option (idempotent).

    Called by ``import hssm_nre``. It wraps ``hssm.HSSM.__init__`` (and HSSM's
    ``ensure_positive_ndt``, see :mod:`hssm_nre.register`): with ``loglik_kind="nre"`` the
    arguments go through :func:`hssm_nre.hssm.build`, every other call is passed on unchanged.
    ``loglik_kind="nre"`` adds these keyword arguments to ``hssm.HSSM`` (``NRE_KWARGS``), each
    an option of :func:`hssm_nre.hssm.build`:

    * ``nre_weights``: a network folder instead of the cached or shipped one (``weights``);
    * ``nre_train``: train a network when none exists (``train``);
    * ``nre_settings``: the budget of that training (``settings``);
    * ``nre_likelihood``: ``"normalised"``, ``"exact"`` or ``"ratio"`` (``likelihood``);
    * ``nre_allow_unseen_rt``: score trials slower than any the network was trained on
      (``allow_unseen_rt``);
    * ``nre_sha256``: demand the network with these weights (``sha256``; recorded in the
      model's init arguments, so a saved model reloads its own network).

    The model gets an :class:`NREInfo` as ``model.nre``, and HSSM's log names the network used
    and why.

    Raises
    ------
    ImportError
        hssm is not installed (``import hssm_nre`` turns this into an ``ImportWarning``).

    Warns
    -----
    RuntimeWarning
        The installed hssm is not a version this hssm_nre was written for (>= 0.5.0, < 0.6), or
        lacks an internal it needs (:func:`hssm_problems`), naming the version and the piece;
        ``loglik_kind="nre"`` then raises :class:`~hssm_nre.errors.HSSMCompatibilityError`
        (:func:`hssm_nre.hssm_kwargs` still works).

    Examples
    --------
    >>> import hssm, hssm_nre  # hssm_nre.install() has run
    >>> model = hssm.HSSM(data=df, model="ddm", loglik_kind="nre")  # doctest: +SKIP
    >>> model.nre.source, model.nre.reason  # doctest: +SKIP
    """
    import hssm
    from packaging.version import Version

    v = Version(hssm.__version__)
    problems = hssm_problems()
    if problems or not (Version("0.5.0") <= v < Version("0.6")):
        warnings.warn(
            f"hssm_nre was written for hssm {', '.join(SUPPORTED_HSSM)}; found {v}"
            + (f", which lacks: {'; '.join(problems)}. loglik_kind='nre' will refuse to run; "
               "hssm.HSSM(data, **hssm_nre.hssm_kwargs(...)) uses HSSM's public API only."
               if problems else ". Its internals that loglik_kind='nre' uses are all there."),
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
    if not problems:
        from hssm.distribution_utils import dist as hssm_dist

        if getattr(hssm_dist.ensure_positive_ndt, "_hssm_nre_original", None) is None:
            hssm_dist.ensure_positive_ndt = _ensure_positive_ndt_at_support(hssm_dist.ensure_positive_ndt)


def lan_logp(path: str | Path, n_params: int):
    """A LAN's per-trial log-likelihood as ``hssm.HSSM(..., loglik=path,
    loglik_kind="approx_differentiable")`` evaluates it, for side-by-side comparisons.

    HSSM's own ONNX-to-JAX translation of the network (``hssm.distribution_utils.onnx``, input
    row: the ``n_params`` parameters in model order, rt, response) and HSSM's floor (-66.1) for
    trials at or before ``t`` when ``t_index`` is given.

    Parameters
    ----------
    path
        An ONNX file.
    n_params
        The model's number of parameters.

    Returns
    -------
    callable
        ``f(theta (P,), rt (n,), response (n,), t_index=None) -> (n,)``, traceable by JAX.
    """
    import jax.numpy as jnp

    try:
        from hssm.distribution_utils.dist import LOGP_LB
        from hssm.distribution_utils.onnx import make_jax_logp_funcs_from_onnx
    except ImportError as e:
        import hssm

        raise HSSMCompatibilityError(
            f"a LAN baseline needs hssm.distribution_utils.onnx.make_jax_logp_funcs_from_onnx and "
            f"hssm.distribution_utils.dist.LOGP_LB, which hssm {hssm.__version__} lacks ({e}); hssm_nre "
            f"was written for hssm {', '.join(SUPPORTED_HSSM)}."
        ) from e

    vmapped, _ = make_jax_logp_funcs_from_onnx(str(path), params_is_reg=[False] * n_params, return_jit=False)

    def logp(theta, rt, response, t_index=None):
        data = jnp.stack([rt, response], axis=1)
        out = jnp.reshape(vmapped(data, *[theta[i] for i in range(n_params)]), (-1,))
        if t_index is None:
            return out
        return jnp.where(rt - theta[t_index] <= 1e-15, float(LOGP_LB), out)

    return logp
