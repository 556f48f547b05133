"""Shared report plumbing for the benchmark scripts: run a section, rewrite the markdown and JSON."""

from __future__ import annotations

import json
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


def write_report(report: dict, header: list[str], order: list[str], md_path: Path, json_path: Path) -> None:
    """Write the markdown (header, then sections in ``order``) and the JSON, after every section."""
    md = header + [report["md"][k] for k in order if k in report.get("md", {})]
    md_path.write_text("\n\n".join(md) + "\n")
    json_path.write_text(json.dumps(report, indent=1, default=str))
