"""hssm_nre: neural ratio estimation (NRE) likelihoods for HSSM.

The likelihood of a model is a learned single-trial log-ratio log p(x|theta) - log p(x),
trained with BayesFlow's contrastive ``RatioApproximator`` on simulations from the model's
ssm-simulators config and summed over i.i.d. trials; by default (``"normalised"``) the learned
evidence log p(x) is added, which makes it a log-likelihood. Any ssm-simulators model that
:func:`model_spec` accepts can be fitted this way, including ones with no closed-form
likelihood. Networks for several models ship inside the package; others are trained with
:func:`train` (or ``hssm-nre train MODEL``) and cached (:mod:`hssm_nre.cache`).

There are three ways in:

* ``hssm.HSSM(data, model=..., loglik_kind="nre")``: ``import hssm_nre`` teaches HSSM this
  option. Installing it is this package's one import-time action (it wraps
  ``hssm.HSSM.__init__``; see :func:`install` and :mod:`hssm_nre.register`, which also lists
  the ``nre_*`` keyword arguments it adds).
* ``hssm.HSSM(data, **hssm_nre.hssm_kwargs("ddm", ...))`` (:func:`hssm_kwargs`): the same
  model through HSSM's public arguments only, with no patch of HSSM.
* Outside HSSM: :func:`loglik` returns the network's log-likelihood as a pure JAX function
  (:class:`NRELikelihood`: jit, grad and vmap as you like), and :func:`hssm_nre.pymc.NRE` is
  an observed PyMC distribution over it for plain PyMC models (``pm.Model``).

Where hssm cannot be imported (e.g. a training-only environment), importing hssm_nre issues
an ``ImportWarning`` saying that ``loglik_kind="nre"`` is not available; everything else
works. ``KERAS_BACKEND`` defaults to ``"jax"`` when unset.

:func:`find_network` says which network a model uses, :func:`validate` measures how far a
network's posteriors are from the truth (it needs the ``validation`` extra), and every failure
a caller can act on raises a typed error from :mod:`hssm_nre.errors`.

Examples
--------
Fit the DDM with its shipped network (sampling is slow: minutes):

>>> import hssm, hssm_nre
>>> model = hssm.HSSM(data=df, model="ddm", loglik_kind="nre")  # doctest: +SKIP
>>> idata = model.sample()  # doctest: +SKIP

The same model through HSSM's public API only:

>>> model = hssm.HSSM(data=df, **hssm_nre.hssm_kwargs("ddm", data=df))  # doctest: +SKIP

The likelihood as pure JAX, or in a plain PyMC model:

>>> lik = hssm_nre.loglik("ddm")
>>> lik.params
('v', 'a', 'z', 't')
>>> import pymc as pm
>>> with pm.Model():  # doctest: +SKIP
...     v, a = pm.Normal("v", 0, 1), pm.Uniform("a", 0.5, 2.0)
...     z, t = pm.Uniform("z", 0.3, 0.7), pm.Uniform("t", 0.1, 0.5)
...     hssm_nre.pymc.NRE("obs", "ddm", v=v, a=a, z=z, t=t, observed=df[["rt", "response"]])
"""

from __future__ import annotations

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "jax")

from ._version import __version__  # noqa: E402
from .cache import cache_dir, find_network, list_entries, load_entry, pin, unpin  # noqa: E402
from .config import ModelSpec, TrainSettings, available_models, model_spec  # noqa: E402
from .errors import (  # noqa: E402
    CacheCorruptedError,
    CacheEntryWarning,
    CacheMismatchError,
    CacheWriteError,
    HSSMCompatibilityError,
    InvalidDataError,
    NREWarning,
    PriorOutsideBoxWarning,
    WrongModelError,
    NetworkNotFoundError,
    NREError,
    ParameterOutOfBoundsError,
    UnknownModelError,
    UnsupportedModelError,
)
from .interrupt import TrainingInterrupted  # noqa: E402
from .likelihood import NRELikelihood, loglik  # noqa: E402
from . import pymc  # noqa: E402  (hssm_nre.pymc.NRE: the likelihood in plain PyMC models)
from .hssm import hssm_kwargs, nre_correct  # noqa: E402
from .register import NREInfo, install  # noqa: E402
from .training import train  # noqa: E402

try:
    install()
except ImportError as _e:  # training-only environments (e.g. a GPU box) may lack hssm
    import warnings as _warnings

    _warnings.warn(
        f"hssm could not be imported ({_e}); loglik_kind='nre' is not available.",
        ImportWarning,
        stacklevel=2,
    )



def __getattr__(name: str):
    # hssm_nre.validate without importing the validation subpackage (and its extra) at import
    if name == "validate":
        from .validation import validate

        return validate
    raise AttributeError(f"module 'hssm_nre' has no attribute {name!r}")


__all__ = [
    "__version__",
    "ModelSpec",
    "TrainSettings",
    "model_spec",
    "available_models",
    "train",
    "loglik",
    "NRELikelihood",
    "hssm_kwargs",
    "nre_correct",
    "validate",
    "pymc",
    "find_network",
    "load_entry",
    "list_entries",
    "cache_dir",
    "pin",
    "unpin",
    "install",
    "NREInfo",
    "NREError",
    "UnknownModelError",
    "UnsupportedModelError",
    "NetworkNotFoundError",
    "CacheCorruptedError",
    "CacheMismatchError",
    "InvalidDataError",
    "ParameterOutOfBoundsError",
    "CacheWriteError",
    "WrongModelError",
    "HSSMCompatibilityError",
    "TrainingInterrupted",
    "NREWarning",
    "CacheEntryWarning",
    "PriorOutsideBoxWarning",
]
