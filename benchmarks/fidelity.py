"""Fidelity, calibration and speed of the DDM NRE against analytic WFPT (and the LAN baseline).

    .venv/bin/python benchmarks/fidelity.py                 # everything (~45 min on 2 cores)
    .venv/bin/python benchmarks/fidelity.py --quick         # smaller run (~10 min)
    .venv/bin/python benchmarks/fidelity.py --only error,flat
    .venv/bin/python benchmarks/fidelity.py --model ddm_sdv --only error,flat,regression,calibration

``--model ddm_sdv`` compares the ddm_sdv network with HSSM's analytic ddm_sdv likelihood
(report ``fidelity_ddm_sdv``; every section but ``speed``, whose LAN is the DDM's).
``--model full_ddm`` compares with HDDM's numerical full_ddm likelihood (``reference.REFERENCE_MODELS``),
which has no gradients for NUTS: sections ``error``, ``shift`` and ``cost`` only.

Writes benchmarks/results/fidelity.md (tables), fidelity.json and PNG plots, all from one run
on one machine. Sections:

* ``error``: per-trial log-likelihood error vs the reference as differences over theta at fixed x,
  over the training box, with where it concentrates.
* ``shift``: the MCMC-free predicted posterior-mean shift (``reference.predicted_posterior_shift``)
  at the truth below, N = 1,000 and 5,000, in posterior SDs.
* ``flat``: posterior fidelity for the flat DDM at N = 100, 1,000, 5,000.
* ``regression``: ``v ~ 1 + x`` at N = 1,000.
* ``hierarchical``: ``v ~ 1 + (1|participant_id)``, 10 participants x 100 trials.
* ``calibration``: coverage of central NRE credible intervals over simulated datasets.
* ``speed``: NUTS wall time and bulk ESS/s for NRE, WFPT and the LAN (../shared/anchors),
  numpyro and PyMC, at N = 1,000 and 5,000.
* ``cost``: simulations and training time of the network measured (from its metadata).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import hssm
import hssm_nre
from hssm_nre.cache import find_network, load_entry
from hssm_nre.compare import (
    _diagnostics,
    _flat_draws,
    compare_with_analytic,
    plot_comparison,
    simulate_dataset,
    uniform_box_include,
)
from hssm_nre.likelihood import make_batched_log_ratio_fn
from hssm_nre.architecture import support_edge
from hssm_nre.reference import ANALYTIC_MODELS, REFERENCE_MODELS, identified_shift, per_trial_error

from _report import run_section, verdict, write_report

RESULTS = Path(__file__).parent / "results"
LAN = Path(__file__).resolve().parents[1].parent / "shared" / "anchors" / "ddm_lan.onnx"
TARGET_SD = 0.25
TRUTH = {"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3}
#: The model compared (set by --model) and its extra parameters' true values.
MODEL = {"value": "ddm"}
EXTRA_TRUTH = {"ddm": {}, "ddm_sdv": {"sv": 1.0}, "full_ddm": {"t": 0.5, "sz": 0.1, "sv": 1.0, "st": 0.15}}
#: Sections that fit HSSM's own likelihood with NUTS: analytic models only.
NUTS_SECTIONS = ("flat", "regression", "hierarchical", "calibration", "speed")


def truth() -> dict[str, float]:
    return TRUTH | EXTRA_TRUTH[MODEL["value"]]


def section_error(entry, out, quick):
    spec = entry.spec
    f = make_batched_log_ratio_fn(spec, entry.weights)
    r = per_trial_error(spec, f, n_x=150 if quick else 400, n_theta=200, seed=11)
    th, err, rt = r["theta"], r["err"], r["rt"][:, None]
    ok = np.isfinite(err)
    u = rt - support_edge(spec, th)
    s = u / th[..., 1] ** 2
    rows = []

    def by(name, vals, edges):
        for lo, hi in zip(edges[:-1], edges[1:]):
            m = ok & (vals >= lo) & (vals < hi)
            if m.sum() > 30:
                rows.append((name, f"[{lo:g}, {hi:g})", int(m.sum()), float(np.median(err[m])), float(np.quantile(err[m], 0.9))))

    by("u = rt - support edge (s)", u, [0, 0.05, 0.2, 0.5, 1, 2, 5, 30])
    by("s = u / a^2", s, [0, 0.1, 0.5, 1, 2, 5, 20, 300])
    by("|v|", np.abs(th[..., 0]), [0, 1, 2, 3.01])
    by("a", th[..., 1], [0.3, 0.6, 1.0, 1.5, 2.01, 2.51])
    by("z", th[..., 2], [0.1, 0.3, 0.7, 0.91])
    md = [
        f"Per-trial error vs the reference over the training box ({int(ok.sum()):,} (theta, x) pairs; "
        f"{r['excluded']:.1%} excluded where the reference is below -60 or undefined): "
        f"**median {r['median']:.3f} nats, 90th percentile {r['p90']:.3f} nats** "
        "(targets 0.03 / 0.10).",
        "",
        "| by | bin | n | median | p90 |",
        "|---|---|---|---|---|",
    ] + [f"| {a} | {b} | {n} | {m:.3f} | {p:.3f} |" for a, b, n, m, p in rows]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(11, 4))
        ax[0].hexbin(np.log10(np.maximum(u[ok], 1e-3)), th[..., 1][ok], C=err[ok], reduce_C_function=np.median,
                     gridsize=30, cmap="magma", vmax=0.3)
        ax[0].set_xlabel("log10(rt - t)"); ax[0].set_ylabel("a"); ax[0].set_title("median |error| (nats)")
        ax[1].hist(np.clip(err[ok], 0, 1), bins=80, color="gray")
        ax[1].set_yscale("log"); ax[1].set_xlabel("|error| (nats, clipped at 1)")
        fig.tight_layout(); name = f"{PLOT_PREFIX['value']}error_map.png"
        fig.savefig(out / name, dpi=100); plt.close(fig)
        md.append(f"\n![error map]({name})")
    except Exception as e:  # plots are a convenience
        md.append(f"(plot failed: {e})")
    return {"median": r["median"], "p90": r["p90"], "excluded": r["excluded"], "rows": rows}, "\n".join(md)


def section_shift(entry):
    spec = entry.spec
    th = truth()
    f = make_batched_log_ratio_fn(spec, entry.weights)
    theta_star = [th[p] for p in spec.params]
    r = identified_shift(spec, f, theta_star, n_trials=(1000, 5000))
    md = [f"Predicted posterior-mean shift of the NRE relative to the reference at theta* = {th}, in posterior SDs "
          "(I^-1 E[grad error], from 20,000 simulated trials; no MCMC). The prediction is linear: it holds where "
          "the asymptotic posterior SD is small against the prior SD (second table)."]

    def tables(res):
        ps = list(res["shift_sd"][1000])
        out = ["", "| N | " + " | ".join(ps) + " | worst |", "|---|" + "---|" * (len(ps) + 1)]
        out += [f"| {n:,} | " + " | ".join(f"{d[p]:+.2f}" for p in ps) + f" | {max(abs(x) for x in d.values()):.2f} |"
                for n, d in res["shift_sd"].items()]
        out += ["", f"Asymptotic posterior SD / prior SD (Fisher condition number {res['fisher_condition']:.1e}):", "",
                "| N | " + " | ".join(ps) + " |", "|---|" + "---|" * len(ps)]
        out += [f"| {n:,} | " + " | ".join(f"{d[p]:.2f}" for p in ps) + " |"
                for n, d in res["posterior_sd_over_prior_sd"].items()]
        return out

    md += tables(r)
    if r["weak_fixed"]:  # see reference.identified_shift
        md += ["", f"With the weakly identified {', '.join(r['weak_fixed']['fixed'])} held at the truth "
               "(posterior SD at N = 1,000 at least half the prior SD; the prediction for the rest):"]
        md += tables(r["weak_fixed"])
    return r, "\n".join(md)


PLOT_PREFIX = {"value": ""}
SIZES = {"value": [100, 1000, 5000]}


def _fit_pair(data, include, seed, draws, tune, chains, weights, tag, out, truth=None):
    cmp = compare_with_analytic(data, model=MODEL["value"], include=include, draws=draws, tune=tune,
                                chains=chains, seed=seed, progressbar=False, nre_weights=weights, truth=truth)
    plot_comparison(cmp, out / f"{PLOT_PREFIX['value']}posterior_{tag}.png", truth)
    return cmp


def _fidelity_md(title, cmp):
    worst, sdr, ok = verdict(cmp.rows, TARGET_SD)
    return (f"#### {title}: max |diff|/sd = {worst:.2f}, sd ratio in [{sdr[0]:.2f}, {sdr[1]:.2f}] "
            f"-> {'MET' if ok else 'NOT MET'}\n\n" + cmp.to_markdown())


def section_flat(weights, out, quick, draws, tune):
    res, md = {}, []
    for n in SIZES["value"]:
        data = simulate_dataset(MODEL["value"], n, theta=truth(), seed=100 + n)
        cmp = _fit_pair(data, None, 1, draws, tune, 2, weights, f"flat_{n}", out, truth())
        res[n] = {"rows": cmp.rows, "seconds_nre": cmp.seconds_nre, "seconds_wfpt": cmp.seconds_wfpt}
        md.append(_fidelity_md(f"Flat {MODEL['value']} at {truth()}, N = {n}", cmp) + f"\n\n![flat {n}]({PLOT_PREFIX['value']}posterior_flat_{n}.png)")
    return res, "\n\n".join(md)


def _regression_data(n, seed):
    from hssm_nre.simulate import simulate_trials

    # x ~ N(0, 1) truncated to |x| <= 3.5 so every trial's true v = 0.3 + 0.6 x lies inside the
    # training box (-3, 3): both likelihoods are then fitted to data from their own domain.
    x = np.random.default_rng(seed).normal(size=4 * n)
    x = x[np.abs(x) <= 3.5][:n]
    spec = hssm_nre.model_spec(MODEL["value"])
    th = np.column_stack([0.3 + 0.6 * x, *(np.full(n, truth()[p]) for p in spec.params[1:])])
    return simulate_trials(MODEL["value"], th, seed=seed + 1).assign(x=x)


def section_regression(weights, out, quick, draws, tune):
    include = [{"name": "v", "formula": "v ~ 1 + x"}]
    res, md = {}, []
    for n in SIZES["value"]:
        cmp = _fit_pair(_regression_data(n, 5 + n), include, 2, draws, tune, 2, weights, f"regression_{n}", out)
        res[n] = {"rows": cmp.rows, "seconds_nre": cmp.seconds_nre, "seconds_wfpt": cmp.seconds_wfpt}
        md.append(_fidelity_md(f"Regression v ~ 1 + x (true v = 0.3 + 0.6 x), N = {n}", cmp)
                  + f"\n\n![regression {n}]({PLOT_PREFIX['value']}posterior_regression_{n}.png)")
    return res, "\n\n".join(md)


def section_hierarchical(weights, out, quick, draws, tune):
    res, md = {}, []
    for per in [n // 10 for n in SIZES["value"]]:
        r, text = _hierarchical_one(weights, out, 10, per, draws, tune)
        res[10 * per] = r
        md.append(text)
    return res, "\n\n".join(md)


def _hierarchical_one(weights, out, n_sub, per, draws, tune):
    import pandas as pd

    rng = np.random.default_rng(9)
    frames = []
    for j in range(n_sub):
        theta = truth() | {"v": float(np.clip(0.5 + 0.4 * rng.normal(), -2.5, 2.5))}
        d = simulate_dataset(MODEL["value"], per, theta=theta, seed=200 + j)
        d["participant_id"] = j
        frames.append(d)
    data = pd.concat(frames, ignore_index=True)
    include = [{"name": "v", "formula": "v ~ 1 + (1|participant_id)"}]
    cmp = _fit_pair(data, include, 3, draws, tune, 2, weights, f"hierarchical_{n_sub * per}", out)
    # Intercept and group offsets share a weakly identified ridge (their sum is what the data
    # pin down); compare the participant-level drifts too, and the draws' bulk ESS.
    a, b = _flat_draws(cmp.idata_nre), _flat_draws(cmp.idata_wfpt)
    lines = ["", "Participant-level drift v_j = v_Intercept + v_1|participant_id[j]:", "",
             "| participant | NRE mean | WFPT mean | WFPT sd | abs diff / sd | sd ratio |", "|---|---|---|---|---|---|"]
    part = []
    for j in range(n_sub):
        key = f"v_1|participant_id[{j}]"
        if key not in a or key not in b:
            continue
        x, y = a["v_Intercept"] + a[key], b["v_Intercept"] + b[key]
        d = abs(x.mean() - y.mean()) / y.std()
        part.append(d)
        lines.append(f"| {j} | {x.mean():.4f} | {y.mean():.4f} | {y.std():.4f} | {d:.2f} | {x.std() / y.std():.2f} |")
    ess = {k: _ess_bulk(v, ["v_Intercept"]) for k, v in (("nre", cmp.idata_nre), ("wfpt", cmp.idata_wfpt))}
    lines.append("")
    lines.append(f"Max participant-level |diff|/sd: {max(part):.2f}. Bulk ESS of v_Intercept: "
                 f"NRE {ess['nre']:.0f}, WFPT {ess['wfpt']:.0f}.")
    return {"rows": cmp.rows, "participant_max": max(part), "ess_intercept": ess}, (_fidelity_md(f"Hierarchical v ~ 1 + (1|participant_id), {n_sub} x {per} trials", cmp)
                                + "\n".join(lines)
                                + f"\n\n![hierarchical]({PLOT_PREFIX['value']}posterior_hierarchical_{n_sub * per}.png)")


def section_calibration(weights, out, quick, n_sets=None):
    """Coverage of central credible intervals of the NRE posterior under the prior (SBC-style)."""
    spec = hssm_nre.model_spec(MODEL["value"])
    n_sets = n_sets or (30 if quick else 100)
    n_trials = 100
    levels = (0.5, 0.9, 0.95)
    rng = np.random.default_rng(21)
    hits = {lv: {p: 0 for p in spec.params} for lv in levels}
    ranks = {p: [] for p in spec.params}
    done = 0
    for k in range(n_sets):
        theta = {p: float(rng.uniform(lo, hi)) for p, (lo, hi) in spec.bounds.items()}
        theta["t"] = float(rng.uniform(spec.bounds["t"][0], 1.0))  # keep data inside the shared prior's support
        data = simulate_dataset(spec.name, n_trials, theta=theta, seed=1000 + k)
        include = [{"name": p, "prior": {"name": "Uniform", "lower": lo, "upper": (1.0 if p == "t" else hi)}}
                   for p, (lo, hi) in spec.bounds.items()]
        m = hssm.HSSM(data=data, model=spec.name, loglik_kind="nre", nre_weights=weights, include=include, p_outlier=0)
        idata = m.sample(draws=400, tune=400, chains=1, progressbar=False, random_seed=k)
        dr = _flat_draws(idata)
        for p in spec.params:
            x = dr[p]
            ranks[p].append(float(np.mean(x < theta[p])))
            for lv in levels:
                lo, hi = np.quantile(x, [(1 - lv) / 2, 1 - (1 - lv) / 2])
                hits[lv][p] += int(lo <= theta[p] <= hi)
        done += 1
    md = [f"Coverage of central NRE credible intervals over {done} datasets of {n_trials} trials drawn "
          "from the prior (uniform over the box, t < 1). Monte Carlo SE of a coverage c is sqrt(c(1-c)/n).", "",
          "| level | " + " | ".join(spec.params) + " | MC SE |", "|---|" + "---|" * (len(spec.params) + 1)]
    table = {}
    for lv in levels:
        cov = {p: hits[lv][p] / done for p in spec.params}
        table[lv] = cov
        se = np.sqrt(lv * (1 - lv) / done)
        md.append(f"| {lv:.0%} | " + " | ".join(f"{cov[p]:.2f}" for p in spec.params) + f" | {se:.3f} |")
    return {"coverage": table, "ranks": ranks, "n": done}, "\n".join(md)


def _ess_bulk(idata, names):
    try:
        import arviz as az

        s = az.ess(idata, var_names=names, method="bulk")
        s = s.to_dataset() if hasattr(s, "to_dataset") else s
        return float(min(float(np.min(s[n].values)) for n in names))
    except Exception:
        return float("nan")


def section_speed(weights, out, quick, draws, tune):
    rows = []
    names = ["v", "a", "z", "t"]
    spec = hssm_nre.model_spec("ddm")
    include = uniform_box_include(spec)
    for n in ([1000] if quick else [1000, 5000]):
        data = simulate_dataset("ddm", n, theta=TRUTH, seed=300 + n)
        for sampler in ["numpyro", "pymc"]:
            for kind in ["nre", "analytical", "lan"]:
                if kind == "lan" and not LAN.is_file():
                    continue
                kw = dict(model="ddm", include=include, p_outlier=0)
                if kind == "nre":
                    m = hssm.HSSM(data=data, loglik_kind="nre", nre_weights=weights, **kw)
                elif kind == "lan":
                    m = hssm.HSSM(data=data, loglik_kind="approx_differentiable", loglik=str(LAN), **kw)
                else:
                    m = hssm.HSSM(data=data, loglik_kind="analytical", **kw)
                skw = dict(sampler=sampler, draws=draws, tune=tune, chains=2, random_seed=4, progressbar=False)
                if sampler == "pymc":
                    skw["cores"] = 1
                t0 = time.perf_counter()
                idata = m.sample(**skw)
                wall = time.perf_counter() - t0
                ess = _ess_bulk(idata, names)
                rows.append({"N": n, "sampler": sampler, "likelihood": kind, "wall_s": wall,
                             "min_bulk_ess": ess, "ess_per_s": ess / wall,
                             "divergences": _diagnostics(idata)["divergences"]})
    md = ["| N | sampler | likelihood | wall (s) | min bulk ESS | ESS/s | divergences | wall / analytic |",
          "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = next(x["wall_s"] for x in rows if x["N"] == r["N"] and x["sampler"] == r["sampler"] and x["likelihood"] == "analytical")
        md.append(f"| {r['N']} | {r['sampler']} | {r['likelihood']} | {r['wall_s']:.1f} | {r['min_bulk_ess']:.0f} | "
                  f"{r['ess_per_s']:.1f} | {r['divergences']} | {r['wall_s'] / base:.2f} |")
    return rows, "\n".join(md)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None, help="network folder (default: the one HSSM would use)")
    ap.add_argument("--model", default="ddm", choices=sorted(EXTRA_TRUTH),
                    help="the model compared with its reference likelihood")
    ap.add_argument("--only", default=None,
                    help="comma-separated sections (default: all; ddm_sdv: all but speed; full_ddm: error,shift,cost)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tag", default="fidelity", help="report name: benchmarks/results/<tag>.md/.json")
    ap.add_argument("--sizes", default=None, help="trial counts for flat/regression/hierarchical, e.g. 100,1000")
    ap.add_argument("--calibration-sets", type=int, default=None, help="datasets for the coverage section (100)")
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    args = ap.parse_args()
    MODEL["value"] = args.model
    if args.only is None:
        args.only = ("error,flat,regression,hierarchical,calibration" + (",speed" if args.model == "ddm" else "")
                     + ",cost" if args.model in ANALYTIC_MODELS else "error,shift,cost")
    if args.model not in ANALYTIC_MODELS and set(args.only.split(",")) & set(NUTS_SECTIONS):
        ap.error(f"{args.model}'s reference has no gradients for NUTS: sections error, shift, cost only")
    if args.model != "ddm":
        if "speed" in args.only.split(","):
            ap.error("the speed section compares with the DDM's LAN: use it with --model ddm only")
        if args.tag == "fidelity":
            args.tag = f"fidelity_{args.model}"
    PLOT_PREFIX["value"] = "" if args.tag == "fidelity" else f"{args.tag}_"
    if args.sizes:
        SIZES["value"] = [int(x) for x in args.sizes.split(",")]
    elif args.quick:
        SIZES["value"] = [100, 1000]
    entry = load_entry(args.weights) if args.weights else find_network(args.model)
    weights = str(entry.path)
    RESULTS.mkdir(parents=True, exist_ok=True)
    only = args.only.split(",")
    order = ["error", "shift", "flat", "regression", "hierarchical", "calibration", "speed", "cost"]
    old = RESULTS / f"{args.tag}.json"
    # --only updates those sections of an existing report (same network) and keeps the rest
    report = json.loads(old.read_text()) if old.is_file() else {}
    if report.get("network") != weights:
        report = {}
    report |= {"machine": platform.node(), "network": weights}
    report.setdefault("md", {})
    ref_name = (f"HSSM's analytic {args.model} likelihood, labelled WFPT" if args.model in ANALYTIC_MODELS
                else f"HDDM's numerical {args.model} likelihood, {REFERENCE_MODELS[args.model]}, in ssm-simulators' convention")
    header = [f"# {args.model} NRE benchmark (reference: {ref_name})\n\nNetwork: `{entry.metadata.get('reproduce', weights)}` "
          f"({entry.source}). Machine: {platform.node()}, {platform.processor() or platform.machine()}. "
          + (f"NUTS: 2 chains x ({args.tune} tune + {args.draws} draws), "
             f"uniform priors over the training box in both models for {', '.join(entry.spec.params)} (regression and group terms: "
             "the analytic model's HSSM default priors in both, see `compare.shared_regression_priors`), "
             "p_outlier = 0. " if args.model in ANALYTIC_MODELS else "")
          + "Sections run at the times given in their headings."]
    sections = {
        "error": lambda: section_error(entry, RESULTS, args.quick),
        "shift": lambda: section_shift(entry),
        "flat": lambda: section_flat(weights, RESULTS, args.quick, args.draws, args.tune),
        "regression": lambda: section_regression(weights, RESULTS, args.quick, args.draws, args.tune),
        "hierarchical": lambda: section_hierarchical(weights, RESULTS, args.quick, args.draws, args.tune),
        "calibration": lambda: section_calibration(weights, RESULTS, args.quick, args.calibration_sets),
        "speed": lambda: section_speed(weights, RESULTS, args.quick, args.draws, args.tune),
    }
    for name in only:
        if name == "cost":
            m = entry.metadata
            report["cost"] = {k: m.get(k) for k in ("reproduce", "simulation_seconds", "train_seconds", "steps_run")}
            report["cost"]["n_simulations"] = entry.settings.n_simulations
            report["md"]["cost"] = "## Cost\n\n" + "\n".join(f"- {k}: {v}" for k, v in report["cost"].items())
        else:
            run_section(report, name, sections[name])
        write_report(report, header, order, RESULTS / f"{args.tag}.md", RESULTS / f"{args.tag}.json")
    print(f"wrote {RESULTS / (args.tag + '.md')}")


if __name__ == "__main__":
    main()
