"""A validation's record: ``validation.md`` and its plots beside the network."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .calibration import LEVELS, ecdf_difference, simultaneous_band

__all__ = ["write_report"]


def write_report(report, lik, settings, rows: list[dict], out: Path, rules: str, reproduce: str) -> Path:
    """Write ``validation.md`` and its PNG plots into ``out`` (``rules``: how the verdict was
    reached; ``reproduce``: the command that reruns it); returns the markdown's path."""
    f = report.figures
    params = f["params"]
    lines = [
        f"# Validation of the {report.model} network",
        "",
        f"**Status: {report.status}** ({time.strftime('%Y-%m-%d')}; {lik.kind} likelihood; weights "
        f"sha256 {report.sha256[:12]}): {report.summary}",
        "",
        f"Rule: {rules}.",
        "",
        f"Reproduce: `{reproduce}` (settings: "
        + ", ".join(f"{k}={v}" for k, v in asdict(settings).items())
        + ").",
        "",
    ]
    unconv = f.get("unconverged", {})
    if unconv.get("sbc") or unconv.get("fidelity"):
        lines += [f"Fits left out as unconverged (fewer than half their draws distinct: a stuck chain): "
                  f"{unconv.get('sbc', 0)} of {unconv.get('sbc_fits', 0)} calibration fits, "
                  f"{unconv.get('fidelity', 0)} posterior comparisons.", ""]
    sbc = f.get("sbc")
    base = f.get("baseline")
    if sbc:
        plots = _sbc_plot(rows, params, out, base)
        lines += [
            f"## Calibration: {sbc['datasets']} datasets of {sbc['trials']} trials, parameters from the prior",
            "",
            "| parameter | SBC: max ECDF gap / 99 % band | " + " | ".join(f"coverage {lv:.0%}" for lv in LEVELS)
            + " | correlation | RMSE / prior SD | contraction |",
            "|---|---|" + "---|" * len(LEVELS) + "---|---|---|",
        ]
        for p in params:
            cov = " | ".join(f"{sbc['coverage'][str(lv)][p]:.2f}" for lv in LEVELS)
            lines.append(
                f"| {p} | {sbc['band_exceedance'][p]:.2f}{' **outside**' if p in sbc['outside_band'] else ''} | {cov} | "
                f"{sbc['correlation'][p]:.2f} | {sbc['rmse_over_prior_sd'][p]:.2f} | {sbc['contraction'][p]:.2f} |"
            )
        se = ", ".join(f"{lv:.0%}: {np.sqrt(lv * (1 - lv) / sbc['datasets']):.3f}" for lv in LEVELS)
        lines += ["", f"Monte Carlo SE of the coverages: {se}. Coverage misses: "
                  + ("; ".join(sbc["coverage_misses"]) or "none") + "."]
        if sbc.get("ess_median") is not None:
            lines += ["", f"Effective draws per fit (the fewest over the parameters): median {sbc['ess_median']:.0f}, "
                      f"5th percentile {sbc['ess_q05']:.0f} of {settings.draws}. Intervals read off a chain with "
                      "few effective draws are too narrow as often as too wide, which costs coverage: with the "
                      "exact DDM likelihood, 200 draws after 200 tuning steps (5th percentile 9) covered 84-85 % "
                      "at 90 % for v and a (benchmarks/validator_calibration.py)."]
        lines += ["", f"![SBC]({plots.name})", ""]
    if base:
        lines += _baseline_lines(sbc, base, params)
    norm = f.get("normalisation", {})
    if norm:
        lines += ["## Normalisation", ""]
        if "within_0.05" in norm:
            lines.append(
                f"The likelihood integrated over rt and summed over choices at {norm['theta']} parameter "
                f"vectors from the box: within 1 +/- 0.05 at {norm['within_0.05']:.1%} (range "
                f"{norm['min']:.3f}-{norm['max']:.3f}, median {norm['median']:.4f})."
            )
        else:
            lines.append(norm.get("note", ""))
        lines.append("")
    if "per_trial" in f:
        from .references import reference

        pt = f["per_trial"]
        floor = reference(report.model).floor
        lines += [
            f"## Against the reference: {pt.get('reference') or reference(report.model).description}",
            "",
            f"Per-trial error (differences over theta at fixed x, across the box): median "
            f"{pt['median']:.3f}, 90th percentile {pt['p90']:.3f} nats ({pt['excluded']:.1%} of points "
            f"excluded where the reference is below {floor:g} (its accuracy) or undefined).",
            "",
            "Posteriors reweighted to the reference by Pareto-smoothed importance sampling:",
            "",
            "| trials | datasets (skipped) | k-hat > 0.7 | " + " | ".join(f"{p}: median shift (worst) / SD ratio" for p in params) + " |",
            "|---|---|---|" + "---|" * len(params),
        ]
        for n, fid in f.get("fidelity", {}).items():
            if "shift_median" in fid:
                cells = " | ".join(
                    f"{fid['shift_median'][p]:.2f} ({fid['shift_worst'][p]:.2f}) / {fid['sd_ratio_median'][p]:.2f}" for p in params
                )
            else:
                cells = " | ".join("-" for _ in params)
            lines.append(f"| {int(n):,} | {fid['datasets']} ({fid.get('skipped', 0)}) | {fid['khat_over_0.7']} | {cells} |")
        lines.append("")
        skipped = [(n, th) for n, fid in f.get("fidelity", {}).items() for th in fid.get("skipped_truths", [])]
        if skipped:
            lines += ["Skipped datasets (the reference has no density at some of their trials), parameters "
                      f"({', '.join(params)}): " + "; ".join(f"{int(n):,} trials {np.round(th, 3).tolist()}" for n, th in skipped), ""]
    path = out / "validation.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _baseline_lines(sbc: dict | None, base: dict, params: list[str]) -> list[str]:
    """The LAN beside the network, on the same calibration datasets."""
    lines = [
        f"## Beside it: the LAN {base['file']} on the same datasets",
        "",
        f"The same {base['datasets']} calibration datasets of {base['trials']} trials, prior, sampler and seeds, "
        f"with the likelihood `hssm.HSSM(..., loglik=\"{base['file']}\", loglik_kind=\"approx_differentiable\")` "
        f"uses (sha256 {base['sha256'][:12]}; {base['unconverged']} stuck chains left out). Each cell: "
        "network / LAN.",
        "",
        "| parameter | SBC: max ECDF gap / 99 % band | " + " | ".join(f"coverage {lv:.0%}" for lv in LEVELS)
        + " | correlation | RMSE / prior SD |",
        "|---|---|" + "---|" * len(LEVELS) + "---|",
    ]

    def pair(key, p, fmt=".2f", sub=None):
        get = (lambda d: d[key][sub][p]) if sub is not None else (lambda d: d[key][p])
        return (f"{get(sbc):{fmt}}" if sbc else "-") + f" / {get(base):{fmt}}"

    for p in params:
        cov = " | ".join(pair("coverage", p, sub=str(lv)) for lv in LEVELS)
        lines.append(f"| {p} | {pair('band_exceedance', p)} | {cov} | {pair('correlation', p)} | "
                     f"{pair('rmse_over_prior_sd', p)} |")
    lines += ["", "LAN: ranks outside the band for " + (", ".join(base["outside_band"]) or "no parameter")
              + "; coverage misses: " + ("; ".join(base["coverage_misses"]) or "none") + ".", ""]
    return lines


