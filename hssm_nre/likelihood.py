"""Pure-JAX single-trial log-ratio, in the shape HSSM's JAX path expects.

Follows blackjax's ``build_kernel`` style: :func:`make_log_ratio_fn` returns a
pure function and leaves jitting to the caller (HSSM vmaps and jits it once per
model, with an exact VJP). The HSSM callable is float64 in and out, as HSSM's
float64 graphs need; inside, the network runs in float32 by default
(``compute_dtype``): the weights are float32 anyway, and on CPU the float32
forward + gradient is ~2.8x faster than float64 (7.8 ms -> 2.8 ms for 5,000
trials, measured on 2 cores), which is most of NUTS's cost. The evidence term is
added in float64.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .architecture import JNP_OPS, logit_fn, network_weights, tree_map
from .config import ModelSpec

__all__ = [
    "loglik",
    "NRELikelihood",
    "KINDS",
    "make_log_ratio_fn",
    "make_batched_log_ratio_fn",
    "make_logp_fn",
    "make_value_and_partials_fn",
    "make_exact_logp",
    "SOFT_WALL",
]

#: Outside the training box the network is evaluated at the nearest point of the
#: box and a quadratic wall is subtracted: SOFT_WALL * sum(((theta - clip(theta)) /
#: box width)^2) nats per trial (1 nat at 1 % of a parameter's range beyond the
#: box). Continuous where HSSM's own bound is a cliff (every out-of-box trial set to
#: -66.1), which NUTS cannot cross: a regression whose trial-wise value leaves the
#: box for one extreme covariate value stalls the sampler (step size 1e-4, 1,023
#: leapfrog steps per draw, measured on 5,000 trials).
SOFT_WALL = 1.0e4


def _as_jax(weights: Mapping[str, Any], dtype):
    import jax.numpy as jnp

    return tree_map(lambda v: jnp.asarray(np.asarray(v), dtype=dtype), weights)


def make_batched_log_ratio_fn(
    spec: ModelSpec, weights: Mapping[str, np.ndarray], *, dtype: str = "float64"
) -> Callable:
    """Return ``f(theta, rt, choice) -> log_ratio`` over any matching leading shape."""
    import jax.numpy as jnp

    w = _as_jax(weights, dtype)
    ops = JNP_OPS()

    def log_ratio_fn(theta, rt, choice):
        theta = jnp.asarray(theta, dtype)
        rt = jnp.asarray(rt, dtype)
        choice = jnp.asarray(choice, dtype)
        return logit_fn(spec, w, theta, rt, choice, ops)

    return log_ratio_fn


def make_log_ratio_fn(
    spec: ModelSpec,
    weights: Mapping[str, np.ndarray],
    *,
    evidence: Callable | None = None,
    compute_dtype: str = "float32",
    soft_box: bool = True,
) -> Callable:
    """Return HSSM's per-trial callable ``f(data_i, *params) -> scalar`` (float64 out).

    ``data_i`` is ``[rt, response]``; ``params`` come in ``spec.params`` order,
    each a scalar or an array of shape (1,) (HSSM passes trial-constant
    parameters that way). If ``evidence`` is given (a function of rt, choice
    returning log p_hat(x)), it is added, turning the ratio into a normalised
    log-likelihood. With ``soft_box`` (the default), parameters outside the
    training box are handled by :data:`SOFT_WALL` (continuous) instead of being
    passed to a network that never saw them.
    """
    import jax.numpy as jnp

    batched = make_batched_log_ratio_fn(spec, weights, dtype=compute_dtype)
    n = spec.n_params
    lo = np.asarray(spec.lower, np.float64)
    hi = np.asarray(spec.upper, np.float64)
    width = hi - lo

    def loglik_fn(data, *params):
        if len(params) != n:
            raise TypeError(f"expected {n} parameters {spec.params}, got {len(params)}.")
        theta = jnp.stack([jnp.reshape(jnp.asarray(p), ()) for p in params])
        data = jnp.reshape(jnp.asarray(data), (-1,))
        wall = 0.0
        if soft_box:
            inside = jnp.clip(theta, lo, hi)
            wall = SOFT_WALL * jnp.sum(((theta - inside) / width) ** 2)
            theta = inside
        out = batched(theta, data[0], data[1]).astype(jnp.float64) - wall
        if evidence is not None:
            out = out + evidence(data[0], data[1])
        return out

    return loglik_fn


def make_logp_fn(
    spec: ModelSpec,
    weights: Mapping[str, np.ndarray],
    *,
    evidence: Callable | None = None,
    compute_dtype: str = "float32",
    soft_box: bool = True,
) -> Callable:
    """Return the batched, pure-JAX ``f(theta, rt, response) -> logp`` (float64).

    ``theta`` has shape ``(..., n_params)`` in ``spec.params`` order; ``rt`` and ``response``
    broadcast against ``theta.shape[:-1]``; the result has the broadcast shape. With
    ``evidence`` (a function of rt, response, as :func:`hssm_nre.evidence.make_evidence_fn`
    returns) the learned log p(x) is added: a normalised log-likelihood; without it the raw
    log-ratio. Parameters outside the training box are clipped into it and pay the
    :data:`SOFT_WALL` (continuous, with a gradient back into the box); rt at or below the
    support edge (t, or t - st) gets a finite value falling with t (see
    :func:`hssm_nre.architecture.logit_fn`). Jit and differentiate as you like."""
    import jax
    import jax.numpy as jnp

    batched = make_batched_log_ratio_fn(spec, weights, dtype=compute_dtype)
    lo = np.asarray(spec.lower, np.float64)
    hi = np.asarray(spec.upper, np.float64)
    width = hi - lo

    def logp_fn(theta, rt, response):
        theta = jnp.asarray(theta, jnp.float64)
        wall = 0.0
        if soft_box:
            inside = jnp.clip(theta, lo, hi)
            wall = SOFT_WALL * jnp.sum(((theta - inside) / width) ** 2, axis=-1)
            theta = inside
        shape = jnp.broadcast_shapes(theta.shape[:-1], jnp.shape(rt), jnp.shape(response))
        theta = jnp.broadcast_to(theta, (*shape, spec.n_params))
        rt = jnp.broadcast_to(jnp.asarray(rt, jnp.float64), shape)
        response = jnp.broadcast_to(jnp.asarray(response, jnp.float64), shape)
        out = batched(theta, rt, response).astype(jnp.float64) - wall
        if evidence is not None:  # a per-trial function: mapped over the trials
            out = out + jnp.reshape(jax.vmap(evidence)(jnp.ravel(rt), jnp.ravel(response)), shape)
        return out

    return logp_fn


def make_value_and_partials_fn(
    spec: ModelSpec, logp_fn: Callable, ndims: tuple[int, ...], *, log_z: Callable | None = None
) -> Callable:
    """``f(data, *params) -> (logp (n,), partials (n_params, n))``: every trial's
    log-likelihood and its derivative in each parameter, from one forward and one backward
    pass (what a fused PyTensor Op returns, :mod:`hssm_nre._pytensor_op`).

    ``data`` is ``(n, 2)``: rt and response. Each parameter is a scalar (``ndims`` 0), a
    length-1 vector or a vector of one value per trial (``ndims`` 1), in ``spec.params`` order.
    ``logp_fn`` is :func:`make_logp_fn`'s function. With ``log_z`` (:func:`hssm_nre.quadrature.make_log_z_fn`)
    the likelihood is normalised exactly: log Z at the first trial's parameters is subtracted
    from every trial, which is right only when the parameters are constant across trials (the
    caller checks that)."""
    import jax
    import jax.numpy as jnp

    if len(ndims) != spec.n_params:
        raise ValueError(f"ndims needs one entry per parameter {spec.params}, got {ndims}.")

    def one(theta, rt, response):
        return logp_fn(theta, rt, response)

    per_trial = jax.vmap(jax.value_and_grad(one), in_axes=(0, 0, 0))
    lo = np.asarray(spec.lower, np.float64)
    hi = np.asarray(spec.upper, np.float64)

    def value_and_partials(data, *params):
        data = jnp.asarray(data, jnp.float64)
        n = data.shape[0]
        cols = [jnp.broadcast_to(jnp.reshape(jnp.asarray(p, jnp.float64), (-1,)), (n,)) for p in params]
        theta = jnp.stack(cols, axis=-1)
        value, grad = per_trial(theta, data[:, 0], data[:, 1])
        if log_z is not None:
            lz, dlz = jax.value_and_grad(log_z)(jnp.clip(theta[0], lo, hi))
            value = value - lz
            grad = grad - dlz
        return value, grad.T

    return value_and_partials


def make_exact_logp(
    spec: ModelSpec, loglik_fn: Callable, log_z: Callable, trialwise: tuple[bool, ...]
) -> Callable:
    """Full-batch ``f(data, *params) -> (n_trials,)``: ``loglik_fn`` (:func:`make_log_ratio_fn`,
    built on the raw network) vmapped over trials, less ``log_z`` (e.g.
    :func:`hssm_nre.quadrature.make_log_z_fn`) at the model's one parameter vector.

    For models whose parameters are constant across trials only: HSSM hands the parent
    parameter over as a per-trial vector even when it is an intercept (``trialwise``, its
    ``is_trialwise`` flags), so log Z is evaluated once at the first trial's values, not
    vmapped (which would integrate it once per trial). Parameters outside the training box
    are clipped into it for log Z, as the network's input is.
    """
    import jax
    import jax.numpy as jnp

    if len(trialwise) != spec.n_params:
        raise ValueError(f"trialwise needs {spec.n_params} flags {spec.params}, got {len(trialwise)}.")
    per_trial = jax.vmap(loglik_fn, in_axes=(0, *(0 if t else None for t in trialwise)))
    lo = np.asarray(spec.lower, np.float64)
    hi = np.asarray(spec.upper, np.float64)

    def logp(data, *params):
        theta = jnp.stack([jnp.reshape(jnp.asarray(p), (-1,))[0] for p in params])
        return per_trial(data, *params) - log_z(jnp.clip(theta, lo, hi))

    return logp


#: What the likelihood is: the learned ratio plus the evidence term (and the fitted
#: normaliser, if the network has one), that normalised exactly by quadrature at every
#: parameter vector, or the raw ratio (a density only up to a function of x).
KINDS = ("normalised", "exact", "ratio")


@dataclass(frozen=True)
class NRELikelihood:
    """A network's single-trial log-likelihood as pure JAX, for any sampler or model.

    Made by :func:`loglik`. Calling the object is calling :attr:`logp`.

    Attributes
    ----------
    spec
        The model: ``spec.params`` (the order of theta's last axis), ``spec.bounds`` (the
        training box), ``spec.choices`` (the response codes).
    kind
        ``"normalised"``, ``"exact"`` or ``"ratio"`` (:data:`KINDS`).
    logp
        ``logp(theta, rt, response) -> float64 array``: theta ``(..., n_params)``, rt (seconds)
        and response broadcast against ``theta.shape[:-1]``. Pure and jittable; exact
        gradients in theta. Outside the box: clipped and a soft wall subtracted
        (``SOFT_WALL``); rt at or below the support edge: a finite value falling with t. With
        ``kind="exact"`` log Z is integrated for every row of theta (about 400 network
        evaluations each): sum trials of one parameter vector with :meth:`logp_sum`.
    path
        The network's folder.
    sha256
        The checksum of its weights: which network this is.
    metadata
        The network's metadata (``metadata.json``).
    """

    spec: ModelSpec
    kind: str
    logp: Callable = field(repr=False)
    path: Path | None = None
    sha256: str = ""
    metadata: dict = field(default_factory=dict, repr=False)
    _make_partials: Callable | None = field(default=None, repr=False)

    @property
    def params(self) -> tuple[str, ...]:
        """The parameter names, in the order of theta's last axis (``spec.params``)."""
        return self.spec.params

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """The training box, ``{param: (lower, upper)}`` (``spec.bounds``)."""
        return self.spec.bounds

    @property
    def choices(self) -> tuple[int, ...]:
        """The response codes the model produces (``spec.choices``)."""
        return self.spec.choices

    def __call__(self, theta, rt, response):
        return self.logp(theta, rt, response)

    def logp_sum(self, theta, rt, response):
        """The total log-likelihood of trials at one parameter vector.

        For ``kind="exact"``, log Z is integrated once (at ``theta``), not once per trial.

        Parameters
        ----------
        theta
            One parameter vector, shape ``(n_params,)``, in :attr:`params` order.
        rt, response
            The trials' response times (seconds) and responses, shape ``(n,)``.

        Returns
        -------
        jax.Array
            The sum of the trials' log-likelihoods (a scalar); differentiable in ``theta``.
        """
        import jax.numpy as jnp

        if self._make_partials is None:
            return jnp.sum(self.logp(theta, rt, response))
        data = jnp.stack([jnp.asarray(rt, jnp.float64), jnp.asarray(response, jnp.float64)], axis=-1)
        theta = jnp.asarray(theta, jnp.float64)
        value, _ = self._make_partials((0,) * self.spec.n_params)(data, *theta)
        return jnp.sum(value)

    def value_and_partials_fn(self, ndims: tuple[int, ...]) -> Callable:
        """Every trial's log-likelihood and its derivatives, from one forward and backward pass.

        Parameters
        ----------
        ndims
            One rank per parameter, in :attr:`params` order: 0 for one value for all trials, 1 for
            a vector of one value per trial (or of length 1).

        Returns
        -------
        Callable
            ``f(data, *params) -> (logp, partials)``: ``data`` ``(n, 2)`` of [rt, response],
            ``logp`` ``(n,)`` and ``partials`` ``(n_params, n)``.

        Raises
        ------
        ValueError
            ``kind="exact"`` and some parameter has rank 1 (log Z is integrated once, for one
            parameter vector).
        """
        if self._make_partials is not None:
            if any(ndims):
                raise ValueError(
                    "kind='exact' integrates log Z once for one parameter vector: every parameter "
                    f"must be a scalar, got ranks {dict(zip(self.spec.params, ndims))}. Use "
                    "kind='normalised' when parameters vary by trial."
                )
            return self._make_partials(ndims)
        return make_value_and_partials_fn(self.spec, self.logp, ndims)


