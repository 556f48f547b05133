"""Validation of a network: calibration, recovery, normalisation and, where a reference
likelihood exists, fidelity to it (:func:`validate`, ``hssm-nre validate``)."""

from .references import Reference, has_reference, reference, references
from .validate import VERDICT_RULES, ValidationReport, ValidationSettings, validate

__all__ = [
    "validate",
    "ValidationSettings",
    "ValidationReport",
    "VERDICT_RULES",
    "Reference",
    "reference",
    "has_reference",
    "references",
]
