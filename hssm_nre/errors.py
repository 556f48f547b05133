"""Typed errors and warnings: each failure a caller can act on has its own class."""

import os
import sys
import warnings

__all__ = [
    "NREError",
    "UnknownModelError",
    "UnsupportedModelError",
    "NetworkNotFoundError",
    "CacheCorruptedError",
    "CacheMismatchError",
    "CacheWriteError",
    "WrongModelError",
    "HSSMCompatibilityError",
    "MissingExtraError",
    "InvalidDataError",
    "ParameterOutOfBoundsError",
    "NREWarning",
    "CacheEntryWarning",
    "PriorOutsideBoxWarning",
    "UnseenDataWarning",
    "ValidationWarning",
    "UnvalidatedNetworkWarning",
    "LikelihoodWarning",
    "warn",
    "require",
]


class NREError(Exception):
    """Base class of every hssm_nre error."""


class UnknownModelError(NREError, KeyError):
    """The model name is not an ssm-simulators model."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnsupportedModelError(NREError, ValueError):
    """The model exists but cannot be trained as a single-trial NRE."""


class NetworkNotFoundError(NREError, LookupError):
    """No shipped or cached network exists for the model and settings, or a folder named
    as a network does not exist."""


class CacheCorruptedError(NREError, ValueError):
    """A cache entry is unreadable or its files do not match its metadata."""


class CacheMismatchError(NREError, ValueError):
    """A cache entry was trained for a different model config or package versions."""


class WrongModelError(CacheMismatchError):
    """A network folder holds a network for another model than the one asked for."""


class HSSMCompatibilityError(NREError, RuntimeError):
    """The installed hssm lacks an internal that ``loglik_kind="nre"`` relies on."""


class MissingExtraError(NREError, ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""


def require(module: str, extra: str, purpose: str):
    """Import ``module`` of the optional extra ``extra`` (pyproject.toml), or raise
    :class:`MissingExtraError` saying what needs it and how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(
            f"{purpose} needs {module.split('.')[0]!r}, which is not installed: "
            f'pip install "hssm-nre[{extra}]".'
        ) from e


class CacheWriteError(NREError, OSError):
    """The cache cannot be written (read-only, missing, locked): checked before any training."""


class InvalidDataError(NREError, ValueError):
    """The data frame cannot be fitted: bad rt, response values or columns, or trials outside
    what the network was trained on."""


class ParameterOutOfBoundsError(NREError, ValueError):
    """A fixed parameter value lies outside the network's training box."""


class NREWarning(UserWarning):
    """Base class of hssm_nre's warnings."""


class CacheEntryWarning(NREWarning):
    """A cache entry could not be used; the message names it, why, the fix and the network
    used instead."""


class PriorOutsideBoxWarning(NREWarning):
    """A prior puts mass outside the network's training box, where HSSM truncates it."""


class UnseenDataWarning(NREWarning):
    """Trials outside what the network was trained on are scored (the user opted in)."""


class ValidationWarning(NREWarning):
    """The network in use failed its validation."""


class UnvalidatedNetworkWarning(ValidationWarning):
    """The network in use has never been validated (``hssm-nre validate``)."""


class LikelihoodWarning(NREWarning):
    """The likelihood kind asked for does not mean what it may seem to here (a ratio inside
    a lapse mixture, an exact likelihood that falls back)."""


def warn(warning: Warning) -> None:
    """Issue ``warning`` attributed to the first caller outside hssm_nre and hssm, so it
    points at the user's line (``hssm.HSSM(...)``, ``hssm_nre.train(...)``) whatever the
    call depth inside the two packages."""
    import hssm_nre

    prefixes = [os.path.dirname(hssm_nre.__file__) + os.sep]
    hssm = sys.modules.get("hssm")
    if hssm is not None and getattr(hssm, "__file__", None):
        prefixes.append(os.path.dirname(hssm.__file__) + os.sep)
    warnings.warn(warning, stacklevel=2, skip_file_prefixes=tuple(prefixes))
