"""Typed errors and warnings: each failure a caller can act on has its own class.

Every error here derives from :class:`NREError` and also from the built-in exception it refines
(``ValueError``, ``LookupError``, ``OSError``, ...), so ``except NREError`` catches them all
while code written against the built-in types keeps working. Every warning derives from
:class:`NREWarning` (a ``UserWarning``) and is issued through :func:`warn`, which points it at
the user's own line. Messages name the problem and the fix. Outside this hierarchy: invalid
arguments raise plain ``ValueError`` / ``TypeError``, and an interrupted training raises
:class:`hssm_nre.interrupt.TrainingInterrupted` (a ``KeyboardInterrupt``).
"""

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
    "BaselineError",
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
    """The model name is not an ssm-simulators model.

    Raised by :func:`hssm_nre.config.model_spec` (and so by everything that takes a model name);
    the message lists close matches. Also a ``KeyError``, whose message is shown as written.
    """

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnsupportedModelError(NREError, ValueError):
    """The model exists but cannot be trained as a single-trial NRE.

    Raised by :func:`hssm_nre.config.model_spec` for deadline models (omissions coded as
    rt = -999), choice-only models, models whose drifts are constrained to sum to 1
    (``*_vs_constraint``), models whose parameter box depends on other parameters (which
    HSSM's bounds cannot express), and models whose rt support is shifted by something that is
    not one of their parameters.
    """


class NetworkNotFoundError(NREError, LookupError):
    """No network can be found where one was asked for.

    Raised when no shipped or cached network exists for the model
    (:func:`hssm_nre.cache.find_network`), when a folder named as a network does not exist,
    when a model built with a network's checksum (``nre_sha256``) can no longer find it, when a
    network lacks the evidence term a normalised likelihood needs, and when a path given to
    :func:`hssm_nre.cache.pin` or :func:`hssm_nre.cache.remove_entry` is not an entry of the cache.
    """


class CacheCorruptedError(NREError, ValueError):
    """A network folder is unreadable or its files do not match its metadata.

    Raised by :func:`hssm_nre.cache.load_entry` when ``metadata.json`` or ``weights.npz`` is
    missing or unreadable, the weights' checksum differs from the recorded one, or their shapes do
    not match the architecture in the metadata; also for an unknown recorded default likelihood.
    """


class CacheMismatchError(NREError, ValueError):
    """A network does not match the weight format or the model spec it is used with.

    Raised when a network folder has another weight format (format 1 names
    ``hssm-nre cache upgrade``), when it was trained for a model spec that differs from today's
    ssm-simulators config (:func:`hssm_nre.cache.load_entry`), and by
    :func:`hssm_nre.cache.upgrade_entry` for a format it cannot convert. Cache entries trained
    under other package versions are not refused with it: :func:`hssm_nre.cache.find_network`
    skips them with a :class:`CacheEntryWarning`.
    """


class WrongModelError(CacheMismatchError):
    """A network folder holds a network for another model than the one asked for.

    Raised by :func:`hssm_nre.loglik` and HSSM's ``nre_weights=`` (``weights=`` of
    :func:`hssm_nre.hssm_kwargs`) when the folder's model differs from ``model``.
    """


class HSSMCompatibilityError(NREError, RuntimeError):
    """The installed hssm lacks an internal that ``loglik_kind="nre"`` relies on.

    Raised by ``hssm.HSSM(..., loglik_kind="nre")`` when :func:`hssm_nre.register.install`
    found a missing piece; :func:`hssm_nre.hssm_kwargs` uses HSSM's public API only and still
    works.
    """


class MissingExtraError(NREError, ImportError):
    """An optional dependency is missing; the message names the extra that installs it.

    Raised by :func:`require`, before any work, e.g. by :func:`hssm_nre.validation.validate`
    without matplotlib or a reference likelihood's solver (``pip install "hssm-nre[validation]"``).
    Also an ``ImportError``.
    """


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency, or say which extra installs it.

    Parameters
    ----------
    module
        The module to import, e.g. ``"matplotlib.figure"``.
    extra
        The optional extra of ``pyproject.toml`` that installs it, e.g. ``"validation"``.
    purpose
        What needs the module, for the message (e.g. ``"The comparison plot"``).

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    MissingExtraError
        ``module`` cannot be imported; the message says what needs it and
        ``pip install "hssm-nre[<extra>]"``.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(
            f"{purpose} needs {module.split('.')[0]!r}, which is not installed: "
            f'pip install "hssm-nre[{extra}]".'
        ) from e


