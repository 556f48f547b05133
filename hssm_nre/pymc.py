"""A PyMC distribution over a network's likelihood, for plain ``pm.Model``s.

    import pymc as pm, hssm_nre

    with pm.Model():
        v = pm.Normal("v", 0, 1)
        a = pm.Uniform("a", 0.5, 2.0)
        z = pm.Uniform("z", 0.3, 0.7)
        t = pm.Uniform("t", 0.1, 0.5)
        hssm_nre.pymc.NRE("obs", "ddm", v=v, a=a, z=z, t=t, observed=df[["rt", "response"]])
        idata = pm.sample(nuts_sampler="numpyro")   # or "pymc", "blackjax", "nutpie"

Parameters are scalars or one value per trial (a trial-wise regression is ``v=b0 + b1 * x``).
The observed value is an ``(n, 2)`` array or a data frame with ``rt`` and ``response``
columns, checked as ``hssm.HSSM(..., loglik_kind="nre")`` checks it. The likelihood is one
fused PyTensor Op (:mod:`hssm_nre._pytensor_op`): PyMC's NUTS evaluates the network once per
gradient; JAX samplers trace the same JAX function. Posterior predictive draws come from the
model's ssm-simulators simulator.
"""

from __future__ import annotations

import os

import numpy as np

from ._pytensor_op import make_logp_op
from .data import rt_limit, validate_data
from .likelihood import NRELikelihood, _from_entry, network_entry, resolve_kind

__all__ = ["NRE", "observed_array"]


def observed_array(observed, lik: NRELikelihood, *, allow_unseen_rt: bool = False) -> np.ndarray:
    """The observed data as the ``(n, 2)`` float64 array [rt, response], after the data checks.

    Parameters
    ----------
    observed : array_like or pandas.DataFrame
        An ``(n, 2)`` array of [rt, response], or a data frame with ``rt`` and ``response``
        columns.
    lik
        The likelihood the data are for (its model and its network's training range).
    allow_unseen_rt
        Accept trials slower than anything the network was trained on.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, 2)``: rt and response.

    Raises
    ------
    ValueError
        ``observed`` is an array of another shape than ``(n, 2)``.
    InvalidDataError
        The data cannot be fitted (:func:`hssm_nre.data.validate_data`): non-numeric columns,
        rt <= 0 or NaN, responses that are not the model's choices, or (unless
        ``allow_unseen_rt``) rt beyond the network's training data.
    """
    import pandas as pd

    if isinstance(observed, pd.DataFrame):
        df = observed
    else:
        arr = np.asarray(observed)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(f"observed must be an (n, 2) array of [rt, response] or a data frame; got shape {arr.shape}.")
        df = pd.DataFrame({"rt": arr[:, 0], "response": arr[:, 1]})
    limit, trained_on = rt_limit(lik.metadata)
    validate_data(lik.spec, df, rt_max=None if allow_unseen_rt else limit, trained_on=trained_on)
    return np.column_stack([df["rt"].to_numpy(np.float64), df["response"].to_numpy(np.float64)])


