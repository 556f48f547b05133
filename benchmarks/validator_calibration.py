"""Does `hssm-nre validate`'s calibration study pass an exact likelihood? Its fits, with WFPT.

    .venv/bin/python benchmarks/validator_calibration.py          # about 8 min on 2 cores

A coverage miss or an SBC failure should mean the network is wrong, not the fits. This runs the
calibration study exactly as ``hssm-nre validate ddm`` does (its 200 datasets of 200 trials:
seed 0, the same simulator, prior, fitter and statistics), with the network replaced by the DDM's
exact likelihood: WFPT (Navarro & Fuss's small- and large-time series, written in JAX here so
the fitter's NUTS can take its gradient; checked against HSSM's ``logp_ddm`` at start-up). An
exact likelihood must pass. It is run at each NUTS budget below: the earlier default (200 draws
after 200 tuning steps) and the current one (``ValidationSettings()``).

Per budget: coverage of the central 50 / 90 / 95 % intervals per parameter, the misses by
validate's rule (below the level by more than 2.5 Monte Carlo SE), SBC ranks against the
simultaneous 99 % band, and the fewest effective draws per fit (5th percentile and median).

Writes ``benchmarks/results/validator_calibration.{md,json}``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "results"
BUDGETS = [(200, 200), None]  # (draws, tune); None: ValidationSettings()'s defaults
K_SMALL, K_LARGE = 10, 40


def wfpt_lower(t, v, a, w):
    """log density of a first passage through the lower boundary at decision time ``t`` for a
    diffusion with drift ``v``, boundary separation ``a`` and relative start ``w`` (unit noise):
    the small-time series below t / a^2 = 2, the large-time one above (either converges to
    machine precision there with these terms)."""
    import jax.numpy as jnp

    tt = (t / a**2)[..., None]
    wv = w[..., None]
    k = jnp.arange(-K_SMALL, K_SMALL + 1)
    small = jnp.sum((wv + 2 * k) * jnp.exp(-((wv + 2 * k) ** 2) / (2 * tt)), -1) / jnp.sqrt(2 * jnp.pi * tt[..., 0] ** 3)
    k = jnp.arange(1, K_LARGE + 1)
    large = jnp.pi * jnp.sum(k * jnp.exp(-(k**2) * jnp.pi**2 * tt / 2) * jnp.sin(k * jnp.pi * wv), -1)
    p = jnp.where(tt[..., 0] < 2.0, small, large)
    return jnp.log(jnp.maximum(p, 1e-300)) - v * a * w - v**2 * t / 2 - 2 * jnp.log(a)


class ExactDDM:
    """The DDM's exact likelihood in the shape validate's fitter takes (``spec``, ``sha256``,
    ``kind``, ``logp_sum``), in ssm-simulators' convention (boundaries at +-a, response 1 the upper)."""

    sha256, kind = "wfpt", "exact-wfpt"

    def __init__(self):
        from hssm_nre.config import model_spec

        self.spec = model_spec("ddm")

    def logp(self, theta, rt, response):
        import jax.numpy as jnp

        v, a, z, t = theta[0], 2.0 * theta[1], theta[2], theta[3]
        u = rt - t
        upper = response > 0
        ll = wfpt_lower(jnp.maximum(u, 1e-10), jnp.where(upper, -v, v), a, jnp.where(upper, 1 - z, z))
        return jnp.where(u > 0, ll, -1e10)  # no density before t: a wall NUTS and L-BFGS stay behind

    def logp_sum(self, theta, rt, response):
        import jax.numpy as jnp

        return jnp.sum(self.logp(theta, rt, response))


def check_against_hssm(lik: ExactDDM) -> float:
    """Largest difference from HSSM's logp_ddm over 2,000 random trials, where HSSM's value is
    above its floor for vanishing densities."""
    import jax.numpy as jnp

    from hssm_nre.reference import wfpt_logp

    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(20):
        theta = np.array([rng.uniform(lo, hi) for lo, hi in zip(lik.spec.lower, lik.spec.upper)])
        rt = theta[3] + rng.exponential(1.0, 100) + 1e-3
        resp = rng.choice([-1.0, 1.0], 100)
        mine = np.asarray(lik.logp(jnp.asarray(theta), jnp.asarray(rt), jnp.asarray(resp)))
        ref = np.asarray(wfpt_logp(rt, resp, *theta))
        ok = ref > -30
        worst = max(worst, float(np.max(np.abs(mine[ok] - ref[ok]))))
    if worst > 1e-6:
        raise SystemExit(f"the JAX WFPT differs from HSSM's logp_ddm by {worst:.2g} nats: not exact.")
    return worst


