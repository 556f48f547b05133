"""Shared report plumbing for the benchmark scripts: run a section, rewrite the markdown and JSON."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path


def run_section(report: dict, name: str, fn: Callable[[], tuple]) -> None:
    """Run ``fn`` (returns ``(result, markdown)``), store both under ``name`` with a timed heading."""
    t0 = time.perf_counter()
    stamp = time.strftime("%Y-%m-%d %H:%M")
    print(f"== {name} ...", flush=True)
    res, text = fn()
    report[name] = res
    report.setdefault("md", {})[name] = f"## {name} (run {stamp}, {time.perf_counter() - t0:.0f} s)\n\n{text}"
    print(text, flush=True)


def verdict(rows: list[dict], target_sd: float = 0.25) -> tuple[float, tuple[float, float], bool]:
    """Worst |mean diff| / analytic sd, the sd-ratio range, and whether both meet the targets."""
    worst = max(r["abs_diff_over_sd"] for r in rows)
    sdr = [r["sd_ratio"] for r in rows]
    return worst, (min(sdr), max(sdr)), worst <= target_sd and 0.9 <= min(sdr) and max(sdr) <= 1.1


def coverage_misses(coverage, params, n: int, tol_se: float) -> list[tuple[str, float, float]]:
    """``(param, level, coverage)`` for each central-interval coverage below ``level - tol_se``
    Monte Carlo SEs over ``n`` datasets; ``coverage`` maps a level (or its string) to one
    coverage per parameter. Parameter-major order."""
    levels = sorted(coverage, key=float)
    out = []
    for j, p in enumerate(params):
        for lv in levels:
            level, c = float(lv), float(coverage[lv][j])
            if c < level - tol_se * math.sqrt(level * (1 - level) / n):
                out.append((p, level, c))
    return out


def recovery_table(kind: dict, params, n: int) -> list[str]:
    """Markdown rows: per parameter, recovery (corr, RMSE and posterior sd over prior sd) and
    central-interval coverage, then the coverage's Monte Carlo SE over ``n`` datasets.
    ``kind`` is one entry of a recovery JSON's ``kinds``."""
    levels = sorted(kind["coverage"], key=float)
    rows = ["| param | corr(mean, truth) | RMSE / prior sd | post sd / prior sd | cover 50 % | cover 90 % | cover 95 % |",
            "|---|---|---|---|---|---|---|"]
    for j, p in enumerate(params):
        rows.append(f"| {p} | {kind['corr'][j]:.3f} | {kind['rmse_over_prior_sd'][j]:.3f} | "
                    f"{kind['sd_over_prior_sd'][j]:.3f} | "
                    + " | ".join(f"{kind['coverage'][lv][j]:.2f}" for lv in levels) + " |")
    se = [math.sqrt(float(lv) * (1 - float(lv)) / n) for lv in levels]
    rows.append("| MC SE of coverage | | | | " + " | ".join(f"{x:.3f}" for x in se) + " |")
    return rows


def write_report(report: dict, header: list[str], order: list[str], md_path: Path, json_path: Path) -> None:
    """Write the markdown (header, then sections in ``order``) and the JSON, after every section."""
    md = header + [report["md"][k] for k in order if k in report.get("md", {})]
    md_path.write_text("\n\n".join(md) + "\n")
    json_path.write_text(json.dumps(report, indent=1, default=str))