def loglik(
    model: str = "ddm",
    *,
    weights: str | os.PathLike | None = None,
    kind: str | None = None,
) -> NRELikelihood:
    """The NRE log-likelihood of ``model``'s network, as pure JAX.

    Parameters
    ----------
    model
        An ssm-simulators model name; its network is the one ``hssm.HSSM(model=...,
        loglik_kind="nre")`` would use (:func:`hssm_nre.cache.find_network`). With ``weights``,
        the model the folder's network is for (``None``: whatever it is).
    weights
        A network folder instead (``weights.npz`` + ``metadata.json``).
    kind
        ``"normalised"`` (default, unless the network's record names another), ``"exact"``
        or ``"ratio"``.

    Returns
    -------
    NRELikelihood
        The log-likelihood, its model and its network.

    Raises
    ------
    UnknownModelError, UnsupportedModelError
        Without ``weights``: ``model`` cannot be fitted with an NRE.
    NetworkNotFoundError
        ``weights`` does not exist, no network exists for ``model``, or the network has no
        evidence term for a ``"normalised"`` or ``"exact"`` likelihood.
    WrongModelError
        ``weights`` holds a network for another model than ``model``.
    CacheCorruptedError, CacheMismatchError
        The network folder is damaged, or was written for another weight format or model spec.
    ValueError
        ``kind`` is not one of :data:`KINDS`.

    Warns
    -----
    CacheEntryWarning
        Cache entries that could not be used (:func:`hssm_nre.cache.find_network`).

    Examples
    --------
    >>> import jax, jax.numpy as jnp, hssm_nre
    >>> lik = hssm_nre.loglik("ddm")
    >>> lik.params
    ('v', 'a', 'z', 't')
    >>> theta = jnp.array([0.5, 1.2, 0.5, 0.3])
    >>> float(lik.logp(theta, 0.8, 1.0))  # doctest: +SKIP
    >>> jax.grad(lambda th: lik.logp_sum(th, rts, responses))(theta)  # doctest: +SKIP
    """
    return _from_entry(network_entry(model, weights), kind)


