"""Reference likelihoods behind one interface, for validating networks against them.

A :class:`Reference` gives the exact (or numerically exact) log-density of single trials of one
ssm-simulators model in that model's own parameter convention. Today: HSSM's analytic ``ddm``
(WFPT) and ``ddm_sdv``, and HDDM's numerical ``full_ddm`` (:mod:`hssm_nre.reference` holds the
conversions). Models without one are validated by calibration and coverage alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..reference import REFERENCE_MODELS, reference_logp

__all__ = ["Reference", "reference", "has_reference", "REFERENCES"]

#: Models with a reference, and what it is.
REFERENCES = {
    "ddm": "HSSM's analytic WFPT (Navarro & Fuss 2009)",
    "ddm_sdv": "HSSM's analytic ddm_sdv (WFPT mixed over a normal drift)",
    "full_ddm": "HDDM's numerical integration over the start point and non-decision time (hddm_wfpt)",
}
assert set(REFERENCES) == set(REFERENCE_MODELS)


@dataclass(frozen=True)
class Reference:
    """The reference log-likelihood of one model."""

    model: str
    description: str

    def logp(self, rt, response, theta) -> np.ndarray:
        """Per-trial log-density; ``theta`` (..., P) in ssm-simulators order, rt and response
        broadcast against ``theta.shape[:-1]``."""
        theta = np.asarray(theta, np.float64)
        return reference_logp(self.model, rt, response, *np.moveaxis(theta, -1, 0))

    def total_logp(self, draws: np.ndarray, data: np.ndarray, chunk: int = 2_000_000) -> np.ndarray:
        """Total log-likelihood of the trials ``data`` (n, 2) at each row of ``draws`` (S, P)."""
        draws = np.asarray(draws, np.float64)
        n = len(data)
        per = max(1, chunk // max(n, 1))
        out = []
        for s in range(0, len(draws), per):
            block = draws[s : s + per]
            lp = self.logp(data[None, :, 0], data[None, :, 1], block[:, None, :])
            out.append(lp.sum(axis=1))
        return np.concatenate(out)


def has_reference(model: str) -> bool:
    return model in REFERENCES


def reference(model: str) -> Reference:
    if model not in REFERENCES:
        raise ValueError(f"{model!r} has no reference likelihood; references: {', '.join(REFERENCES)}.")
    return Reference(model, REFERENCES[model])