def run(lik, draws: int, tune: int, s) -> dict:
    """validate's calibration study with ``lik``: each fit summarised as validate's workers do
    (``fit_summary``), the study's statistics as validate computes them (``_calibration``)."""
    from tqdm import tqdm

    from hssm_nre.validation.fits import fitter
    from hssm_nre.validation.tasks import dataset, fit_summary
    from hssm_nre.validation.validate import _calibration

    fit = fitter(lik, s.sbc_trials, draws=draws, tune=tune)
    rows = []
    t0 = time.perf_counter()
    for i in tqdm(range(s.sbc_datasets), desc=f"{draws} draws after {tune} tuning steps"):
        d = dataset(lik.spec, s.sbc_trials, s.seed, i)
        if d is None:
            continue
        theta, data = d
        dr = fit.fit(data, seed=s.seed * 100_003 + i)  # validate's seed for dataset i
        rows.append(fit_summary(dr, theta, s.n_ranks) | {"n_ranks": min(s.n_ranks, draws)})
    cal = _calibration(lik.spec, rows, s.sbc_trials)
    return {"draws": draws, "tune": tune, "seconds": round(time.perf_counter() - t0), "misses": cal["coverage_misses"]} | {
        k: cal[k] for k in ("datasets", "coverage", "band_exceedance", "ess_q05", "ess_median")}


def markdown(results: list[dict], worst: float, params: list[str]) -> str:
    from hssm_nre.validation.calibration import LEVELS

    lines = [
        "# validate's calibration study with the exact DDM likelihood",
        "",
        f"Run {time.strftime('%Y-%m-%d')} with `.venv/bin/python benchmarks/validator_calibration.py`: the "
        "200 calibration datasets of 200 trials `hssm-nre validate ddm` fits, fitted with WFPT in place of "
        f"the network (the JAX series agrees with HSSM's logp_ddm to {worst:.1g} nats). An exact likelihood "
        "must pass; a miss here is the fits' fault.",
        "",
        "| NUTS draws / tuning | " + " | ".join(f"coverage {lv:.0%} ({', '.join(params)})" for lv in LEVELS)
        + " | misses | SBC max gap / band | effective draws per fit: 5th pct / median | seconds |",
        "|---|" + "---|" * len(LEVELS) + "---|---|---|---|",
    ]
    for r in results:
        cov = " | ".join(" ".join(f"{r['coverage'][str(lv)][p]:.2f}" for p in params) for lv in LEVELS)
        lines.append(
            f"| {r['draws']} / {r['tune']} | {cov} | {'; '.join(r['misses']) or 'none'} | "
            f"{max(r['band_exceedance'].values()):.2f} | {r['ess_q05']:.0f} / {r['ess_median']:.0f} | {r['seconds']} |"
        )
    lines += ["", "Monte Carlo SE of a coverage over 200 datasets: 0.035 at 50 %, 0.021 at 90 %, 0.015 at 95 %."]
    return "\n".join(lines) + "\n"


def main() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    from hssm_nre.validation import ValidationSettings

    s = ValidationSettings()
    lik = ExactDDM()
    worst = check_against_hssm(lik)
    results = []
    for budget in BUDGETS:
        draws, tune = budget or (s.draws, s.tune)
        results.append(run(lik, draws, tune, s))
        print(json.dumps(results[-1]), flush=True)
    text = markdown(results, worst, list(lik.spec.params))
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / "validator_calibration.md").write_text(text)
    (OUT / "validator_calibration.json").write_text(json.dumps({"wfpt_vs_hssm": worst, "runs": results}, indent=1))


if __name__ == "__main__":
    main()
