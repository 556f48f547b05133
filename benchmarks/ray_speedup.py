"""One validation run on a Ray cluster of 1 and of 2 worker nodes: the speed-up.

    .venv/bin/python benchmarks/ray_speedup.py            # ddm, 40 calibration + 4 reference fits
    .venv/bin/python benchmarks/ray_speedup.py --model angle --sbc-datasets 20

Each cluster is started on this machine (``ray.cluster_utils.Cluster``: a head raylet, plus a
worker raylet for the 2-node run, one CPU each, on loopback) inside a network namespace of its
own (the script re-runs itself under ``unshare --net`` with only loopback up), so nothing Ray
probes at start-up leaves the machine. Each node is pinned to a core of its own (its processes
inherit the CPU affinity in force when it starts): without that, one node's worker uses both
cores of a 2-core machine (JAX's CPU thread pool) and the 1-node baseline is not one worker. The same validation (same settings and seed, a fresh
checkpoint) runs on each; a second call on the finished checkpoint has no fit left and times
the driver's own share (per-trial error, normalisation, report), which does not parallelise.
Writes ``benchmarks/results/ray_speedup.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="ddm")
    ap.add_argument("--sbc-datasets", type=int, default=40)
    ap.add_argument("--fidelity-datasets", type=int, default=4)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.helpers import loopback_only

    if not loopback_only():
        if os.environ.get("HSSM_NRE_IN_NETNS"):  # already re-run once: do not loop
            raise SystemExit("in a new network namespace, an interface other than loopback is up")
        user = [] if os.geteuid() == 0 else ["--map-root-user"]
        cmd = f"ip link set lo up && HSSM_NRE_IN_NETNS=1 exec {shlex.join([sys.executable, *sys.argv])}"
        env = os.environ | {"PATH": os.environ.get("PATH", "") + ":/usr/sbin:/sbin"}
        return subprocess.call(["unshare", "--net", *user, "--", "sh", "-c", cmd], env=env)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    from ray.cluster_utils import Cluster

    from hssm_nre.validation import ValidationSettings, validate

    s = ValidationSettings(sbc_datasets=args.sbc_datasets, fidelity_trials=(1000,),
                           fidelity_datasets=(args.fidelity_datasets,), fidelity_draws=300,
                           per_trial_x=100, normalisation_theta=100, chunk=2)
    node = {"num_cpus": 1, "object_store_memory": 100 * 2**20}
    rows = []
    cores = sorted(os.sched_getaffinity(0))
    for n_nodes in (1, 2):
        # each node's processes (raylet, and the workers it starts) inherit the affinity in force
        # when it starts: one core per node, as on a cluster; the driver gets every core back
        os.sched_setaffinity(0, {cores[0]})
        c = Cluster(initialize_head=True, head_node_args=node | {"include_dashboard": False})
        for i in range(1, n_nodes):
            os.sched_setaffinity(0, {cores[i % len(cores)]})
            c.add_node(**node)
        os.sched_setaffinity(0, cores)
        c.wait_for_nodes()
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            report = validate(args.model, settings=s, address=c.address, out=out, write_metadata=False)
            total = time.perf_counter() - t0
            t0 = time.perf_counter()
            validate(args.model, settings=s, address=c.address, out=out, write_metadata=False, progress=False)
            driver = time.perf_counter() - t0
        c.shutdown()
        rows.append({"workers": n_nodes, "total_s": total, "driver_s": driver, "fits_s": total - driver,
                     "status": report.status, "summary": report.summary})
        print(rows[-1], flush=True)
    one, two = rows
    speedup = {"fits": one["fits_s"] / two["fits_s"], "total": one["total_s"] / two["total_s"]}
    n_fits = s.sbc_datasets + args.fidelity_datasets
    md = [
        f"# Ray: one validation run on 1 and 2 worker nodes ({args.model})",
        "",
        f"{time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores. Reproduce: "
        f"`.venv/bin/python benchmarks/ray_speedup.py --model {args.model} --sbc-datasets {args.sbc_datasets} "
        f"--fidelity-datasets {args.fidelity_datasets}`.",
        "",
        f"The same `hssm_nre.validate` run ({n_fits} fits: {s.sbc_datasets} calibration datasets of "
        f"{s.sbc_trials} trials, {args.fidelity_datasets} of 1,000 trials against the reference; chunks of "
        f"{s.chunk}) on a Ray cluster started on this machine, one CPU per node (pinned to a core of its own), on loopback. "
        "*Driver* is the run's own share after the fits (per-trial error, normalisation, report): "
        "a second call on the finished checkpoint, which has no fit left.",
        "",
        "| worker nodes | total | fits | driver | verdict |",
        "|---|---|---|---|---|",
        *[f"| {r['workers']} | {r['total_s']:.0f} s | {r['fits_s']:.0f} s | {r['driver_s']:.0f} s | {r['status']} |"
          for r in rows],
        "",
        f"**Speed-up, 1 -> 2 workers: {speedup['fits']:.2f}x on the fits, {speedup['total']:.2f}x in all.** "
        "The fits are independent, so the ideal is 2x on the fits; what is lost is each worker's start "
        "(importing JAX and compiling the sampler once per trial count) and the last tasks, when one "
        "worker idles. This machine has 2 cores, so the 2-node cluster leaves no core for the driver.",
        "",
        *[f"Verdict with {r['workers']} worker(s): {r['status']}, {r['summary']}" for r in rows],
        "",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ray_speedup.md").write_text("\n".join(md))
    (RESULTS / "ray_speedup.json").write_text(json.dumps({"model": args.model, "rows": rows, "speedup": speedup,
                                                          "settings": s.__dict__ | {}}, indent=1, default=list))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
