"""Which simulation represents the continuous-time model: the recipe for issue #21, item 1.

    .venv/bin/python benchmarks/continuous_time.py            # angle, weibull, ornstein, three races; 500k trials
    .venv/bin/python benchmarks/continuous_time.py race_3     # one model: its rows replaced, the others kept

The collapsing-bound and leaky networks (angle, weibull, ornstein) were trained on ssm-simulators'
raw 1 ms Euler walk (all three are now trained on corrected data, at the fine step below a = 1),
whose boundary is checked only every step: its first-passage times are those of a continuously
monitored process with the boundary about beta sqrt(dt) further out
(Broadie-Glasserman-Kou). A user who writes down "angle" means the continuous-time model, which
PyDDM solves. At the reference checks' parameter vectors (``reference_checks.points``) this
compares, by the KS distance of the per-choice rt CDFs against PyDDM's continuous-time solution
(``ks_distance(..., delta_t=0)``; band: Dvoretzky-Kiefer-Wolfowitz at 1 %):

* **raw 1 ms**: the simulation the uncorrected networks learn;
* **corrected 1 ms**: every boundary pulled in by beta sqrt(dt), as the DDM family's training
  data are (a custom boundary b(t) - beta sqrt(dt), the start point held by adjusting z; the shift
  holds locally for a moving boundary). For the races (independent accumulators cut at 0 after
  every step, a discrete reflection that acts as a barrier beta sqrt(dt) below 0): the threshold
  lowered by 2 beta sqrt(dt) and every start point by beta sqrt(dt), the races' reference being
  the continuous-time Fokker-Planck solution of :mod:`hssm_nre.validation.fokker_planck`;
* **corrected, fine step**: the same at the training data's step (``euler_steps``: the largest
  power-of-two fraction of 1 ms at most 1 ms * a**2 below a = 1). Decision times scale as a**2,
  so the Euler steps per trial stay about what they are at a = 1.

Writes ``benchmarks/results/continuous_time.{md,json}``; rows of models not named in a run are
kept from the JSON already there (the simulations are seeded per point, so a rerun repeats them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from hssm_nre.config import FINE_STEP_MODELS, SIM_DELTA_T, model_spec
from hssm_nre.simulate import euler_steps, simulate_at
from hssm_nre.validation.references import check_step, ks_distance

from reference_checks import points

OUT = Path(__file__).parent / "results"
DEFAULT = ["angle", "weibull", "ornstein", "race_no_bias_3", "race_no_z_3", "race_3"]


def corrected(model: str, theta: np.ndarray, n: int, seed: int, delta_t: float | None):
    """``n`` trials at ``theta`` with the model's boundary (a moving one too) pulled in by
    beta sqrt(delta_t) and the start point -b(0) + 2 z b(0) held fixed, as
    :mod:`hssm_nre.simulate` simulates boundary-corrected models; ``delta_t`` None: the
    training data's step (:func:`hssm_nre.simulate.euler_steps`)."""
    spec = dataclasses.replace(model_spec(model), boundary_correction=True)
    return simulate_at(spec, theta, n, seed=seed, delta_t=delta_t)


