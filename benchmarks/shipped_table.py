"""One table of every shipped network: its reference, its `hssm-nre validate` figures and how it
was trained (issue #21's "done means" table), read from the networks' metadata; runs in seconds.

    .venv/bin/python benchmarks/shipped_table.py

Columns: the reference likelihood (or none); at 1,000 and at 5,000 trials, the median over
parameters of the per-parameter median posterior-mean shift from the reference posterior and
the worst single shift (reference SDs), with the SD-ratio range; the per-trial error of
differences over theta (median / 90th percentile, nats); SBC (parameters whose rank ECDF
leaves the 99 % band, coverage misses and the calibration chains); the verdict; the training command and its time
(simulation + training + normaliser) and machine. Records made before the reweighting fix of
2026-12-03 are marked: their shifts have the right size but SD ratios do not carry over.

Writes ``benchmarks/results/shipped_networks.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hssm_nre.cache import shipped_dir
from hssm_nre.validation.references import has_reference, reference

OUT = Path(__file__).parent / "results" / "shipped_networks.md"
FIX_NOTE = "Note (2026-12-03)"


def _fidelity(fig: dict | None) -> str:
    if not fig or not fig.get("datasets"):
        return "-"
    if "shift_median" not in fig:  # every dataset's k-hat above 0.7: no reliable figure
        return f"none reliable ({fig['datasets']} datasets, k-hat > 0.7)"
    med = float(np.median(list(fig["shift_median"].values())))
    worst = max(fig["shift_worst"].values())
    lo, hi = fig["sd_ratio_range"]
    unreliable = fig.get("khat_over_0.7", 0)
    left_out = f", {unreliable} with k-hat > 0.7 left out" if unreliable else ""
    return f"{med:.2f} / {worst:.2f} ({fig['datasets']} dataset{'s' if fig['datasets'] != 1 else ''}{left_out}); {lo:.2f}-{hi:.2f}"


def _reference(name: str, meta: dict) -> str:
    """The reference a network's record was compared with (older records do not name it)."""
    if not has_reference(name):
        return "none"
    return reference(name, continuous=bool(meta.get("spec", {}).get("boundary_correction"))).description


def _minutes(meta: dict) -> str:
    sim, train = meta.get("simulation_seconds") or 0.0, meta.get("train_seconds") or 0.0
    norm = (meta.get("normaliser") or {}).get("seconds") or 0.0
    return f"{(sim + train + norm) / 60:.0f} min"


def _machine(meta: dict) -> str:
    on = meta.get("trained_on") or "machine not recorded"
    return "GPU (H200)" if "H200" in on else ("2-core CPU" if "2-core" in on else on)


def rows() -> list[dict]:
    out = []
    for folder in sorted(p for p in shipped_dir().iterdir() if (p / "metadata.json").is_file()):
        meta = json.loads((folder / "metadata.json").read_text())
        v = meta.get("validation") or {}
        fig = v.get("figures", {})
        sbc = fig.get("sbc", {})
        per = fig.get("per_trial")
        record = folder / "validation.md"
        out.append({
            "model": folder.name,
            "reference": (per or {}).get("reference") or _reference(folder.name, meta),
            "1000": _fidelity(fig.get("fidelity", {}).get("1000")),
            "5000": _fidelity(fig.get("fidelity", {}).get("5000")),
            "per_trial": f"{per['median']:.3f} / {per['p90']:.3f}" if per else "-",
            "sbc": (("ranks out: " + ", ".join(sbc["outside_band"])) if sbc.get("outside_band") else "ranks in")
            + f"; {len(sbc.get('coverage_misses', []))} coverage misses"
            # the calibration chains (draws after tuning steps): 200 + 200 was too short for intervals
            + f" ({v['settings']['draws']} draws, {v['settings']['tune']} tuning)" if sbc else "-",
            "verdict": v.get("status", "none"),
            "before_fix": record.is_file() and FIX_NOTE in record.read_text(),
            "command": meta.get("reproduce", "?"),
            "time": f"{_minutes(meta)} ({_machine(meta)})",
        })
    return out


def main() -> None:
    rs = rows()
    md = ["# Shipped networks: reference, fidelity, calibration, training", "",
          "`.venv/bin/python benchmarks/shipped_table.py` (from each network's metadata). Shift: median over "
          "parameters of the per-parameter median / the worst single shift, in reference SDs (datasets); then "
          "the SD-ratio range. SBC: the calibration fits' draws after tuning steps in brackets; records made "
          "with 200 and 200 may show coverage misses of those short chains "
          "(`benchmarks/results/validator_calibration.md`)." + (" * = record made before the reweighting fix of 2026-12-03 (shifts about "
                                   "right, SD ratios not)." if any(r["before_fix"] for r in rs) else ""), "",
          "| model | reference | 1,000 trials: shift median / worst; SD ratio | 5,000 trials | per-trial error "
          "median / p90 (nats) | SBC | verdict | training command | time |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in rs:
        star = "*" if r["before_fix"] else ""
        s1, s5 = (r[k] + (star if r[k] != "-" else "") for k in ("1000", "5000"))
        md.append(f"| {r['model']} | {r['reference']} | {s1} | {s5} | {r['per_trial']} | "
                  f"{r['sbc']} | {r['verdict']} | `{r['command']}` | {r['time']} |")
    OUT.write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
