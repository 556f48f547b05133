"""The network's feature sets (generic, generic + leading edge, DDM scaling), against a reference likelihood.

    .venv/bin/python benchmarks/feature_ablation.py                       # ddm_sdv, CPU budget below, ~2 x 8 min
    .venv/bin/python benchmarks/feature_ablation.py --model full_ddm      # against HDDM's numerical full_ddm

The generic networks (every model but the DDM) were miscalibrated in the issue-5 validation, with
the per-trial error against HSSM's analytic ddm_sdv concentrated just after the support edge
(u < 0.05 s). This trains one network per feature set the model can take (``config.FEATURE_SETS``:
generic, generic + ``edge_features``, and for ddm_sdv the DDM's ``ddm_scaling`` with the Wald head mixed
over the drift) with the same data, seed and budget, and measures each against the
reference likelihood (``reference.REFERENCE_MODELS``): per-trial error over the box and the
MCMC-free predicted posterior shift at N = 1,000 and 5,000 (``reference.predicted_posterior_shift``).
Writes benchmarks/results/feature_ablation_<model>.md / .json. Nothing here is shipped.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from hssm_nre.architecture import support_edge
from hssm_nre.config import TrainSettings, model_spec
from hssm_nre.likelihood import make_batched_log_ratio_fn
from hssm_nre.reference import REFERENCE_MODELS, identified_shift, per_trial_error
from hssm_nre.training import train

from fidelity import EXTRA_TRUTH, TRUTH

RESULTS = Path(__file__).parent / "results"
#: Row labels of the feature sets (``config.FEATURE_SETS``).
LABELS = {"generic": "generic", "edge": "generic + edge", "scaling": "DDM scaling"}
#: Where the posterior shift is predicted: the fidelity benchmark's truth per model.
THETA_STAR = {m: tuple((TRUTH | EXTRA_TRUTH[m])[p] for p in model_spec(m).params) for m in ("ddm_sdv", "full_ddm")}


def measure(spec, weights, store: dict, label: str, theta_star) -> tuple[float, float, float, float, float]:
    """Error median, p90, median where u < 0.05 s, worst predicted shift at N = 1,000 and 5,000."""
    f = make_batched_log_ratio_fn(spec, weights)
    err = per_trial_error(spec, f, n_x=400, n_theta=200, seed=11)
    shift = identified_shift(spec, f, theta_star, n_trials=(1000, 5000))
    worst = shift["identified_worst"]
    u_edge = (err["rt"][:, None] - support_edge(spec, err["theta"])) < 0.05
    edge_med = float(np.median(err["err"][np.isfinite(err["err"]) & u_edge]))
    store[label] = {"median": err["median"], "p90": err["p90"], "excluded": err["excluded"],
                    "median_u_below_0.05": edge_med,
                    "shift_sd": shift["shift_sd"],
                    "weak_fixed": shift["weak_fixed"] and shift["weak_fixed"]["fixed"],
                    "identified_shift_sd": (shift["weak_fixed"] or shift)["shift_sd"]}
    return err["median"], err["p90"], edge_med, worst[1000], worst[5000]


def kept_rows(model: str, settings: TrainSettings, labels: list[str]) -> tuple[list[tuple], dict]:
    """Rows and JSON entries of ``labels`` from the committed report, which must be for the same budget."""
    old = json.loads((RESULTS / f"feature_ablation_{model}.json").read_text())
    if old["settings"] != settings.to_dict():
        raise SystemExit(f"the committed feature_ablation_{model} report has another budget: rerun every feature set")
    lines = (RESULTS / f"feature_ablation_{model}.md").read_text().splitlines()
    rows = []
    for label in labels:
        cells = next(ln for ln in lines if ln.startswith(f"| {label} |")).strip("|").split("|")
        rows.append((label, *(float(c) for c in cells[1:])))
    return rows, {label: old["variants"][label] for label in labels}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="ddm_sdv", choices=sorted(THETA_STAR))
    ap.add_argument("--n-simulations", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=5_000)
    ap.add_argument("--batch-size", type=int, default=1_024)
    ap.add_argument("--features", default=None,
                    help="comma-separated feature sets to (re)train, e.g. scaling; the other rows are kept from "
                    "the existing report, which must have the same budget (default: every set the model can take)")
    args = ap.parse_args()
    base = model_spec(args.model)
    variants = []
    for features, label in LABELS.items():
        try:
            variants.append((label, base.with_features(features)))
        except ValueError:  # a feature set this model cannot take
            pass
    settings = TrainSettings(n_simulations=args.n_simulations, steps=args.steps, batch_size=args.batch_size)
    rows, out = [], {"model": args.model, "settings": settings.to_dict(), "machine": platform.node(), "variants": {}}
    if args.features:
        wanted = set(args.features.split(","))
        if not wanted <= {spec.features for _, spec in variants}:
            ap.error(f"--features: {args.model} takes {[spec.features for _, spec in variants]}")
        rows, out["variants"] = kept_rows(args.model, settings, [label for label, spec in variants
                                                                 if spec.features not in wanted])
        variants = [(label, spec) for label, spec in variants if spec.features in wanted]
    with tempfile.TemporaryDirectory() as tmp:
        for label, spec in variants:
            t0 = time.perf_counter()
            entry = train(spec, settings, root=Path(tmp) / spec.features, progress=False)
            secs = time.perf_counter() - t0
            rows.append((label, *measure(spec, entry.weights, out["variants"], label, THETA_STAR[args.model]), secs))
            print(rows[-1], flush=True)
    order = list(LABELS.values())
    rows.sort(key=lambda r: order.index(r[0]))
    n_kept, n_trained = len(rows) - len(variants), len(rows)
    from hssm_nre.cache import shipped_dir, load_entry

    if (shipped_dir() / args.model / "metadata.json").is_file():
        shipped = load_entry(shipped_dir() / args.model)
        label = f"shipped ({LABELS[shipped.spec.features]}, {shipped.settings.n_simulations:,} simulations, {shipped.metadata.get('steps_run', shipped.settings.steps):,} steps of {shipped.settings.batch_size:,})"
        rows.append((label, *measure(shipped.spec, shipped.weights, out["variants"], label, THETA_STAR[args.model]), float("nan")))
    md = [f"# Feature ablation: {args.model}", "",
          f"{n_trained} networks trained on the same {settings.n_simulations:,} simulations (seed 0), {settings.steps:,} steps "
          f"of batch {settings.batch_size:,}, K = 8, on {platform.node()} (2 CPU cores, shared with other runs: "
          f"seconds are indicative). Error against the reference likelihood ({REFERENCE_MODELS[args.model]}) over the training box "
          "(400 x 200 (theta, x) pairs, differences over theta at fixed x); predicted posterior-mean shift "
          f"at theta* = {THETA_STAR[args.model]} in posterior SDs (worst parameter; weakly identified parameters, "
          "whose posterior SD at N = 1,000 is at least half their prior SD, held at the truth: "
          "`reference.identified_shift`). Reproduce: "
          f"`.venv/bin/python benchmarks/feature_ablation.py --model {args.model} --n-simulations {settings.n_simulations} "
          f"--steps {settings.steps} --batch-size {settings.batch_size}`. A `shipped` row, where there is one: the "
          "shipped network measured the same way."
          + (f" Rows {', '.join(r[0] for r in rows[:n_trained] if r[0] not in dict(variants))} were kept "
             "from an earlier run of the same budget and code path (`--features` names the sets rerun)."
             if n_kept else ""), "",
          "| features | error median | error p90 | median where u < 0.05 s | shift @ N = 1,000 | shift @ N = 5,000 | seconds |",
          "|---|---|---|---|---|---|---|"]
    md += [f"| {r[0]} | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.2f} | {r[5]:.2f} | {r[6]:.0f} |" for r in rows]
    held = {k: v["weak_fixed"] for k, v in out["variants"].items() if v.get("weak_fixed")}
    if held:
        md += ["", "Held at the truth in the shift prediction (posterior SD at N = 1,000 at least half the prior SD): "
               + "; ".join(f"{k}: {', '.join(v)}" for k, v in held.items()) + "."]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"feature_ablation_{args.model}.md").write_text("\n".join(md) + "\n")
    (RESULTS / f"feature_ablation_{args.model}.json").write_text(json.dumps(out, indent=1, default=str))
    print("\n".join(md))


if __name__ == "__main__":
    main()