def _sbc_plot(rows: list[dict], params: list[str], out: Path, baseline: dict | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sbc = [r for r in rows if r["study"] == "sbc" and "skipped" not in r and r.get("distinct", 1.0) >= 0.5]
    ranks = np.array([r["rank"] for r in sbc])
    n_ranks = min(r["n_ranks"] for r in sbc)
    band = simultaneous_band(len(sbc), n_ranks, alpha=0.01)
    fig, axes = plt.subplots(1, len(params), figsize=(2.6 * len(params), 2.6), sharey=True, squeeze=False)
    for ax, j in zip(axes[0], range(len(params))):
        z, d = ecdf_difference(ranks[:, j], n_ranks)
        ax.fill_between(z, -band, band, color="0.85", label="99 % band")
        ax.plot(z, d, color="darkblue" if np.all(np.abs(d) <= band) else "crimson", label="network")
        ax.axhline(0, color="0.5", lw=0.5)
        ax.set_title(params[j])
        ax.set_xlabel("fractional rank")
    if baseline is not None:  # the LAN's ranks on the same datasets
        lan = [r for r in rows if r["study"] == "baseline" and r.get("baseline_sha256") == baseline["sha256"]
               and "skipped" not in r and r.get("distinct", 1.0) >= 0.5]
        lan_ranks = np.array([r["rank"] for r in lan])
        lan_band = simultaneous_band(len(lan), min(r["n_ranks"] for r in lan), alpha=0.01)
        for ax, j in zip(axes[0], range(len(params))):
            z, d = ecdf_difference(lan_ranks[:, j], min(r["n_ranks"] for r in lan))
            ax.plot(z, d * band / lan_band, color="darkorange", ls="--", label=f"LAN ({baseline['file']})")
    axes[0][0].set_ylabel("ECDF - uniform")
    axes[0][0].legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    path = out / "validation_sbc.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
