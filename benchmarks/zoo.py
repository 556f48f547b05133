"""The model zoo: every ssm-simulators model trained at a small budget, loaded, checked and sampled.

    .venv/bin/python benchmarks/zoo.py                     # every model (~1 h on 2 cores)
    .venv/bin/python benchmarks/zoo.py --models ddm,angle  # some
    .venv/bin/python benchmarks/zoo.py --resume            # skip models already in the table
    .venv/bin/python benchmarks/zoo.py --resume --retry-failed
    .venv/bin/python benchmarks/zoo.py --resume --redo full_ddm,ddm_st   # rerun some rows

Models run in batches of ``--batch`` per subprocess (a batch that crashes or hangs is rerun one
model per subprocess, so one bad model cannot stop the rest; ``--timeout`` seconds per model):

1. ``model_spec`` (refused models are listed with the reason);
2. ``train`` with a plumbing budget (20,000 simulations, 60 steps of batch 256, and a
   normaliser fitted at 256 parameter vectors) into a temporary cache: this checks the
   simulator config, the constraints and the training code path, not fidelity;
3. the network loads, and its log-likelihood and gradient with respect to every parameter are
   finite on 512 (theta, x) pairs across the training box (x simulated from theta, plus the
   same x against fresh theta from the box);
4. ``hssm.HSSM(model=NAME, loglik_kind="nre")`` on 100 trials simulated at the model's
   default parameters samples (numpyro, 1 chain x (30 + 30)) with finite draws.

Writes benchmarks/results/zoo.md and zoo.json (model, choices, params, status, reason, seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
BUDGET = dict(n_simulations=20_000, steps=60, batch_size=256)
#: the normaliser at a plumbing budget too (hssm_nre.normalisation.NormaliserSettings)
NORMALISER = dict(n_theta=256, n_grid=200, steps=200, widths=(16, 16))


def check_one(name: str) -> dict:
    """Run the four checks for one model; returns a result row (never raises)."""
    row = {"model": name, "choices": None, "params": None, "status": "ok", "reason": "", "stage": ""}
    t0 = time.perf_counter()
    try:
        row["stage"] = "spec"
        import numpy as np

        import hssm_nre
        from hssm_nre.errors import UnsupportedModelError

        try:
            spec = hssm_nre.model_spec(name)
        except UnsupportedModelError as e:
            row.update(status="refused", reason=str(e))
            return row
        row["choices"] = len(spec.choices)
        row["params"] = ",".join(spec.params)

        row["stage"] = "train"
        from hssm_nre.config import TrainSettings
        from hssm_nre.training import train

        with tempfile.TemporaryDirectory() as root:
            from hssm_nre.normalisation import NormaliserSettings

            entry = train(spec, TrainSettings(**BUDGET), root=Path(root), progress=False,
                          normaliser=NormaliserSettings(**NORMALISER))
            row["train_seconds"] = entry.metadata.get("train_seconds")
            row["simulation_seconds"] = entry.metadata.get("simulation_seconds")
            row["normaliser_seconds"] = entry.metadata["normaliser"]["seconds"]

            row["stage"] = "finite"
            import jax
            import jax.numpy as jnp

            from hssm_nre.evidence import make_evidence_fn
            from hssm_nre.likelihood import make_log_ratio_fn
            from hssm_nre.simulate import sample_parameters, simulate_chunk

            f = make_log_ratio_fn(spec, entry.weights, evidence=make_evidence_fn(spec, entry.evidence))
            sim = simulate_chunk(spec, 256, np.random.SeedSequence(5))
            fresh = sample_parameters(spec, len(sim["rt"]), np.random.default_rng(6))
            theta = np.vstack([sim["theta"], fresh]).astype(np.float64)
            data = np.column_stack([np.tile(sim["rt"], 2), np.tile(sim["choice"], 2)]).astype(np.float64)

            def total(th, d):
                return f(d, *[th[i] for i in range(spec.n_params)])

            val = jax.vmap(total)(jnp.asarray(theta), jnp.asarray(data))
            grad = jax.vmap(jax.grad(total))(jnp.asarray(theta), jnp.asarray(data))
            n_bad = int((~np.isfinite(np.asarray(val))).sum() + (~np.isfinite(np.asarray(grad))).any(axis=1).sum())
            row["n_pairs"] = int(len(theta))
            if n_bad:
                row.update(status="failed", reason=f"{n_bad} of {len(theta)} (theta, x) pairs non-finite")
                return row

            row["stage"] = "sample"
            import hssm

            from hssm_nre.simulate import simulate_dataset

            # ssm-simulators' default parameters, moved into the training box where a config's
            # defaults lie outside its own bounds (e.g. theta = 1.0 vs [0, 0.5] in *_conflict_gamma_*)
            import ssms

            default = np.clip(np.asarray(ssms.config.model_config[name]["default_params"], float),
                              np.asarray(spec.lower), np.asarray(spec.upper))
            df = simulate_dataset(name, 100, theta=dict(zip(spec.params, default.tolist())), seed=7)
            df = df[np.isin(df.response, spec.choices) & (df.rt > 0)]
            m = hssm.HSSM(data=df, model=name, loglik_kind="nre", nre_weights=entry.path)
            idata = m.sample(draws=30, tune=30, chains=1, progressbar=False, random_seed=1)
            post = idata["posterior"]
            post = post.to_dataset() if hasattr(post, "to_dataset") else post
            finite = all(np.all(np.isfinite(np.asarray(post[p].values))) for p in spec.params if p in post)
            if not finite:
                row.update(status="failed", reason="non-finite posterior draws")
    except Exception as e:  # the table lists every failure with its reason
        row.update(status="failed", reason=f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}")
    finally:
        row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=None, help="comma list (default: every ssm-simulators model)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--timeout", type=int, default=600, help="seconds per model")
    ap.add_argument("--batch", type=int, default=8, help="models per subprocess")
    ap.add_argument("--resume", action="store_true", help="keep rows already in zoo.json")
    ap.add_argument("--retry-failed", action="store_true", help="with --resume: rerun the failed rows")
    ap.add_argument("--redo", default=None, help="with --resume: comma list of models to rerun (e.g. after a fix)")
    args = ap.parse_args()
    if args.one:  # a batch of models, one row printed as each finishes
        for name in args.one.split(","):
            print("ZOO_ROW " + json.dumps(check_one(name)), flush=True)
        return

    import hssm_nre

    models = args.models.split(",") if args.models else hssm_nre.available_models()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "zoo.json"
    rows = {r["model"]: r for r in json.loads(path.read_text())["rows"]} if (args.resume and path.is_file()) else {}
    if args.retry_failed:
        rows = {k: r for k, r in rows.items() if r["status"] != "failed"}
    if args.redo:
        rows = {k: r for k, r in rows.items() if k not in args.redo.split(",")}
    env = dict(os.environ, KERAS_BACKEND="jax")
    t_all = time.perf_counter()
    todo = [m for m in models if m not in rows]
    # Batches share one interpreter start (imports take ~10 s); a model that crashes or hangs
    # its batch is retried alone, so it cannot take the others' rows with it.
    queue = [todo[i : i + args.batch] for i in range(0, len(todo), args.batch)]
    while queue:
        batch = queue.pop(0)
        got = _run_batch(batch, args.timeout * len(batch), env)
        for name in batch:
            if name in got:
                rows[name] = got[name]
                print(f"[{len(rows)}/{len(models)}] {name}: {got[name]['status']} "
                      f"{got[name].get('reason', '')[:120]} ({got[name].get('seconds')} s)", flush=True)
        missing = [m for m in batch if m not in got]
        if missing and len(batch) > 1:
            queue = [[m] for m in missing] + queue
        elif missing:
            rows[missing[0]] = {"model": missing[0], "status": "failed", "reason": got.get("_error", "no result")}
            print(f"[{len(rows)}/{len(models)}] {missing[0]}: failed {rows[missing[0]]['reason'][:120]}", flush=True)
        _write(rows, path)
    _write(rows, path)
    print(f"done in {time.perf_counter() - t_all:.0f} s; wrote {RESULTS / 'zoo.md'}")


def _run_batch(batch: list[str], timeout: int, env: dict) -> dict:
    """Run ``check_one`` over ``batch`` in one subprocess; rows by model name (+ ``_error``)."""
    got: dict = {}
    try:
        p = subprocess.run([sys.executable, __file__, "--one", ",".join(batch)], capture_output=True, text=True,
                           timeout=timeout, env=env)
        out, err, code = p.stdout, p.stderr, p.returncode
        got["_error"] = f"process exited {code}: " + ((err.strip().splitlines() or ["no output"])[-1][:300])
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        got["_error"] = f"timed out after {timeout} s"
    for ln in out.splitlines():
        if ln.startswith("ZOO_ROW "):
            row = json.loads(ln[len("ZOO_ROW "):])
            got[row["model"]] = row
    return got


def _write(rows: dict, path: Path) -> None:
    ordered = [rows[k] for k in sorted(rows)]
    counts = {s: sum(r["status"] == s for r in ordered) for s in ("ok", "refused", "failed")}
    path.write_text(json.dumps({"machine": platform.node(), "budget": BUDGET, "rows": ordered}, indent=1))
    lines = [
        "# Model zoo",
        "",
        f"Every ssm-simulators model, trained at a plumbing budget ({BUDGET['n_simulations']:,} simulations, "
        f"{BUDGET['steps']} steps of batch {BUDGET['batch_size']}) in a temporary cache, then: the network loads; "
        "its log-likelihood and gradients are finite on 512 (theta, x) pairs across the training box; "
        "`hssm.HSSM(model=NAME, loglik_kind=\"nre\")` samples 100 simulated trials (numpyro, 1 x (30 + 30)). "
        "This checks that every model trains and runs end to end, not the fidelity of a small-budget network. "
        "The normaliser column gives the seconds its fit took (at 256 parameter vectors), '-' for rows run "
        "before networks had one. "
        f"Machine: {platform.node()}. Reproduce: `.venv/bin/python benchmarks/zoo.py`.",
        "",
        f"**{counts['ok']} ok, {counts['refused']} refused, {counts['failed']} failed** of {len(ordered)}.",
        "",
        "| model | choices | params | status | seconds | normaliser | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in ordered:
        reason = (r.get("reason") or "").replace("|", "/")
        lines.append(f"| {r['model']} | {r.get('choices') or '-'} | {(r.get('params') or '-').replace(',', ', ')} | "
                     f"{r['status']} | {r.get('seconds', '')} | {r.get('normaliser_seconds') or '-'} | {reason} |")
    (RESULTS / "zoo.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