class CacheWriteError(NREError, OSError):
    """The cache cannot be written (read-only, missing, locked).

    Checked before any training (:func:`hssm_nre.cache.ensure_writable`), so a read-only cache
    fails in a second, not after the training; also raised when publishing, pinning, unpinning,
    rewriting or removing an entry fails, or another process holds an entry's lock too long.
    """


class InvalidDataError(NREError, ValueError):
    """The data cannot be fitted by the network.

    Raised before any expensive work (:func:`hssm_nre.data.validate_data`) for data that is not
    a data frame, lacks the rt / response columns or has non-numeric ones, has rt <= 0 or NaN,
    responses that are not the model's choices, or trials slower than anything the network was
    trained on (unless ``nre_allow_unseen_rt=True``); also when ``choices`` given to HSSM differ
    from the simulator's.
    """


class ParameterOutOfBoundsError(NREError, ValueError):
    """A parameter setting reaches outside the network's training box.

    Raised when a fixed parameter value lies outside the box, or when ``bounds`` given to HSSM
    would widen the box (they may only narrow it).
    """


class BaselineError(NREError, ValueError):
    """The baseline likelihood given to :func:`hssm_nre.validate` cannot be used.

    Raised before any fit when the file is missing, is not an ONNX network, or takes inputs of
    another width than the model's parameters plus rt and response.
    """


class NREWarning(UserWarning):
    """Base class of hssm_nre's warnings.

    Also issued itself, e.g. by :func:`hssm_nre.simulate.simulate_dataset` when fewer trials
    than asked for ended before ``max_t``.
    """


class CacheEntryWarning(NREWarning):
    """A cache entry could not be used.

    Issued by :func:`hssm_nre.cache.find_network` for entries that are damaged, were trained
    under other package versions or another model spec, or a pinned entry that is gone; the
    message names each, why, the fix and the network used instead.
    """


class PriorOutsideBoxWarning(NREWarning):
    """A prior puts mass outside the network's training box, where HSSM truncates it.

    Issued when a parameter's prior puts more than ``hssm_nre.hssm.PRIOR_MASS_TOL`` of its mass
    outside the box (:func:`hssm_nre.hssm.warn_priors_outside_box`).
    """


class UnseenDataWarning(NREWarning):
    """Trials outside what the network was trained on are scored (the user opted in).

    Issued with ``nre_allow_unseen_rt=True`` when some rt exceed the network's training range.
    """


class ValidationWarning(NREWarning):
    """The network in use failed its validation.

    Issued when a model is built on a network whose recorded validation status is "failed";
    the message names its record and how to train a larger network.
    """


class UnvalidatedNetworkWarning(ValidationWarning):
    """The network in use has never been validated (``hssm-nre validate``).

    Issued when a model is built on a network without a validation record.
    """


class LikelihoodWarning(NREWarning):
    """The likelihood kind asked for does not mean what it may seem to here.

    Issued for a likelihood *ratio* inside a lapse mixture (``nre_likelihood="ratio"`` with
    ``p_outlier != 0``), and when a network's default exact likelihood falls back to the
    normalised one because parameters vary by trial.
    """


def warn(warning: Warning) -> None:
    """Issue a warning attributed to the first caller outside hssm_nre and hssm.

    The warning then points at the user's line (``hssm.HSSM(...)``, ``hssm_nre.train(...)``)
    whatever the call depth inside the two packages.

    Parameters
    ----------
    warning
        The warning instance to issue (usually an :class:`NREWarning`).
    """
    import hssm_nre

    prefixes = [os.path.dirname(hssm_nre.__file__) + os.sep]
    hssm = sys.modules.get("hssm")
    if hssm is not None and getattr(hssm, "__file__", None):
        prefixes.append(os.path.dirname(hssm.__file__) + os.sep)
    warnings.warn(warning, stacklevel=2, skip_file_prefixes=tuple(prefixes))