def NRE(
    name: str,
    model: str = "ddm",
    *,
    observed,
    weights: str | os.PathLike | None = None,
    kind: str | None = None,
    allow_unseen_rt: bool = False,
    **params,
):
    """An observed PyMC variable whose log-likelihood is ``model``'s network.

    Call it inside a ``pm.Model`` context, as any PyMC distribution. Parameters are scalars or
    one value per trial (a trial-wise regression is ``v=b0 + b1 * x``). The data are checked as
    ``hssm.HSSM(..., loglik_kind="nre")`` checks them. The log-likelihood is one fused PyTensor
    Op: PyMC's NUTS evaluates the network once per gradient; JAX samplers
    (``nuts_sampler="numpyro"``, ``"blackjax"``) trace the same JAX function. Posterior
    predictive draws come from the model's ssm-simulators simulator.

    Parameters
    ----------
    name
        The variable's name in the model.
    model
        The ssm-simulators model (its network as :func:`hssm_nre.loglik` finds it); with
        ``weights``, the model that folder's network is for.
    observed : array_like or pandas.DataFrame
        ``(n, 2)`` array of [rt, response] or a data frame with those columns.
    weights, kind
        As :func:`hssm_nre.loglik`: another network folder; ``"normalised"`` (default, unless
        the network's record names another), ``"exact"`` (scalar parameters only) or ``"ratio"``.
    allow_unseen_rt
        Score trials slower than anything the network was trained on (default:
        ``InvalidDataError``).
    **params
        One PyMC variable (or number, or per-trial vector) for each of the model's parameters,
        named as in ``hssm_nre.loglik(model).params``.

    Returns
    -------
    pytensor.tensor.TensorVariable
        The observed random variable (a ``pm.CustomDist``).

    Raises
    ------
    TypeError
        ``params`` misses one of the model's parameters or names an unknown one.
    InvalidDataError
        ``observed`` cannot be fitted (see :func:`observed_array`).
    ValueError
        ``observed`` is an array of another shape than ``(n, 2)``, ``kind`` is unknown, or
        ``kind="exact"`` with parameters that vary by trial.

    Warns
    -----
    LikelihoodWarning
        The network's record names the ``"exact"`` likelihood (e.g. lca_3) but parameters vary by
        trial: the ``"normalised"`` one is used.
    UnknownModelError, UnsupportedModelError, NetworkNotFoundError, WrongModelError
        As :func:`hssm_nre.loglik`.

    Examples
    --------
    Sampling is slow (a minute or more):

    >>> import pymc as pm, hssm_nre
    >>> with pm.Model():  # doctest: +SKIP
    ...     v = pm.Normal("v", 0, 1)
    ...     a = pm.Uniform("a", 0.5, 2.0)
    ...     z = pm.Uniform("z", 0.3, 0.7)
    ...     t = pm.Uniform("t", 0.1, 0.5)
    ...     hssm_nre.pymc.NRE("obs", "ddm", v=v, a=a, z=z, t=t, observed=df[["rt", "response"]])
    ...     idata = pm.sample(nuts_sampler="numpyro")  # or "pymc", "blackjax", "nutpie"
    """
    import pymc as pm
    import pytensor.tensor as pt

    entry = network_entry(model, weights)
    names = entry.spec.params
    missing = [p for p in names if p not in params]
    extra = sorted(set(params) - set(names))
    if missing or extra:
        raise TypeError(
            f"{entry.spec.name!r} takes parameters {list(names)}; "
            + (f"missing {missing}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"unknown {extra}" if extra else "")
            + "."
        )
    varying = [p for p in names if pt.as_tensor_variable(params[p]).ndim > 0]
    lik = _from_entry(entry, resolve_kind(entry, kind, varying, arg="kind"))
    data = observed_array(observed, lik, allow_unseen_rt=allow_unseen_rt)
    op = make_logp_op(lik.value_and_partials_fn, lik.spec.n_params, name=f"nre_{lik.spec.name}")
    dist_params = [params[p] for p in lik.params]

    def logp(value, *theta):
        return op(value, *theta)

    spec = lik.spec

    def random(*theta, rng=None, size=None):
        from .simulate import simulate_trials

        shape = tuple(size) if size is not None else np.broadcast_shapes(*(np.shape(t) for t in theta))
        rows = np.stack([np.broadcast_to(np.asarray(t, float), shape).ravel() for t in theta], axis=-1)
        seed = int(np.random.default_rng(rng).integers(0, 2**31 - 1))
        df = simulate_trials(spec.name, rows, seed=seed)
        return np.column_stack([df["rt"].to_numpy(), df["response"].to_numpy(float)]).reshape(*shape, 2)

    return pm.CustomDist(
        name,
        *dist_params,
        logp=logp,
        random=random,
        signature=",".join(["()"] * len(dist_params)) + "->(2)",
        observed=data,
    )
