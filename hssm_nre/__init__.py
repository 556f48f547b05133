"""hssm_nre: neural ratio estimation (NRE) likelihoods for HSSM.

``import hssm_nre`` teaches ``hssm.HSSM`` the option ``loglik_kind="nre"``:
a learned single-trial log-ratio log p(x|theta) - log p(x), trained with
BayesFlow's contrastive ``RatioApproximator`` on simulations from the model's
ssm-simulators config, summed over i.i.d. trials. Installing that option is
this package's one import-time action (it wraps ``hssm.HSSM.__init__``; see
:mod:`hssm_nre.register`).
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
from .hssm import hssm_kwargs  # noqa: E402
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
