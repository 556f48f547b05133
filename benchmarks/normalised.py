"""Is the NRE likelihood normalised? Integrals, absolute error, contaminated data with the lapse, LOO.

    .venv/bin/python benchmarks/normalised.py                       # everything (~15 min on 2 cores)
    .venv/bin/python benchmarks/normalised.py --only integral,abs_error
    .venv/bin/python benchmarks/normalised.py --networks ddm,/path/to/angle/entry
    .venv/bin/python benchmarks/normalised.py --only integral --networks ddm,ddm_sdv,full_ddm,angle,weibull,levy,ornstein,race_no_bias_3,lca_3
    .venv/bin/python benchmarks/normalised.py --only renorm        # the normaliser's effect on posterior bias
    .venv/bin/python benchmarks/normalised.py --only exact --networks ddm,lca_3   # nre_likelihood="exact": accuracy, cost

Writes benchmarks/results/normalised.md, normalised.json and PNG plots. Sections:

* ``integral``: for 1,000 theta drawn over each network's training box, the integral of
  p_hat(x | theta) = r_hat(theta, x) p_hat(x) over rt, summed over choices (target: within
  1 +/- 0.05 for 95 % of theta), and where the misses sit.
* ``abs_error``: DDM only, log p_hat(x | theta) - log WFPT(x | theta) on trials simulated from
  the theta that is evaluated (absolute, not a difference over theta).
* ``contaminated``: DDM data with 5 % contaminants (uniform rt on [0, 5] s, random response),
  fitted by NRE and analytic WFPT with HSSM's default lapse (Uniform(0, 20) rt density), both
  with p_outlier fixed at HSSM's default 0.05 and with p_outlier estimated (Beta(2, 20) prior);
  the raw-ratio likelihood beside them shows what normalisation fixes. PSIS-LOO of each fit.
* ``renorm``: for networks with a reference likelihood (``--renorm-networks``; DDM, ddm_sdv,
  full_ddm), the predicted posterior-mean shift against the reference (``reference``'s MCMC-free
  predictor, weakly identified parameters held at the truth) at ``--renorm-theta`` parameter
  vectors over the inner 80 % of the box (t < 1): for the raw network (normaliser removed), the
  raw network renormalised exactly by quadrature at each theta, and the network with its fitted
  normaliser (what HSSM uses).
* ``exact``: ``nre_likelihood="exact"``'s log Z(theta) (Simpson's rule on ``EXACT_N_GRID`` nodes per
  choice) against 4,000-node trapezoid sums at 200 theta per network: its error's mean, SD and
  largest deviation from the mean (a constant error does not move a posterior), that largest
  deviation times 300 trials, and the cost of one value-and-gradient of a 300-trial
  log-likelihood with and without it (same run, same machine: the ratio is the figure).
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
    contaminate,
    loo_table,
    posterior_table,
    rows_markdown,
    simulate_dataset,
    uniform_box_include,
)
from hssm_nre.normalisation import absolute_error_vs_wfpt, make_log_density_fn, normalisation_integrals
from hssm_nre.simulate import sample_parameters

from _report import run_section, verdict, write_report

RESULTS = Path(__file__).parent / "results"
TRUTH = {"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3}
TARGET_SD = 0.25
P_OUTLIER_PRIOR = {"name": "Beta", "alpha": 2.0, "beta": 20.0}


def _entry(name_or_path):
    p = Path(name_or_path)
    return load_entry(p) if p.exists() else find_network(name_or_path)


def section_integral(networks, out, n_theta):
    from matplotlib.figure import Figure

    rows, res = [], {}
    ncol = min(3, len(networks))
    nrow = -(-len(networks) // ncol)
    fig = Figure(figsize=(5 * ncol, 3.6 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for ax in axes[len(networks):]:
        ax.axis("off")
    md = []
    for ax, name in zip(axes, networks):
        e = _entry(name)
        spec = e.spec
        f = make_log_density_fn(spec, e.weights, e.evidence)
        theta = sample_parameters(spec, n_theta, np.random.default_rng(7))
        t0 = time.perf_counter()
        integ = normalisation_integrals(spec, f, theta)["integral"]
        secs = time.perf_counter() - t0
        within = float(np.mean(np.abs(integ - 1) <= 0.05))
        q = np.quantile(integ, [0.025, 0.5, 0.975])
        rows.append((spec.name, e.source, n_theta, within, *q, integ.min(), integ.max(), secs))
        res[spec.name] = {"integral": np.round(integ, 5).tolist(), "theta": np.round(theta, 4).tolist(),
                          "within_5pct": within,
                          "network": str(e.path)}
        ax.hist(integ, bins=60, color="gray")
        ax.axvspan(0.95, 1.05, color="green", alpha=0.12, label="1 +/- 0.05")
        ax.set_title(f"{spec.name}: {within:.1%} within 1 +/- 0.05")
        ax.set_xlabel("integral of p_hat(x | theta) over x")
        ax.legend(fontsize=8)
        # where do the misses sit? correlate |integral - 1| with each parameter
        dev = np.abs(integ - 1)
        worst = np.argsort(dev)[-5:][::-1]
        md.append(f"Worst 5 theta for {spec.name} ({', '.join(spec.params)}): " + "; ".join(
            f"({', '.join(f'{x:.2f}' for x in theta[i])}) -> {integ[i]:.3f}" for i in worst))
    fig.tight_layout()
    fig.savefig(out / "normalisation_integrals.png", dpi=100)
    table = ["| model | network | theta | within 1 +/- 0.05 | 2.5 % | median | 97.5 % | min | max | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    table += [f"| {m} | {s} | {n} | **{w:.1%}** | {a:.3f} | {b:.3f} | {c:.3f} | {lo:.3f} | {hi:.3f} | {t:.1f} |"
              for m, s, n, w, a, b, c, lo, hi, t in rows]
    text = ("Integral over rt (trapezoid in log(rt - t) on 1,500 points from 0.1 ms to the simulator's "
            "max_t = 20 s), summed over choices, for theta drawn uniformly over the training box "
            "(with the simulator's constraints). Target: within 1 +/- 0.05 for 95 % of theta.\n\n"
            + "\n".join(table) + "\n\n" + "\n\n".join(md) + "\n\n![integrals](normalisation_integrals.png)")
    return res, text


def section_renorm(networks, n_theta):
    import jax
    import jax.numpy as jnp

    from hssm_nre.architecture import JNP_OPS, log_normaliser, network_weights, normaliser_weights
    from hssm_nre.likelihood import make_batched_log_ratio_fn
    from hssm_nre.normalisation import log_normaliser_targets
    from hssm_nre.reference import identified_shift

    rows, res, cost = [], {}, {}
    for name in networks:
        e = _entry(name)
        spec = e.spec
        raw = network_weights(e.weights)
        nw = jax.tree.map(jnp.asarray, normaliser_weights(e.weights) or {})
        f = make_batched_log_ratio_fn(spec, raw)
        lo, hi = np.asarray(spec.lower), np.asarray(spec.upper)
        rng = np.random.default_rng(1)
        thetas = []
        while len(thetas) < n_theta:
            th = lo + (hi - lo) * (0.1 + 0.8 * rng.random(len(lo)))
            if "t" not in spec.params or th[spec.params.index("t")] <= 1.0:
                thetas.append(th)
        t0 = time.perf_counter()
        per = {"raw": [], "exact": [], "fitted": []}
        for i, th in enumerate(thetas):
            _, g_exact, _ = log_normaliser_targets(spec, raw, e.evidence, th[None], n_grid=1500)
            offsets = {"raw": np.zeros(spec.n_params), "exact": g_exact[0]}
            if nw:
                g_fit = jax.grad(lambda t: log_normaliser(spec, {"normaliser": nw}, t, JNP_OPS()))(jnp.asarray(th, jnp.float32))
                offsets["fitted"] = np.asarray(g_fit, np.float64)
            r = identified_shift(spec, f, th, seed=i, offsets=offsets)
            for k, full in r.items():
                per[k].append([full["identified_worst"][1000], full["identified_worst"][5000]])
        secs = time.perf_counter() - t0
        cost[spec.name] = _normaliser_cost(spec, e.weights) if nw else None
        res[spec.name] = {"theta": np.round(np.asarray(thetas), 4).tolist(), "network": str(e.path),
                          "cost_ms": cost[spec.name],
                          **{k: np.round(np.asarray(v), 4).tolist() for k, v in per.items() if v}}
        for k, v in per.items():
            if v:
                a = np.asarray(v)
                rows.append((spec.name, k, len(a), *np.median(a, 0), *np.quantile(a, 0.9, axis=0),
                             float(np.mean(a[:, 1] < TARGET_SD)), secs))
    label = {"raw": "raw network", "exact": "raw, renormalised exactly (quadrature)",
             "fitted": "with its fitted normaliser (what HSSM uses)"}
    table = ["| model | likelihood | theta | median worst shift N = 1,000 | N = 5,000 | p90 N = 1,000 | N = 5,000 "
             "| share under 0.25 SD at N = 5,000 | seconds |", "|---|---|---|---|---|---|---|---|---|"]
    table += [f"| {m} | {label[k]} | {n} | {a:.2f} | **{b:.2f}** | {c:.2f} | {d:.2f} | {s:.0%} | {t:.0f} |"
              for m, k, n, a, b, c, d, s, t in rows]
    text = ("Predicted posterior-mean shift of the NRE against the reference likelihood, in posterior SDs "
            "(worst over parameters; weakly identified parameters held at the truth; 20,000 simulated trials "
            f"per theta; no MCMC), at {n_theta} theta drawn uniformly over the inner 80 % of the training box "
            "with t < 1. A theta-dependent mass error of the network, log Z(theta), adds grad log Z to the "
            "expected score, so renormalising removes that part of the bias.\n\n" + "\n".join(table)
            + "\n\nCost of the normaliser: value and gradient of the summed log-likelihood over 5,000 trials with "
            "trial-wise theta (a regression; a flat model evaluates the normaliser once), float32 network on this "
            "CPU, median of 20 runs: " + "; ".join(
                f"{m} {c['raw']:.1f} ms raw, {c['normalised']:.1f} ms normalised" for m, c in cost.items() if c) + ".")
    return res, text


def _exact_cost(spec, weights, evidence, n=300, reps=30):
    """ms per value-and-gradient of an n-trial log-likelihood at one theta: normalised vs exact."""
    import jax
    import jax.numpy as jnp

    from hssm_nre.architecture import network_weights
    from hssm_nre.evidence import make_evidence_fn
    from hssm_nre.likelihood import make_exact_logp, make_log_ratio_fn
    from hssm_nre.quadrature import make_log_z_fn

    theta = sample_parameters(spec, 1, np.random.default_rng(0))[0]
    sim = simulate_dataset(spec.name, n, theta=dict(zip(spec.params, theta.tolist())), seed=0)
    data = jnp.asarray(np.column_stack([sim.rt.to_numpy(), sim.response.to_numpy(float)]))
    ev = make_evidence_fn(spec, evidence)
    per_trial = make_log_ratio_fn(spec, weights, evidence=ev)
    trialwise = (True,) + (False,) * (spec.n_params - 1)  # as HSSM hands them over
    raw = make_log_ratio_fn(spec, network_weights(weights), evidence=ev)  # "exact" drops the fitted normaliser
    exact = make_exact_logp(spec, raw, make_log_z_fn(spec, weights, evidence), trialwise)
    vmapped = jax.vmap(per_trial, in_axes=(0, *(0 if t else None for t in trialwise)))
    params = [jnp.full(n, theta[0])] + [jnp.asarray(x) for x in theta[1:]]
    out = {}
    for label, f in (("normalised", vmapped), ("exact", exact)):
        vg = jax.jit(jax.value_and_grad(lambda *p, f=f: jnp.sum(f(data, *p)), argnums=tuple(range(spec.n_params))))
        jax.block_until_ready(vg(*params))
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            jax.block_until_ready(vg(*params))
            times.append(1000 * (time.perf_counter() - t0))
        out[label] = float(np.median(times))
    return out


def section_exact(networks, n_theta=200):
    import jax

    from hssm_nre.normalisation import log_normaliser_targets
    from hssm_nre.quadrature import EXACT_N_GRID, make_log_z_fn

    rows, res = [], {}
    for name in networks:
        e = _entry(name)
        spec = e.spec
        theta = sample_parameters(spec, n_theta, np.random.default_rng(11))
        ref = log_normaliser_targets(spec, e.weights, e.evidence, theta, n_grid=4000, own_density=False)[0]
        lz = np.asarray(jax.jit(jax.vmap(make_log_z_fn(spec, e.weights, e.evidence)))(theta))
        d = lz - ref
        dev = float(np.max(np.abs(d - d.mean())))
        cost = _exact_cost(spec, e.weights, e.evidence)
        rows.append((spec.name, e.source, d.mean(), d.std(), dev, 300 * dev, cost["normalised"], cost["exact"]))
        res[spec.name] = {"mean": float(d.mean()), "sd": float(d.std()), "max_dev": dev, "ms": cost,
                          "log_z_range": [float(ref.min()), float(ref.max())], "network": str(e.path)}
    table = ["| model | network | error mean | error SD | largest deviation | x 300 trials (nats) | "
             "ms normalised | ms exact | ratio |", "|---|---|---|---|---|---|---|---|---|"]
    table += [f"| {m} | {s} | {a:.1e} | {b:.1e} | {c:.1e} | {c3:.2f} | {tn:.1f} | {te:.1f} | **{te / tn:.1f}** |"
              for m, s, a, b, c, c3, tn, te in rows]
    text = (f"`nre_likelihood=\"exact\"`: log Z(theta) by Simpson's rule in log u on {EXACT_N_GRID} nodes per "
            f"choice, against 4,000-node trapezoid sums, at {n_theta} theta drawn over each training box. "
            "Cost: one value-and-gradient of a 300-trial log-likelihood at one theta (median of 30, "
            "after compiling), with the fitted-normaliser likelihood (`normalised`) and with log Z by "
            "quadrature (`exact`), float32 network on this machine's CPU.\n\n" + "\n".join(table))
    return res, text


def _normaliser_cost(spec, weights, n=5000, reps=20):
    """ms per value-and-gradient of the summed log-likelihood, raw vs with the normaliser."""
    import jax
    import jax.numpy as jnp

    from hssm_nre.architecture import network_weights
    from hssm_nre.likelihood import make_batched_log_ratio_fn

    theta = jnp.asarray(sample_parameters(spec, n, np.random.default_rng(0)), jnp.float32)
    sim = simulate_dataset(spec.name, n, seed=0)
    rt, ch = jnp.asarray(sim.rt.to_numpy(), jnp.float32), jnp.asarray(sim.response.to_numpy(), jnp.float32)
    out = {}
    for label, w in (("raw", network_weights(weights)), ("normalised", weights)):
        f = make_batched_log_ratio_fn(spec, w, dtype="float32")
        vg = jax.jit(jax.value_and_grad(lambda th: jnp.sum(f(th, rt, ch))))
        jax.block_until_ready(vg(theta))
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            jax.block_until_ready(vg(theta))
            times.append(1000 * (time.perf_counter() - t0))
        out[label] = float(np.median(times))
    return out


def section_abs_error(out):
    e = find_network("ddm")
    f = make_log_density_fn(e.spec, e.weights, e.evidence)
    r = absolute_error_vs_wfpt(e.spec, f, n_theta=400, n_trials=50, seed=3)
    d, th = r["diff"], r["theta"]
    rows = []
    for name, col, edges in (("a", 1, [0.3, 0.6, 1.0, 1.5, 2.0, 2.5]), ("abs(v)", 0, [0, 1, 2, 3.01]),
                             ("z", 2, [0.1, 0.3, 0.7, 0.9])):
        vals = np.abs(th[:, col]) if name == "abs(v)" else th[:, col]
        for lo, hi in zip(edges[:-1], edges[1:]):
            m = (vals >= lo) & (vals < hi)
            x = d[m].ravel()
            x = x[np.isfinite(x)]
            rows.append(f"| {name} | [{lo:g}, {hi:g}) | {x.size} | {np.median(np.abs(x)):.4f} | "
                        f"{np.quantile(np.abs(x), 0.9):.4f} | {np.mean(x):+.4f} |")
    text = (f"log p_hat(x | theta) - log WFPT(x | theta) on 50 trials simulated from each of 400 theta "
            f"drawn over the box ({np.isfinite(d).sum():,} trials): **median |error| {r['median_abs']:.4f}, "
            f"90th percentile {r['p90_abs']:.4f} nats, mean (signed) {r['mean']:+.4f} nats**. Summed over "
            "N trials the mean error shifts an absolute log-likelihood (and LOO's elpd) by about "
            "N x mean.\n\n| by | bin | trials | median abs | p90 abs | mean |\n|---|---|---|---|---|---|\n"
            + "\n".join(rows))
    return {k: r[k] for k in ("median_abs", "p90_abs", "mean")}, text


def _fit(data, kind, p_outlier, draws, tune, seed, **kw):
    spec = hssm_nre.model_spec("ddm")
    include = uniform_box_include(spec)
    m = hssm.HSSM(data=data, model="ddm", loglik_kind=kind, include=include, p_outlier=p_outlier, **kw)
    t0 = time.perf_counter()
    idata = m.sample(sampler="numpyro", draws=draws, tune=tune, chains=2, random_seed=seed, progressbar=False)
    return idata, time.perf_counter() - t0


def section_contaminated(out, sizes, draws, tune):
    res, md = {}, []
    for n in sizes:
        clean = simulate_dataset("ddm", n, theta=TRUTH, seed=500 + n)
        data = contaminate(clean, 0.05, seed=600 + n).drop(columns="contaminant")
        fits, secs = {}, {}
        for key, kind, po, kw in (
            ("wfpt_fixed", "analytical", 0.05, {}),
            ("nre_fixed", "nre", 0.05, {}),
            ("wfpt_est", "analytical", P_OUTLIER_PRIOR, {}),
            ("nre_est", "nre", P_OUTLIER_PRIOR, {}),
            ("ratio_est", "nre", P_OUTLIER_PRIOR, {"nre_likelihood": "ratio"}),
            ("wfpt_nolapse", "analytical", 0, {}),
            ("nre_nolapse", "nre", 0, {}),
        ):
            if n > 1000 and key in ("wfpt_nolapse", "nre_nolapse"):
                continue  # the no-lapse contrast is made at the smaller sizes
            print(f"  N={n} {key}", flush=True)
            fits[key], secs[key] = _fit(data, kind, po, draws, tune, seed=11, **kw)
        r = {"seconds": secs}
        parts = [f"### N = {n} ({int(round(0.05 * n))} contaminants)"]
        for label, a, b in (("p_outlier fixed at 0.05 (HSSM default)", "nre_fixed", "wfpt_fixed"),
                            ("p_outlier estimated, Beta(2, 20) prior", "nre_est", "wfpt_est"),
                            ("raw ratio (nre_likelihood='ratio'), p_outlier estimated", "ratio_est", "wfpt_est"),
                            ("no lapse (p_outlier = 0)", "nre_nolapse", "wfpt_nolapse")):
            if a not in fits:
                continue
            rows = posterior_table(fits[a], fits[b])
            worst, sdr, ok = verdict(rows, TARGET_SD)
            table = rows_markdown(rows)
            r[a] = {"rows": rows, "worst": worst, "sd_ratio": sdr, "met": ok,
                    "divergences": [_diagnostics(fits[a])["divergences"], _diagnostics(fits[b])["divergences"]]}
            parts.append(f"#### {label}: max |diff|/sd = {worst:.2f}, sd ratio in [{sdr[0]:.2f}, {sdr[1]:.2f}]"
                         f" -> {'MET' if ok else 'NOT MET'}\n\n{table}")
        loo_keys = [k for k in ("wfpt_fixed", "nre_fixed", "wfpt_est", "nre_est", "ratio_est") if k in fits]
        loo = {}
        for ref, keys in (("wfpt_fixed", ["wfpt_fixed", "nre_fixed"]), ("wfpt_est", ["wfpt_est", "nre_est", "ratio_est"])):
            for row in loo_table({k: fits[k] for k in keys if k in loo_keys}, reference=ref):
                loo[row["model"]] = row
        r["loo"] = loo
        lines = ["| fit | elpd_loo | SE | p_loo | max Pareto k | elpd diff vs WFPT (same lapse) | paired SE | within LOO SE? |",
                 "|---|---|---|---|---|---|---|---|"]
        for k, row in loo.items():
            within = abs(row["elpd_diff"]) <= row["se"]
            lines.append(f"| {k} | {row['elpd_loo']:.1f} | {row['se']:.1f} | {row['p_loo']:.1f} | "
                         f"{row['max_pareto_k']:.2f} | {row['elpd_diff']:+.2f} | {row['diff_se']:.2f} | "
                         f"{'' if k.startswith('wfpt') else ('yes' if within else 'NO')} |")
        parts.append("#### PSIS-LOO\n\n" + "\n".join(lines))
        parts.append("Wall time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in secs.items()))
        _plot_p_outlier(fits, out / f"contaminated_{n}.png", n)
        parts.append(f"![contaminated {n}](contaminated_{n}.png)")
        res[n] = r
        md.append("\n\n".join(parts))
    return res, "\n\n".join(md)


def _plot_p_outlier(fits, path, n):
    from matplotlib.figure import Figure

    names = ["p_outlier", "v", "a", "z", "t"]
    fig = Figure(figsize=(17, 3.2))
    axes = fig.subplots(1, len(names))
    styles = {"wfpt_est": ("WFPT", dict(color="gray", alpha=0.6)),
              "nre_est": ("NRE (normalised)", dict(histtype="step", lw=2, color="darkblue")),
              "ratio_est": ("raw ratio", dict(histtype="step", lw=2, color="crimson", ls="--"))}
    for ax, p in zip(axes, names):
        draws = {k: _flat_draws(fits[k]).get(p) for k in styles if k in fits}
        draws = {k: v for k, v in draws.items() if v is not None}
        if not draws:
            ax.axis("off")
            continue
        lo = min(v.min() for v in draws.values())
        hi = max(v.max() for v in draws.values())
        bins = np.linspace(lo, hi, 50)
        for k, v in draws.items():
            label, st = styles[k]
            ax.hist(v, bins=bins, density=True, label=label, **st)
        ax.set_title(p)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"5 % contaminated DDM data, N = {n}, p_outlier estimated")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="integral,abs_error,contaminated")
    ap.add_argument("--networks", default="ddm", help="comma list of model names (cache/shipped) or entry folders")
    ap.add_argument("--n-theta", type=int, default=1000)
    ap.add_argument("--sizes", default="1000,5000")
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--renorm-networks", default="ddm,ddm_sdv,full_ddm")
    ap.add_argument("--renorm-theta", type=int, default=40)
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "normalised.json"
    report = json.loads(path.read_text()) if path.is_file() else {}
    report["machine"] = platform.node()
    report.setdefault("md", {})
    order = ["integral", "abs_error", "contaminated", "renorm", "exact"]
    e = find_network("ddm")
    header = [f"# Normalised NRE likelihood\n\nDDM network: `{e.metadata.get('reproduce')}` ({e.source}). "
              f"Machine: {platform.node()}. NUTS (numpyro): 2 chains x ({args.tune} tune + {args.draws} draws), "
              "uniform priors over the training box for v, a, z, t in every fit. Reproduce: "
              "`.venv/bin/python benchmarks/normalised.py`."]
    sections = {
        "integral": lambda: section_integral(args.networks.split(","), RESULTS, args.n_theta),
        "abs_error": lambda: section_abs_error(RESULTS),
        "contaminated": lambda: section_contaminated(RESULTS, [int(s) for s in args.sizes.split(",")], args.draws, args.tune),
        "renorm": lambda: section_renorm(args.renorm_networks.split(","), args.renorm_theta),
        "exact": lambda: section_exact(args.networks.split(",")),
    }
    for name in args.only.split(","):
        run_section(report, name, sections[name])
        write_report(report, header, order, RESULTS / "normalised.md", path)
    print(f"wrote {RESULTS / 'normalised.md'}")


if __name__ == "__main__":
    main()
