"""Does ssm-simulators honour per-trial parameters when one call simulates many parameter vectors?

    .venv/bin/python benchmarks/batch_consistency.py                 # every model, ~5 min on 2 cores
    .venv/bin/python benchmarks/batch_consistency.py --models levy,ddm

Training data are simulated one trial per parameter draw, many draws per simulator call
(:func:`hssm_nre.simulate.simulate_rows`), while datasets (recovery, the notebooks, HSSM's
posterior predictive for a flat model) are simulated at one parameter vector (:func:`hssm_nre.simulate.simulate_at`). Both must draw
from the same model. For every model this script takes two parameter vectors A and B from the
box that differ in every parameter, simulates A and B interleaved in one call (n_samples = 1 per row) and each alone
(n_samples = N), and compares, per vector, the choice proportions (two-proportion z) and the
rt distributions (two-sample Kolmogorov-Smirnov). A model is **inconsistent** when either test
is beyond its threshold (|z| > 5 or KS p < 1e-6, far beyond what 115 models x 2 vectors of
sampling noise produce); for those, each parameter is varied alone (B's value, the rest A's)
to name the parameters whose per-row values the batched call mishandles.

Writes benchmarks/results/batch_consistency.md / .json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import ks_2samp

from hssm_nre.config import available_models, model_spec
from hssm_nre.simulate import recorded, sample_parameters, simulate_at, simulate_rows

RESULTS = Path(__file__).parent / "results"
Z_MAX, KS_P_MIN = 5.0, 1e-6


def _batched(spec, theta_rows: np.ndarray, seed: int):
    """One trial per row in one call, as the training data are simulated."""
    return simulate_rows(spec, theta_rows, [slice(None)], [seed])


def _alone(spec, theta: np.ndarray, n: int, seed: int):
    """``n`` trials at one vector (``n_samples = n``), as datasets are simulated."""
    return simulate_at(spec, theta, n, seed=seed)


def _far_apart(spec, rng, n: int = 64):
    """Two draws from the box (constraints applied) that differ in every parameter: of ``n``
    draws, the pair whose smallest box-scaled difference is largest. A per-row parameter the
    batched call mishandles then shows, whichever it is."""
    th = sample_parameters(spec, n, rng)
    scaled = (th - np.asarray(spec.lower)) / (np.asarray(spec.upper) - np.asarray(spec.lower))
    gap = np.abs(scaled[:, None, :] - scaled[None, :, :]).min(-1)
    i, j = np.unravel_index(np.argmax(gap), gap.shape)
    return th[i], th[j]


def compare(spec, a: np.ndarray, b: np.ndarray, n: int, seed: int) -> dict:
    """Worst |z| and smallest KS p over the two vectors, batched (interleaved) against alone."""
    rows = np.empty((2 * n, spec.n_params))
    rows[0::2], rows[1::2] = a, b
    rt_b, ch_b = _batched(spec, rows, seed)
    worst_z, min_p = 0.0, 1.0
    for k, th in enumerate((a, b)):
        rt1, ch1 = rt_b[k::2], ch_b[k::2]
        rt2, ch2 = _alone(spec, th, n, seed + 1 + k)
        t = th[spec.params.index("t")] if spec.shift else 0.0
        m1, m2 = recorded(spec, rt1, ch1, t), recorded(spec, rt2, ch2, t)
        for c in spec.choices:
            p1, p2 = np.mean(ch1[m1] == c), np.mean(ch2[m2] == c)
            pool = (p1 * m1.sum() + p2 * m2.sum()) / (m1.sum() + m2.sum())
            se = np.sqrt(max(pool * (1 - pool), 1e-12) * (1 / m1.sum() + 1 / m2.sum()))
            worst_z = max(worst_z, abs(p1 - p2) / se if se > 0 else 0.0)
        if m1.sum() > 20 and m2.sum() > 20:
            min_p = min(min_p, ks_2samp(rt1[m1], rt2[m2]).pvalue)
    return {"z": float(worst_z), "ks_p": float(min_p)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=None, help="comma-separated names (default: every model)")
    ap.add_argument("--n", type=int, default=4000, help="trials per parameter vector")
    args = ap.parse_args()
    names = args.models.split(",") if args.models else available_models()
    rows, t_all = [], time.perf_counter()
    for i, name in enumerate(names):
        t0 = time.perf_counter()
        try:
            spec = model_spec(name)
        except Exception as e:  # refused models (deadline, choice-only, ...): no training data
            rows.append({"model": name, "status": "refused", "why": str(e).split(".")[0]})
            continue
        rng = np.random.default_rng(i)
        try:
            a, b = _far_apart(spec, rng)
            res = compare(spec, a, b, args.n, 10 * i)
            bad = res["z"] > Z_MAX or res["ks_p"] < KS_P_MIN
            culprits = []
            if bad:
                for j, p in enumerate(spec.params):
                    b_j = a.copy()
                    b_j[j] = b[j]
                    r = compare(spec, a, b_j, args.n, 10 * i + 5)
                    if r["z"] > Z_MAX or r["ks_p"] < KS_P_MIN:
                        culprits.append(p)
            rows.append({"model": name, "status": "inconsistent" if bad else "consistent", **res,
                         "params": culprits, "seconds": round(time.perf_counter() - t0, 1)})
        except Exception as e:
            rows.append({"model": name, "status": "error", "why": f"{type(e).__name__}: {e}"[:200]})
        r = rows[-1]
        print(f"[{i + 1}/{len(names)}] {name}: {r['status']} {r.get('params', '')} "
              f"({time.perf_counter() - t_all:.0f} s)", flush=True)
    RESULTS.mkdir(exist_ok=True)
    stem = "batch_consistency" if not args.models else "batch_consistency_subset"
    (RESULTS / f"{stem}.json").write_text(json.dumps(rows, indent=1))
    bad = [r for r in rows if r["status"] == "inconsistent"]
    md = ["# ssm-simulators: per-row parameters in one batched call against one parameter vector per call", "",
          f"Reproduce: `.venv/bin/python benchmarks/batch_consistency.py{' --models ' + args.models if args.models else ''}`"
          f" ({args.n:,} trials per vector; inconsistent: |z| > {Z_MAX:g} on a choice proportion or KS p < "
          f"{KS_P_MIN:g} on the rts). {len(rows)} models: "
          + ", ".join(f"{sum(r['status'] == s for r in rows)} {s}" for s in ("consistent", "inconsistent", "refused", "error"))
          + f"; {time.perf_counter() - t_all:.0f} s.", "",
          "| model | status | worst choice z | smallest KS p | parameters mishandled per row |", "|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["status"] != "inconsistent", r["status"] != "error", r["model"])):
        if r["status"] in ("consistent", "inconsistent"):
            md.append(f"| {r['model']} | {r['status']} | {r['z']:.1f} | {r['ks_p']:.2g} | {', '.join(r['params']) or '-'} |")
        else:
            md.append(f"| {r['model']} | {r['status']} | | | {r['why']} |")
    (RESULTS / f"{stem}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md[:4]))
    print("inconsistent:", [(r["model"], r["params"]) for r in bad])


if __name__ == "__main__":
    main()