def raw(model: str, theta: np.ndarray, n: int, seed: int):
    """``n`` trials of ssm-simulators' 1 ms walk as it is."""
    spec = dataclasses.replace(model_spec(model), boundary_correction=False)
    return simulate_at(spec, theta, n, seed=seed, delta_t=SIM_DELTA_T)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=DEFAULT)
    ap.add_argument("--n-trials", type=int, default=500_000)
    ap.add_argument("--points", type=int, default=3)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    kept = a.out / "continuous_time.json"
    rows = [r for r in json.loads(kept.read_text()) if r["model"] not in a.models] if kept.exists() else []
    for m in a.models:
        spec = dataclasses.replace(model_spec(m), boundary_correction=True)
        for i, th in enumerate(points(m, a.points, 0)):
            dt = float(euler_steps(spec, th[None])[0]) if m in FINE_STEP_MODELS else check_step(spec, th)
            r = {"model": m, "theta": th.tolist(), "fine_dt": dt}
            t0 = time.perf_counter()
            rt, ch = raw(m, th, a.n_trials, seed=i)
            r["raw_seconds"] = time.perf_counter() - t0
            r["raw"] = ks_distance(m, th, rt, ch, delta_t=0.0)
            t0 = time.perf_counter()
            sims = corrected(m, th, a.n_trials, i, SIM_DELTA_T)
            r["fine_seconds"] = time.perf_counter() - t0
            r["corrected"] = ks_distance(m, th, *sims, delta_t=0.0)
            if dt != SIM_DELTA_T:  # at a >= 1 the fine step is 1 ms: the same simulation, same seed
                t0 = time.perf_counter()
                sims = corrected(m, th, a.n_trials, i, dt)
                r["fine_seconds"] = time.perf_counter() - t0
            r["fine"] = ks_distance(m, th, *sims, delta_t=0.0)
            rows.append(r)
            print(f"{m:9s} raw {r['raw']['ks']:.5f} corrected {r['corrected']['ks']:.5f} fine ({1000 * dt:.3g} ms) "
                  f"{r['fine']['ks']:.5f} band {r['fine']['band']:.5f} theta={np.round(th, 3).tolist()}", flush=True)
    order = {m: k for k, m in enumerate(DEFAULT + a.models)}
    rows.sort(key=lambda r: order.get(r["model"], len(order)))  # stable: points keep their order
    md = [
        "# Which simulation represents the continuous-time model",
        "",
        f"`.venv/bin/python benchmarks/continuous_time.py{'' if a.models == DEFAULT else ' ' + ' '.join(a.models)}` "
        f"({a.n_trials:,} trials per cell; last run {time.strftime('%Y-%m-%d')}; rows of models not named then are "
        "kept from the previous run). KS distance of the per-choice rt CDFs "
        "from the continuous-time solution (PyDDM's; for the races, one Fokker-Planck solve per accumulator); "
        "band: Dvoretzky-Kiefer-Wolfowitz at 1 %. Raw 1 ms: what the "
        "uncorrected networks learned (angle's, weibull's, ornstein's and the races' before they were corrected). "
        "Corrected: the boundary pulled in by beta sqrt(dt), the start point held; for the races (accumulators cut "
        "at 0 every step) the threshold lowered by 2 beta sqrt(dt), the start points by beta sqrt(dt). Fine step: "
        "the training data's (at most 1 ms * a**2 below a = 1; the races keep 1 ms, their a is at least 1). "
        "Sim seconds: 2 cores, raw 1 ms / corrected at the fine step.",
        "",
        "| model | theta | raw 1 ms | corrected 1 ms | corrected, fine step (ms) | band | sim seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        def cell(k):
            return f"{r[k]['ks']:.5f}" + ("" if r[k]["passed"] else " **out**")
        md.append(f"| {r['model']} | {np.round(r['theta'], 3).tolist()} | {cell('raw')} | {cell('corrected')} | "
                  f"{cell('fine')} ({1000 * r['fine_dt']:.3g}) | {r['fine']['band']:.5f} | "
                  f"{r['raw_seconds']:.0f} / {r['fine_seconds']:.0f} |")
    inside = {k: sum(r[k]["passed"] for r in rows) for k in ("raw", "corrected", "fine")}
    md += ["", f"Inside the band: raw {inside['raw']}, corrected 1 ms {inside['corrected']}, corrected at the fine "
           f"step {inside['fine']} of {len(rows)}."]
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "continuous_time.md").write_text("\n".join(md) + "\n")
    (a.out / "continuous_time.json").write_text(json.dumps(rows, indent=1))
    print(md[-1])


if __name__ == "__main__":
    main()