def network_entry(model: str | None, weights=None):
    """The network :func:`loglik` uses: the folder ``weights`` (checked to be ``model``'s when
    ``model`` is given), else the one ``hssm.HSSM`` would use for ``model``."""
    from .cache import find_network, load_entry
    from .config import model_spec
    from .errors import NetworkNotFoundError, WrongModelError

    if weights is not None:
        if not Path(weights).exists():
            raise NetworkNotFoundError(f"weights={str(weights)!r} does not exist.")
        entry = load_entry(weights)
        if model is not None and entry.spec.name != model:
            raise WrongModelError(
                f"weights={str(weights)!r} holds a network for model {entry.spec.name!r}, not {model!r}."
            )
    else:
        model_spec(model)  # UnknownModelError / UnsupportedModelError, with the fix
        entry = find_network(model)
    return entry


def resolve_kind(entry, requested: str | None, varying, *, arg: str) -> str:
    """The likelihood kind for ``entry`` when the parameters ``varying`` vary by trial.

    ``requested`` (or else the network's recorded ``default_likelihood``, or "normalised") is kept
    unless it is "exact", which integrates over x at one parameter vector: asked for explicitly,
    that is a ``ValueError``; as the network's default, "normalised" is used with a
    :class:`~hssm_nre.errors.LikelihoodWarning`. ``arg`` names the caller's argument in messages
    (``nre_likelihood`` for HSSM, ``kind`` for :func:`hssm_nre.pymc.NRE`)."""
    from .architecture import normaliser_weights
    from .errors import LikelihoodWarning, warn

    kind = requested or entry.metadata.get("default_likelihood") or "normalised"
    if kind != "exact" or not varying:
        return kind
    if requested == "exact":
        raise ValueError(
            f"{arg}='exact' needs parameters constant across trials; {sorted(varying)} vary by trial "
            "(e.g. a regression, a hierarchical term or a per-trial vector), where log Z(theta) would be "
            f"integrated once per trial. Use {arg}='normalised' (the fitted normaliser)."
        )
    warn(LikelihoodWarning(
        f"The {entry.spec.name!r} network is validated with {arg}='exact' (log Z by quadrature at each "
        f"theta), which needs parameters constant across trials; {sorted(varying)} vary by trial, so the "
        f"'normalised' likelihood is used, which its record ({entry.path / 'README.md'}) does not validate"
        + ("" if normaliser_weights(entry.weights) else
           " (and this network has no fitted normaliser: that likelihood is not normalised per theta)")
        + "."
    ))
    return "normalised"


