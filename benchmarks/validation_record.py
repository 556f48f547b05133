"""Write a shipped network's validation record from its benchmark results.

    .venv/bin/python benchmarks/validation_record.py angle weibull ...   # from recovery_<model>.json
    .venv/bin/python benchmarks/validation_record.py ddm_sdv             # from fidelity_ddm_sdv.json
    .venv/bin/python benchmarks/validation_record.py full_ddm            # recovery + fidelity_full_ddm.json figures
    .venv/bin/python benchmarks/validation_record.py lca_3 --tag exact   # from recovery_lca_3_exact.json

For each model: reads ``hssm_nre/pretrained/<model>/metadata.json`` and the committed results,
applies one rule, writes ``hssm_nre/pretrained/<model>/README.md`` (how it was trained, the
reproduce command, the tables) and sets ``metadata["validation"]`` (``hssm.HSSM`` warns when a
network's status is ``failed``). The weights are not touched (their checksum is in the metadata).

Rules (stated in each record):

* recovery and coverage (``benchmarks/recovery.py``): **passed** when every parameter's coverage of
  central 50 / 90 / 95 % intervals is at least the level minus 2.5 Monte Carlo SE (one-sided:
  over-coverage is conservative, not wrong); else **failed**, listing the misses.
* analytic fidelity (``benchmarks/fidelity.py --model ddm_sdv``): **passed** when every flat and
  regression fit has |mean difference| <= 0.25 analytic posterior SD and SD ratio in [0.9, 1.1]
  (the DDM's target) and coverage passes the rule above; else **failed**.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

import _report
from _report import verdict
from hssm_nre.config import ModelSpec, padded_box
from hssm_nre.simulate import GROUP

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PRETRAINED = ROOT / "hssm_nre" / "pretrained"
LEVELS = ("0.5", "0.9", "0.95")
TOL_SE = 2.5


def coverage_misses(coverage: dict[str, list[float]], params, n: int) -> list[str]:
    return [f"{p} at {lv:.0%} ({c:.2f})" for p, lv, c in _report.coverage_misses(coverage, params, n, TOL_SE)]


def training_paragraph(meta: dict) -> str:
    s, spec = meta["settings"], meta["spec"]
    steps = f"{meta['steps_run']:,} steps"
    if meta.get("stopped_early"):
        f = meta["steps_run"] / meta["planned_steps"]
        lr = 0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * f))  # CosineDecay(alpha=0.02), see network.py
        steps += (f" of {meta['planned_steps']:,} planned (stopped at the {meta.get('time_limit_minutes', '?')}-minute "
                  f"limit, with the cosine schedule's learning rate at {lr:.0%} of its peak)")
    features = ("DDM features (scaling law, mirror symmetry, exact Wald asymptote"
                + (" mixed over the drift's Normal(v, sv)" if "sv" in spec["params"] else "")
                + (" with the linear collapse added to the drift" if "theta" in spec["params"] else "") + ")"
                if spec["features"] == "scaling"
                else "race features (the chosen accumulator against the others as sorted lists, no one-hot "
                "choice; a trainable head started at the race of independent Wald accumulators)"
                if spec["features"] == "race"
                else "generic features (parameters scaled to [-1, 1], log u, 1/u, one-hot choice"
                + ((f"; u = rt - (t - {spec['edge_shift'][0]})" if spec.get("edge_shift") else "; u = rt - t")
                   if spec["shift"] else "")
                + ("; plus the leading-edge term D^2 / u in a trainable head" if spec["features"] == "edge" else "")
                + ("; plus a trainable head started at Durbin's first-order first-passage density for the "
                   "collapsing boundary, whose log M^2 / u, height b(u) / a and standardised distance the MLP also "
                   "sees" if spec["features"] == "bound" else "")
                + ")")
    corr = (" Simulated with the discrete-monitoring boundary correction, so the network learns the "
            "continuous-time model." if spec.get("boundary_correction") else "")
    if spec.get("per_call_params"):
        corr += (f" Simulated in groups of {GROUP:,} rows sharing {', '.join(spec['per_call_params'])}, which "
                 "ssm-simulators' batched simulator mishandles when it varies within a call.")
    size = (PRETRAINED / meta["model"] / "weights.npz").stat().st_size / 1024
    n = meta.get("normaliser")
    norm = (f" Normaliser (`hssm-nre normalise`, which `hssm-nre train` now runs after training with the same "
            f"settings): an MLP {len(n['settings']['widths'])} x {n['settings']['widths'][0]} fitted to the log mass "
            f"of the network's {'own density' if n['density'].startswith('own') else 'likelihood'} and its gradient at "
            f"{n['settings']['n_theta']:,} parameter vectors; on as many held out, RMS of grad log Z over the "
            f"box-scaled parameters {n['held_out_rms_grad_before']:.4f} before, {n['held_out_rms_grad_after']:.4f} "
            f"after; {n['seconds']:.0f} s."
            if n else " No normaliser (`hssm-nre normalise " + meta["model"] + "` adds one).")
    return (f"Budget: {s['n_simulations']:,} simulated trials (seed {s['seed']}, ssm-simulators `{meta['model']}`, "
            f"dt = 0.001, max_t = 20 s; {meta['n_dropped_timeouts']:,} timed-out trials dropped), {steps} of batch "
            f"{s['batch_size']:,}, K = {s['K']}, gamma = {s['gamma']:g}, Adam {s['learning_rate']:g} with cosine decay, "
            f"{features}, MLP {len(s['widths'])} x {s['widths'][0]} SiLU + evidence head "
            f"{len(s['evidence_widths'])} x {s['evidence_widths'][0]}; {size:.0f} KB of float32 weights.{corr} "
            f"Trained on {meta.get('trained_on', 'an unrecorded machine')}: {meta['simulation_seconds']} s simulating "
            f"+ {meta['train_seconds']} s training.{norm}")


def _box(spec: ModelSpec) -> str:
    return ", ".join(f"{p} [{lo:g}, {hi:g}]" for p, lo, hi in zip(spec.params, spec.lower, spec.upper))


def box_line(meta: dict) -> str:
    spec = ModelSpec.from_dict(meta["spec"])
    pad = meta["settings"].get("extra", {}).get("pad")
    if pad:
        return (f"HSSM bounds: {_box(spec)}. Training parameters were drawn from the box widened by {pad:g} of "
                f"each range (`--pad {pad:g}`): {_box(padded_box(spec, pad))}.")
    return f"Training box (= HSSM bounds): {_box(spec)}."


def recovery_stem(model: str, tag: str | None = None) -> str:
    """The recovery report a record is written from: recovery_<model>[_<tag>] (recovery.py --tag)."""
    return f"recovery_{model}" + (f"_{tag}" if tag else "")


def record_from_recovery(model: str, meta: dict, tag: str | None = None) -> tuple[str, str, list[str]]:
    stem = recovery_stem(model, tag)
    res = json.loads((RESULTS / f"{stem}.json").read_text())
    params, n = meta["spec"]["params"], res["datasets"]
    nre = res["kinds"]["nre"]
    misses = coverage_misses(nre["coverage"], params, n)
    status = "failed" if misses else "passed"
    lan_arg = ""
    report = (RESULTS / f"{stem}.md").read_text()
    cmd = re.search(r"Reproduce: `([^`]+)`", report).group(1)
    likelihood = res.get("likelihood", "normalised")
    md = [f"`{cmd}` ({n} datasets x {res['trials']} trials, parameters drawn from "
          "the fit's uniform prior over the box, numpyro 1 x (400 + 400), p_outlier = 0"
          + (f", nre_likelihood='{likelihood}'" if likelihood != "normalised" else "") + "; "
          f"`benchmarks/results/{stem}.md`):", "", "NRE (median fit "
          f"{nre['median_seconds']:.1f} s on 2 CPU cores"
          + (f", with {nre['concurrent_fits']} fits running side by side" if nre.get("concurrent_fits", 1) > 1 else "")
          + "):", ""] + _report.recovery_table(nre, params, n)
    if "lan" in res["kinds"]:
        lan = res["kinds"]["lan"]
        lan_misses = coverage_misses(lan["coverage"], params, n)
        lan_arg = " beside the LAN in ../shared/anchors"
        md += ["", f"The LAN from `../shared/anchors` on the same datasets (median fit {lan['median_seconds']:.1f} s):",
               ""] + _report.recovery_table(lan, params, n)
        md += ["", "LAN coverage misses by the same rule: " + (", ".join(lan_misses) or "none") + "."]
    md += reference_lines(model)
    with_kind = {"exact": " with nre_likelihood='exact' (log Z by quadrature at each theta)"}.get(likelihood, "")
    summary = (f"Recovery and coverage over {n} simulated datasets of {res['trials']} trials{with_kind}{lan_arg}: "
               + ("every coverage within 2.5 MC SE of its level." if not misses
                  else f"{len(misses)} coverage miss{'es' * (len(misses) != 1)} beyond 2.5 MC SE ({', '.join(misses[:4])}"
                       f"{', ...' if len(misses) > 4 else ''}).")
               + f" Correlation of posterior mean with truth {min(nre['corr']):.2f}-{max(nre['corr']):.2f}.")
    return status, summary, md


def reference_lines(model: str) -> list[str]:
    """Per-trial error and predicted shift against a reference likelihood without NUTS
    gradients (full_ddm: HDDM's numerical one), from ``fidelity_<model>.json``; reported, not
    part of the rule (the shift is a first-order prediction, not a fit)."""
    f = RESULTS / f"fidelity_{model}.json"
    if not f.is_file():
        return []
    rep = json.loads(f.read_text())
    out = ["", f"Against the reference likelihood (`benchmarks/results/fidelity_{model}.md`, "
           f"`.venv/bin/python benchmarks/fidelity.py --model {model}`; reported, not part of the rule):", ""]
    if "error" in rep:
        out.append(f"- per-trial log-likelihood error over the box (differences over theta at fixed x): median "
                   f"{rep['error']['median']:.3f} nats, 90th percentile {rep['error']['p90']:.3f} nats")
    if "shift" in rep:
        sh = rep["shift"]
        weak = sh.get("weak_fixed")
        use = weak or sh
        parts = []
        for n, d in use["shift_sd"].items():
            p_w = max(d, key=lambda p: abs(d[p]))
            parts.append(f"{abs(d[p_w]):.2f} SD ({p_w}) at N = {int(n):,}")
        out.append(f"- predicted posterior-mean shift at theta* = {sh['theta']}, worst parameter: " + ", ".join(parts)
                   + (f" (with the weakly identified {', '.join(weak['fixed'])} held at the truth; its asymptotic "
                      "posterior SD is at least half its prior SD at N = 1,000, so the box, not the likelihood, bounds it)"
                      if weak else ""))
    return out


def record_from_fidelity(model: str, meta: dict) -> tuple[str, str, list[str]]:
    rep = json.loads((RESULTS / f"fidelity_{model}.json").read_text())
    params = meta["spec"]["params"]
    md, worst_all, ok_all, fits = [], 0.0, True, []
    for section in ("flat", "regression"):
        for n, r in (rep.get(section) or {}).items():
            worst, sdr, ok = verdict(r["rows"])
            worst_all, ok_all = max(worst_all, worst), ok_all and ok
            fits.append(f"{section} N = {n}: max |diff|/sd {worst:.2f}, sd ratio [{sdr[0]:.2f}, {sdr[1]:.2f}]")
    md += ["Posterior fidelity against HSSM's analytic likelihood (`benchmarks/results/fidelity_"
           f"{model}.md`; numpyro 2 x (1000 + 1000), the same uniform priors over the box in both):", ""]
    md += [f"- {f}" for f in fits]
    if "error" in rep:
        md += ["", f"Per-trial log-likelihood error over the box (differences over theta at fixed x): median "
               f"{rep['error']['median']:.3f} nats, 90th percentile {rep['error']['p90']:.3f} nats (the report "
               "breaks it down by region)."]
    misses = []
    if "calibration" in rep:
        cal = rep["calibration"]
        cov = {lv: [cal["coverage"][lv][p] for p in params] for lv in LEVELS}
        misses = coverage_misses(cov, params, cal["n"])
        md += ["", f"Coverage of central NRE credible intervals over {cal['n']} datasets of 100 trials from the "
               "prior (t < 1):", "", "| level | " + " | ".join(params) + " |", "|---|" + "---|" * len(params)]
        md += [f"| {float(lv):.0%} | " + " | ".join(f"{c:.2f}" for c in cov[lv]) + " |" for lv in LEVELS]
        md += ["", "Coverage misses beyond 2.5 MC SE: " + (", ".join(misses) or "none") + "."]
    status = "passed" if ok_all and not misses and fits else "failed"
    summary = (f"Against HSSM's analytic {model}: worst posterior-mean difference {worst_all:.2f} analytic SD over "
               f"{len(fits)} fits (target 0.25)" + (f"; {len(misses)} coverage misses" if misses else "") + ".")
    return status, summary, md


def write(model: str, tag: str | None = None) -> str:
    d = PRETRAINED / model
    meta = json.loads((d / "metadata.json").read_text())
    fid = RESULTS / f"fidelity_{model}.json"
    source = "fidelity" if fid.is_file() and "flat" in json.loads(fid.read_text()) else "recovery"
    if source == "fidelity":
        status, summary, body = record_from_fidelity(model, meta)
    else:
        status, summary, body = record_from_recovery(model, meta, tag)
    if meta.get("known_issue"):  # a fault found after training, e.g. in its training data
        summary += f" Known issue: {meta['known_issue']}"
    meta["validation"] = {"status": status, "summary": summary, "record": "README.md"}
    # the likelihood the record validates is the one hssm.HSSM uses by default for this network
    likelihood = json.loads((RESULTS / f"{recovery_stem(model, tag)}.json").read_text()).get(
        "likelihood", "normalised") if source == "recovery" else "normalised"
    if likelihood == "normalised":
        meta.pop("default_likelihood", None)
    else:
        meta["default_likelihood"] = likelihood
    (d / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    rule = ("passed = every coverage of central 50 / 90 / 95 % intervals at least the level minus 2.5 Monte Carlo SE"
            + ("; and every flat and regression fit within 0.25 analytic posterior SD, SD ratio in [0.9, 1.1]"
               if source == "fidelity" else ""))
    text = [f"# Shipped {model} network", "", "Reproduce (the command recorded in `metadata.json`):", "",
            f"    {meta['reproduce']}", "", training_paragraph(meta), "", box_line(meta), "", "## Validation record", "",
            f"**Status: {status}** (rule: {rule}; written by `benchmarks/validation_record.py {model}"
            + (f" --tag {tag}" if tag else "") + "`"
            + ("; `hssm.HSSM` warns when this network is used" if status == "failed" else "") + ").", "",
            summary, ""]
    if meta.get("default_likelihood"):
        text += [f"`hssm.HSSM(model=\"{model}\", loglik_kind=\"nre\")` uses `nre_likelihood=\"{meta['default_likelihood']}\"` "
                 "with this network by default, the likelihood this record validates (`metadata.json`: "
                 "`default_likelihood`); where a parameter varies by trial it falls back to \"normalised\" and warns.", ""]
    text += body
    (d / "README.md").write_text("\n".join(text) + "\n")
    return f"{model}: {status} - {summary}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--tag", default=None, help="write the records from recovery_<model>_<tag>.* (recovery.py --tag)")
    args = ap.parse_args()
    for m in args.models:
        print(write(m, args.tag))


if __name__ == "__main__":
    main()
