"""Typed errors: each failure a caller can act on has its own class."""

__all__ = [
    "NREError",
    "UnknownModelError",
    "UnsupportedModelError",
    "NetworkNotFoundError",
    "CacheCorruptedError",
    "CacheMismatchError",
    "InvalidDataError",
    "ParameterOutOfBoundsError",
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
    """No shipped or cached network exists for the model and settings."""


class CacheCorruptedError(NREError, ValueError):
    """A cache entry is unreadable or its files do not match its metadata."""


class CacheMismatchError(NREError, ValueError):
    """A cache entry was trained for a different model config or package versions."""


class InvalidDataError(NREError, ValueError):
    """The data frame cannot be fitted: bad rt, response values or columns."""


class ParameterOutOfBoundsError(NREError, ValueError):
    """A fixed parameter value lies outside the network's training box."""
