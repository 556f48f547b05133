"""The closed-form likelihood of ssm-simulators' linear ballistic accumulators (``lba2``-``lba4``).

ssm-simulators' ``lba_vanilla`` draws, per accumulator, a start point ``z ~ U(0, A)`` and a
drift ``|N(v_i, s)|`` with ``s = 0.1`` (``sigma_noise``'s default for the LBA family), and
the response is the first accumulator to reach ``b`` (no non-decision time). The drifts are
folded, not truncated: every accumulator finishes. The density of a folded drift on x > 0 is
that of ``N(v, s)`` plus that of ``N(-v, s)``, so each accumulator's finishing-time density
and CDF are Brown & Heathcote's (2008) standard ones at ``v`` plus those at ``-v``, and

    p(choice i, rt) = f_i(rt) * prod_{j != i} (1 - F_j(rt)).

HSSM's analytic ``lba2`` / ``lba3`` are the textbook LBA (negative drifts never finish; the
likelihood is conditioned on one positive drift): a different model from the simulator's
wherever ``v / s`` is small, as it is across much of ssm-simulators' box (``v0`` from 0).
"""

from __future__ import annotations

from functools import cache

import numpy as np

__all__ = ["LBA_FLOOR", "LBA_SD", "lba_logp", "lba_models"]

#: ssm-simulators' drift SD for the LBA family (``simulator(..., sigma_noise=None)``).
LBA_SD = 0.1
#: Below this log-density the closed form loses its digits to cancellation (the density is a
#: difference of O(v / A) terms): per-trial comparisons leave such points out.
LBA_FLOOR = -25.0
#: ``A`` is floored here: the closed form divides by it (its A -> 0 limit is smooth).
_A_MIN = 1e-7


@cache
def lba_models() -> dict[str, str]:
    """ssm-simulators' LBA models with this closed form, and what it is.

    Every model simulated by ``lba_vanilla`` with parameters ``A, b, v0, ..., v{K-1}`` (today
    ``lba2``, ``lba3``, ``lba4``); the ``*_vs_constraint`` and angle variants are not wired in.
    Cached: do not modify the returned dict.
    """
    import ssms

    out = {}
    for name, cfg in ssms.config.model_config.items():
        k = int(cfg.get("nchoices", 0) or 0)
        sim = getattr(cfg.get("simulator"), "__name__", "")
        if sim == "lba_vanilla" and tuple(cfg["params"]) == ("A", "b", *(f"v{i}" for i in range(k))):
            out[name] = "closed form (Brown & Heathcote 2008) with ssm-simulators' folded drifts abs(N(v, 0.1))"
    return out


def _standard(t, A, b, v, s):
    """Brown & Heathcote's finishing-time density and (defective) CDF of one accumulator whose
    drift is N(v, s), counting positive drifts only."""
    from scipy.special import ndtr

    ts = t * s
    g, h = (b - A - t * v) / ts, (b - t * v) / ts
    pg, ph = np.exp(-0.5 * g * g) / np.sqrt(2 * np.pi), np.exp(-0.5 * h * h) / np.sqrt(2 * np.pi)
    cg, ch = ndtr(g), ndtr(h)
    f = (-v * cg + s * pg + v * ch - s * ph) / A
    F = 1.0 + ((b - A - t * v) * cg - (b - t * v) * ch + ts * (pg - ph)) / A
    return f, F


def lba_logp(rt, response, theta, s: float = LBA_SD) -> np.ndarray:
    """Per-trial log-density of ssm-simulators' LBA.

    Parameters
    ----------
    rt, response
        Response times (seconds) and responses (0 .. K-1), broadcast against ``theta.shape[:-1]``.
    theta
        Parameter vectors ``(A, b, v0, ..., v{K-1})``, shape ``(..., 2 + K)``.
    s
        The drift SD.

    Returns
    -------
    numpy.ndarray
        The log-densities, of the broadcast shape: ``-inf`` for rt <= 0, a response outside
        0 .. K-1 or ``b < A`` (outside the model: ssm-simulators swaps them when sampling).
    """
    theta = np.asarray(theta, np.float64)
    k = theta.shape[-1] - 2
    shape = np.broadcast_shapes(np.shape(rt), np.shape(response), theta.shape[:-1])
    rt = np.broadcast_to(np.asarray(rt, np.float64), shape)
    c = np.broadcast_to(np.asarray(response), shape).astype(np.int64)
    theta = np.broadcast_to(theta, (*shape, k + 2))
    A = np.maximum(theta[..., 0], _A_MIN)[..., None]
    b, v = theta[..., 1][..., None], theta[..., 2:]
    t = np.where(rt > 0, rt, 1.0)[..., None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        f_pos, F_pos = _standard(t, A, b, v, s)
        f_neg, F_neg = _standard(t, A, b, -v, s)
        f = f_pos + f_neg
        surv = 1.0 - (F_pos + F_neg)
        log_f = np.log(np.maximum(f, 0.0))
        log_s = np.log(np.clip(surv, 0.0, 1.0))
    valid = (rt > 0) & (c >= 0) & (c < k) & (theta[..., 1] >= theta[..., 0])
    ci = np.clip(c, 0, k - 1)[..., None]
    others = np.where(np.arange(k) != ci, log_s, 0.0).sum(-1)
    out = np.take_along_axis(log_f, ci, -1)[..., 0] + others
    return np.where(valid, out, -np.inf)
