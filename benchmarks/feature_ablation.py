"""Generic features with and without the leading-edge term, on ddm_sdv against its analytic likelihood.

    .venv/bin/python benchmarks/feature_ablation.py                       # CPU budget below, ~2 x 8 min
    .venv/bin/python benchmarks/feature_ablation.py --n-simulations 1000000 --steps 5000

The generic networks (every model but the DDM) were miscalibrated in the issue-5 validation, with
the per-trial error against HSSM's analytic ddm_sdv concentrated just after the support edge
(u < 0.05 s). This trains two ddm_sdv networks with the same data, seed and budget, the current
generic features and generic + ``edge_features`` (config.ModelSpec), and measures each against the
analytic likelihood: per-trial error over the box and the MCMC-free predicted posterior shift at
N = 1,000 and 5,000 (``reference.predicted_posterior_shift``). Writes
benchmarks/results/feature_ablation.md / .json. Nothing here is shipped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from hssm_nre.architecture import support_edge
from hssm_nre.config import TrainSettings, model_spec
from hssm_nre.likelihood import make_batched_log_ratio_fn
from hssm_nre.reference import per_trial_error, predicted_posterior_shift
from hssm_nre.training import train

RESULTS = Path(__file__).parent / "results"
THETA_STAR = (0.5, 1.2, 0.5, 0.3, 1.0)  # v, a, z, t, sv (the fidelity benchmark's truth)


def measure(spec, weights, store: dict, label: str) -> tuple[float, float, float, float, float]:
    """Error median, p90, median where u < 0.05 s, worst predicted shift at N = 1,000 and 5,000."""
    f = make_batched_log_ratio_fn(spec, weights)
    err = per_trial_error(spec, f, n_x=400, n_theta=200, seed=11)
    shift = predicted_posterior_shift(spec, f, THETA_STAR, n_trials=(1000, 5000))
    worst = {n: max(abs(v) for v in d.values()) for n, d in shift["shift_sd"].items()}
    u_edge = (err["rt"][:, None] - support_edge(spec, err["theta"])) < 0.05
    edge_med = float(np.median(err["err"][np.isfinite(err["err"]) & u_edge]))
    store[label] = {"median": err["median"], "p90": err["p90"], "median_u_below_0.05": edge_med,
                    "shift_sd": shift["shift_sd"]}
    return err["median"], err["p90"], edge_med, worst[1000], worst[5000]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="ddm_sdv")
    ap.add_argument("--n-simulations", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=5_000)
    ap.add_argument("--batch-size", type=int, default=1_024)
    args = ap.parse_args()
    base = model_spec(args.model)
    settings = TrainSettings(n_simulations=args.n_simulations, steps=args.steps, batch_size=args.batch_size)
    rows, out = [], {"model": args.model, "settings": settings.to_dict(), "machine": platform.node(), "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for label, spec in (("generic", base), ("generic + edge", dataclasses.replace(base, edge_features=True))):
            t0 = time.perf_counter()
            entry = train(spec, settings, root=Path(tmp) / label.replace(" + ", "_"), progress=False)
            secs = time.perf_counter() - t0
            rows.append((label, *measure(spec, entry.weights, out["variants"], label), secs))
            print(rows[-1], flush=True)
    from hssm_nre.cache import find_network

    shipped = find_network(args.model)
    if shipped.source == "shipped":
        label = "shipped (generic, GPU budget)"
        rows.append((label, *measure(shipped.spec, shipped.weights, out["variants"], label), float("nan")))
    md = [f"# Feature ablation: {args.model}", "",
          f"Two networks trained on the same {settings.n_simulations:,} simulations (seed 0), {settings.steps:,} steps "
          f"of batch {settings.batch_size:,}, K = 8, on {platform.node()} (2 CPU cores, shared with other runs: "
          "seconds are indicative). Error against HSSM's analytic likelihood over the training box "
          "(400 x 200 (theta, x) pairs, differences over theta at fixed x); predicted posterior-mean shift "
          f"at theta* = {THETA_STAR} in posterior SDs (worst parameter). Reproduce: "
          f"`.venv/bin/python benchmarks/feature_ablation.py --n-simulations {settings.n_simulations} "
          f"--steps {settings.steps} --batch-size {settings.batch_size}`. Last row: the shipped network "
          "(generic features, GPU budget) measured the same way.", "",
          "| features | error median | error p90 | median where u < 0.05 s | shift @ N = 1,000 | shift @ N = 5,000 | seconds |",
          "|---|---|---|---|---|---|---|"]
    md += [f"| {r[0]} | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.2f} | {r[5]:.2f} | {r[6]:.0f} |" for r in rows]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "feature_ablation.md").write_text("\n".join(md) + "\n")
    (RESULTS / "feature_ablation.json").write_text(json.dumps(out, indent=1, default=str))
    print("\n".join(md))


if __name__ == "__main__":
    main()
