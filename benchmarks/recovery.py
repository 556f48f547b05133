"""Parameter recovery and coverage of an NRE model over many simulated datasets.

    .venv/bin/python benchmarks/recovery.py angle                 # 40 datasets x 300 trials
    .venv/bin/python benchmarks/recovery.py angle --datasets 100 --trials 500
    .venv/bin/python benchmarks/recovery.py race_no_bias_3 --lan ../shared/anchors/race_3_no_bias_lan_no_batch.onnx

Each dataset's parameters are drawn from the prior the fit uses (uniform over the network's
training box, so central-interval coverage is exact for the true posterior and any under-coverage
is the likelihood's fault), then ``n_trials`` trials are simulated with ssm-simulators and fitted
with ``hssm.HSSM(model=NAME, loglik_kind="nre", p_outlier=0)`` (numpyro, 1 chain x (400 + 400)).
With ``--lan``, the same datasets are fitted with that LAN (HSSM's approx_differentiable) beside it;
``--lan-from`` takes the LAN's results from an earlier report's JSON instead, once the datasets
are checked to be the same (a new network for a model, same seeds: the LAN fits would not change).

Reports per parameter: correlation of posterior mean with truth, RMSE / prior SD (how much the
data taught), posterior SD / prior SD, and coverage of central 50 / 90 / 95 % intervals with its
Monte Carlo SE. Writes benchmarks/results/recovery_<model>.md / .json and a truth-vs-estimate PNG.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import hssm
from hssm_nre.cache import find_network, load_entry
from hssm_nre.compare import _flat_draws, uniform_box_include
from hssm_nre.simulate import simulate_dataset
from hssm_nre.simulate import sample_parameters

from _report import coverage_misses, recovery_table

RESULTS = Path(__file__).parent / "results"
LEVELS = (0.5, 0.9, 0.95)


def _fit(df, model, kind, spec, weights, seed, draws, tune, lan=None, likelihood="normalised"):
    include = uniform_box_include(spec)
    if kind == "nre":
        m = hssm.HSSM(data=df, model=model, loglik_kind="nre", nre_weights=weights, include=include, p_outlier=0,
                      nre_likelihood=likelihood)
    else:
        mc = {"list_params": list(spec.params), "bounds": spec.bounds, "backend": "jax"}
        m = hssm.HSSM(data=df, model=model, loglik_kind="approx_differentiable", loglik=str(lan),
                      include=include, p_outlier=0, model_config=mc)
    t0 = time.perf_counter()
    idata = m.sample(draws=draws, tune=tune, chains=1, progressbar=False, random_seed=seed)
    return _flat_draws(idata), time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--weights", default=None, help="network folder (default: the one HSSM would use)")
    ap.add_argument("--datasets", type=int, default=40)
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--tune", type=int, default=400)
    ap.add_argument("--likelihood", default="normalised", choices=("normalised", "exact"),
                    help="the NRE likelihood (nre_likelihood): the fitted normaliser, or log Z by quadrature per theta")
    ap.add_argument("--tag", default=None, help="write recovery_<model>_<tag>.* instead of recovery_<model>.*")
    ap.add_argument("--checkpoint", default=None, metavar="JSONL",
                    help="append each fit here and reuse the fits already there (same model, likelihood, "
                         "dataset and true parameters): an interrupted run resumes, and shards share it")
    ap.add_argument("--shard", default=None, metavar="I/N",
                    help="fit only the datasets d with d %% N == I (with --checkpoint; run the shards side "
                         "by side, then once without --shard to write the report from the checkpoint)")
    ap.add_argument("--lan", default=None, help="an ONNX LAN for the same model, fitted beside the NRE")
    ap.add_argument("--lan-from", default=None, metavar="JSON",
                    help="an earlier recovery JSON of this model whose LAN results to show beside the NRE "
                         "(its datasets must be these: same count, trials and true parameters)")
    args = ap.parse_args()
    if args.lan and args.lan_from:
        ap.error("--lan fits the LAN, --lan-from reuses earlier LAN fits: give one of them")
    prev = json.loads(Path(args.lan_from).read_text()) if args.lan_from else None
    if prev is not None and ("lan" not in prev["kinds"] or (prev["datasets"], prev["trials"]) != (args.datasets, args.trials)):
        ap.error(f"--lan-from {args.lan_from}: it needs LAN results over {args.datasets} datasets x {args.trials} trials")
    entry = load_entry(args.weights) if args.weights else find_network(args.model)
    spec = entry.spec
    kinds = ["nre"] + (["lan"] if args.lan else [])
    rng = np.random.default_rng(123)
    lo, hi = np.asarray(spec.lower), np.asarray(spec.upper)
    truth, est = [], {k: {"mean": [], "sd": [], "hits": {lv: [] for lv in LEVELS}, "seconds": []} for k in kinds}
    thetas = [sample_parameters(spec, 1, rng)[0] for _ in range(args.datasets)]  # the same draws, in order
    if prev is not None:
        same = prev["model"] == spec.name and np.allclose(np.asarray(prev["truth"]), np.asarray(thetas), rtol=0, atol=1e-9)
        if not same or any(prev.get(k, v) != v for k, v in (("draws", args.draws), ("tune", args.tune))):
            raise SystemExit(f"--lan-from {args.lan_from}: its datasets or sampler settings are not these "
                             "(model, true parameters, draws, tune)")
    if args.shard and not args.checkpoint:
        ap.error("--shard needs --checkpoint (the shards' fits meet there)")
    shard = tuple(int(x) for x in args.shard.split("/")) if args.shard else None
    if shard is not None and not 0 <= shard[0] < shard[1]:
        ap.error(f"--shard {args.shard}: I must be in 0..N-1")
    network = entry.metadata.get("weights_sha256", str(entry.path))  # fits of another network are not reused

    def _key(model, likelihood, kind, d, rec_network, lan):
        return (model, likelihood, kind, d, args.trials, args.draws, args.tune, rec_network, lan)

    done = {}
    if args.checkpoint and Path(args.checkpoint).is_file():
        for line in Path(args.checkpoint).read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by an interruption: that fit is redone
                continue
            if (rec["trials"], rec["draws"], rec["tune"]) == (args.trials, args.draws, args.tune):
                done[_key(rec["model"], rec["likelihood"], rec["kind"], rec["dataset"], rec.get("network"),
                          rec.get("lan"))] = rec
    t_all = time.perf_counter()
    missing = 0
    for d in range(args.datasets):
        theta = thetas[d]
        truth.append(theta)
        df = None
        for k in kinds:
            rec = done.get(_key(spec.name, args.likelihood, k, d, network, args.lan if k == "lan" else None))
            if rec is not None and np.allclose(rec["theta"], theta, rtol=0, atol=1e-9):
                pass
            elif shard is not None and d % shard[1] != shard[0]:
                missing += 1
                continue
            else:
                if df is None:
                    df = simulate_dataset(spec.name, args.trials, theta=dict(zip(spec.params, theta.tolist())),
                                          seed=1000 + d)
                dr, secs = _fit(df, args.model, k, spec, str(entry.path), d, args.draws, args.tune, args.lan,
                                args.likelihood)
                x = np.column_stack([dr[p] for p in spec.params])
                rec = {"model": spec.name, "likelihood": args.likelihood, "kind": k, "dataset": d,
                       "network": network, "lan": args.lan if k == "lan" else None, "shards": shard[1] if shard else 1,
                       "trials": args.trials, "draws": args.draws, "tune": args.tune, "theta": theta.tolist(),
                       "mean": x.mean(0).tolist(), "sd": x.std(0).tolist(), "seconds": secs,
                       "hits": {str(lv): [bool(h) for h in (np.quantile(x, (1 - lv) / 2, axis=0) <= theta)
                                          & (theta <= np.quantile(x, 1 - (1 - lv) / 2, axis=0))] for lv in LEVELS}}
                if args.checkpoint:
                    with open(args.checkpoint, "a") as fh:
                        fh.write(json.dumps(rec) + "\n")
            est[k]["mean"].append(np.asarray(rec["mean"]))
            est[k]["sd"].append(np.asarray(rec["sd"]))
            est[k]["seconds"].append(rec["seconds"])
            est[k].setdefault("shards", set()).add(rec.get("shards", 1))
            for lv in LEVELS:
                est[k]["hits"][lv].append(np.asarray(rec["hits"][str(lv)]))
        print(f"dataset {d + 1}/{args.datasets} done ({time.perf_counter() - t_all:.0f} s)", flush=True)
    if missing:
        print(f"shard {args.shard} done; {missing} fits belong to other shards: run again without --shard "
              "to write the report")
        return
    truth = np.asarray(truth)
    if prev is not None:
        kinds.append("lan")
        est["lan"] = {"mean": prev["kinds"]["lan"]["mean"], "sd": prev["kinds"]["lan"]["sd"]}
    prior_sd = (hi - lo) / np.sqrt(12)
    md = [f"# Recovery and coverage: {spec.name}", "",
          f"Network: `{entry.metadata.get('reproduce')}` ({entry.source}). {args.datasets} datasets x {args.trials} trials, "
          f"parameters drawn from the fit's prior (uniform over the training box); numpyro 1 x ({args.tune} + {args.draws}), "
          f"p_outlier = 0. Machine: {platform.node()}. Reproduce: `.venv/bin/python benchmarks/recovery.py {args.model}"
          f"{' --weights ' + args.weights if args.weights else ''}"
          f"{' --likelihood ' + args.likelihood if args.likelihood != 'normalised' else ''}"
          f"{' --tag ' + args.tag if args.tag else ''}"
          f"{' --lan ' + args.lan if args.lan else ''}{' --lan-from ' + args.lan_from if args.lan_from else ''}"
          f" --datasets {args.datasets} --trials {args.trials}`."
          + (f" LAN results taken from `{args.lan_from}` (the same {args.datasets} datasets, checked)." if prev else ""), ""]
    out = {"model": spec.name, "network": str(entry.path), "datasets": args.datasets, "trials": args.trials,
           "draws": args.draws, "tune": args.tune, "likelihood": args.likelihood, "lan": args.lan or (prev or {}).get("lan"), "kinds": {}}
    n = args.datasets
    for k in kinds:
        if k == "lan" and prev is not None:
            out["kinds"][k] = res = prev["kinds"]["lan"]
            md += [f"## LAN (median fit {res['median_seconds']:.1f} s)", ""]
            md += recovery_table(res, spec.params, n)
            md += ["", "Under-coverage beyond 2 MC SE: "
                   + (", ".join(f"{p} at {float(lv):.0%} ({c:.2f})" for p, lv, c in res["under_coverage"]) or "none") + ".", ""]
            continue
        mean, sd = np.asarray(est[k]["mean"]), np.asarray(est[k]["sd"])
        cov = {lv: np.asarray(est[k]["hits"][lv]).mean(0) for lv in LEVELS}
        under = coverage_misses(cov, spec.params, n, tol_se=2)
        out["kinds"][k] = res = {
            "corr": [float(np.corrcoef(truth[:, j], mean[:, j])[0, 1]) for j in range(spec.n_params)],
            "rmse_over_prior_sd": (np.sqrt(((mean - truth) ** 2).mean(0)) / prior_sd).tolist(),
            "sd_over_prior_sd": (sd.mean(0) / prior_sd).tolist(),
            "coverage": {str(lv): cov[lv].tolist() for lv in LEVELS}, "under_coverage": under,
            "median_seconds": float(np.median(est[k]["seconds"])), "mean": mean.tolist(), "sd": sd.tolist(),
            "concurrent_fits": max(est[k].get("shards", {1}))}
        side = (f", {res['concurrent_fits']} fits running side by side (`--shard`): not comparable with one at a time"
                if res["concurrent_fits"] > 1 else "")
        md += [f"## {k.upper()} (median fit {res['median_seconds']:.1f} s{side})", ""]
        md += recovery_table(res, spec.params, n)
        md += ["", "Under-coverage beyond 2 MC SE: " + (", ".join(f"{p} at {lv:.0%} ({c:.2f})" for p, lv, c in under) or "none") + ".", ""]
    out["truth"] = truth.tolist()
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.3 * spec.n_params, 3.2))
    axes = fig.subplots(1, spec.n_params)
    for j, (ax, p) in enumerate(zip(np.atleast_1d(axes), spec.params)):
        for k, col in zip(kinds, ("darkblue", "crimson")):
            mean, sd = np.asarray(est[k]["mean"]), np.asarray(est[k]["sd"])
            ax.errorbar(truth[:, j], mean[:, j], yerr=sd[:, j], fmt="o", ms=3, color=col, alpha=0.7, label=k.upper())
        ax.plot([lo[j], hi[j]], [lo[j], hi[j]], "k--", lw=1)
        ax.set_title(p); ax.set_xlabel("truth")
    np.atleast_1d(axes)[0].set_ylabel("posterior mean +- sd"); np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"recovery_{spec.name}" + (f"_{args.tag}" if args.tag else "")
    fig.savefig(RESULTS / f"{stem}.png", dpi=90)
    md.append(f"![recovery]({stem}.png)")
    (RESULTS / f"{stem}.md").write_text("\n".join(md) + "\n")
    (RESULTS / f"{stem}.json").write_text(json.dumps(out, indent=1, default=str))
    print("\n".join(md))


if __name__ == "__main__":
    main()