def _from_entry(entry, kind: str | None) -> NRELikelihood:
    from .errors import NetworkNotFoundError
    from .evidence import make_evidence_fn

    kind = kind or entry.metadata.get("default_likelihood") or "normalised"
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")
    spec = entry.spec
    evidence = None
    if kind in ("normalised", "exact"):
        if entry.evidence is None:
            raise NetworkNotFoundError(f"The network at {entry.path} has no evidence term; use kind='ratio'.")
        evidence = make_evidence_fn(spec, entry.evidence)
    make_partials = None
    if kind == "exact":
        from .quadrature import make_log_z_fn

        raw = make_logp_fn(spec, network_weights(entry.weights), evidence=evidence)
        log_z = make_log_z_fn(spec, entry.weights, entry.evidence)

        def logp(theta, rt, response):
            import jax
            import jax.numpy as jnp

            theta = jnp.asarray(theta, jnp.float64)
            lo, hi = np.asarray(spec.lower), np.asarray(spec.upper)
            flat = jnp.reshape(jnp.clip(theta, lo, hi), (-1, spec.n_params))
            lz = jnp.reshape(jax.vmap(log_z)(flat), theta.shape[:-1])
            return raw(theta, rt, response) - lz

        def make_partials(ndims, raw=raw, log_z=log_z):
            return make_value_and_partials_fn(spec, raw, ndims, log_z=log_z)
    else:
        logp = make_logp_fn(spec, entry.weights, evidence=evidence)
    return NRELikelihood(
        spec=spec,
        kind=kind,
        logp=logp,
        path=entry.path,
        sha256=entry.sha256,
        metadata=entry.metadata,
        _make_partials=make_partials,
    )
