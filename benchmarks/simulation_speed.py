"""Simulation throughput for training data: trials per second, by model and worker count.

    .venv/bin/python benchmarks/simulation_speed.py [--n 1000000] [--models ddm,angle]

Prints a table and writes benchmarks/results/simulation_speed.md. Target (issue 2):
at least 40,000 ddm trials per second on 2 cores.
"""

import argparse
import platform
import time
from pathlib import Path

from hssm_nre.config import model_spec
from hssm_nre.simulate import default_workers, simulate_training_data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--models", default="ddm,angle,race_3")
    args = ap.parse_args()
    rows = []
    for name in args.models.split(","):
        spec = model_spec(name)
        for workers in sorted({1, default_workers()}):
            t0 = time.perf_counter()
            d = simulate_training_data(spec, args.n, seed=0, n_workers=workers, progress=False)
            dt = time.perf_counter() - t0
            rows.append((name, workers, args.n, dt, args.n / dt, d["n_dropped"]))
    lines = [
        f"Simulation throughput on {platform.node()} ({default_workers()} cores), "
        f"{time.strftime('%Y-%m-%d %H:%M')}",
        "",
        "| model | workers | trials | seconds | trials/s | dropped (timeouts) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {m} | {w} | {n:,} | {dt:.1f} | {r:,.0f} | {drop} |" for m, w, n, dt, r, drop in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(__file__).parent / "results" / "simulation_speed.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
