"""Each reference likelihood against ssm-simulators: KS distance of the per-choice rt CDFs.

    .venv/bin/python benchmarks/reference_checks.py                  # every reference, 500k trials
    .venv/bin/python benchmarks/reference_checks.py angle ornstein   # some
    .venv/bin/python benchmarks/reference_checks.py --n-trials 100000 --points 2

For each model, ``--points`` parameter vectors (a fixed central one, then draws from the
training box) are simulated ``--n-trials`` times as the training data are (boundary correction
included where the model has it) and compared with the reference's CDFs
(``hssm_nre.validation.references.ks_check``): the largest distance against the
Dvoretzky-Kiefer-Wolfowitz band at the 1 % level. The check simulates with the Euler step
``check_step`` picks (1 ms, finer for boundaries below a = 1); where that is finer than 1 ms,
a 1 ms step (the training data's, but angle's and weibull's below a = 1) is reported beside it, which shows how far the 1 ms simulator
is from its first-order (Broadie-Glasserman-Kou) description at narrow boundaries. Writes
``benchmarks/results/reference_checks.{md,json}``; naming models reruns those and keeps the
report's other rows.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from hssm_nre.config import SIM_DELTA_T, model_spec
from hssm_nre.simulate import sample_parameters
from hssm_nre.validation.references import ks_check, references

#: Which references the report covers by default: every family once (the races with 2-4 choices).
DEFAULT = ["ddm", "ddm_sdv", "full_ddm", "angle", "weibull", "ornstein", "race_no_bias_2",
           "race_no_bias_3", "race_3", "race_no_bias_4", "lba2", "lba3", "lba4"]
OUT = Path(__file__).parent / "results"


def points(model: str, k: int, seed: int) -> np.ndarray:
    spec = model_spec(model)
    lo, hi = np.asarray(spec.lower), np.asarray(spec.upper)
    centre = lo + 0.5 * (hi - lo)
    rng = np.random.default_rng(seed)
    return np.vstack([centre[None], sample_parameters(spec, k - 1, rng)])[:k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=DEFAULT)
    ap.add_argument("--n-trials", type=int, default=500_000)
    ap.add_argument("--points", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    refs = references()
    rows = []
    for m in a.models:
        for i, th in enumerate(points(m, a.points, a.seed)):
            t0 = time.perf_counter()
            r = ks_check(m, th, a.n_trials, seed=a.seed + i)
            r["seconds"] = time.perf_counter() - t0
            r["reference"] = refs[m]
            # the same check at the training data's 1 ms, where check_step chose a finer step
            r["at_1ms"] = None if r["delta_t"] == SIM_DELTA_T else ks_check(
                m, th, a.n_trials, seed=a.seed + i, delta_t=SIM_DELTA_T)
            one = r["at_1ms"] or r
            rows.append(r)
            print(f"{m:16s} dt {r['delta_t']:.2e} KS {r['ks']:.5f} band {r['band']:.5f} "
                  f"{'ok' if r['passed'] else 'OUTSIDE'} (at 1 ms {one['ks']:.5f}; excluded "
                  f"{r['excluded']:.4f}; {r['seconds']:.0f} s) theta={np.round(th, 3).tolist()}", flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    old = a.out / "reference_checks.json"
    if a.models != DEFAULT and old.exists():  # rerun some: the report keeps the other models' rows
        kept = [r for r in json.loads(old.read_text()) if r["model"] not in a.models]
        order = {m: i for i, m in enumerate(dict.fromkeys([*DEFAULT, *(r["model"] for r in kept), *a.models]))}
        rows = sorted(kept + rows, key=lambda r: order[r["model"]])  # stable: points keep their order
    md = [
        "# Reference likelihoods against ssm-simulators",
        "",
        "`.venv/bin/python benchmarks/reference_checks.py [MODEL ...]`"
        f" ({a.n_trials:,} simulated trials per parameter vector; last run {time.strftime('%Y-%m-%d')}"
        + ("" if a.models == DEFAULT else f", for {', '.join(a.models)}") + ").",
        "KS: the largest distance between the simulated and the reference per-choice rt CDFs; band: the",
        "Dvoretzky-Kiefer-Wolfowitz bound at the 1 % level (union over choices). Excluded: share of",
        "trials where the reference has no density (angle's point mass at its collapse). dt: the",
        "simulation's Euler step (`check_step`: 1 ms, times a**2 below a = 1); the last columns repeat",
        "the check at 1 ms where dt is finer (the training data's step, but angle's and weibull's below a = 1: at most dt).",
        "",
        "| model | reference | theta | dt (ms) | KS | band | inside | excluded | KS at 1 ms | inside at 1 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        one = r["at_1ms"]
        md.append(f"| {r['model']} | {r['reference']} | {np.round(r['theta'], 3).tolist()} | "
                  f"{1000 * r['delta_t']:.3g} | {r['ks']:.5f} | {r['band']:.5f} | "
                  f"{'yes' if r['passed'] else '**no**'} | {r['excluded']:.4f} | "
                  + (f"{one['ks']:.5f} | {'yes' if one['passed'] else '**no**'} |" if one else "same | |"))
    n_ok = sum(r["passed"] for r in rows)
    n_1ms = sum((r["at_1ms"] or r)["passed"] for r in rows)
    md += ["", f"{n_ok} of {len(rows)} inside the band at the check's step; {n_1ms} of {len(rows)} at 1 ms "
           f"(at the 1 % level, {len(rows)} exact references would miss {0.01 * len(rows):.1f} times on average)."]
    (a.out / "reference_checks.md").write_text("\n".join(md) + "\n")
    (a.out / "reference_checks.json").write_text(json.dumps(rows, indent=1))
    print(f"{n_ok} of {len(rows)} inside the band; wrote {a.out / 'reference_checks.md'}")


if __name__ == "__main__":
    main()
