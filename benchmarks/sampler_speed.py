"""NUTS wall time with the NRE against analytic WFPT, per sampler, at 1,000 and 5,000 trials.

    .venv/bin/python benchmarks/sampler_speed.py                       # the table in the issue
    .venv/bin/python benchmarks/sampler_speed.py --n 1000 --samplers numpyro,pymc --draws 300

Same simulated DDM data, same uniform priors over the network's box, same sampler, chains
(run one after another on one process), draws and seed for both likelihoods; HSSM builds both
models (``loglik_kind="nre"`` with the shipped network, and ``"analytical"``). Also timed:
one value-and-gradient evaluation of the model's log density as PyMC compiles it (median of
repeated calls), and the NRE through HSSM's own JAX path (a per-trial callable, which HSSM
wraps in two Ops: the network runs once for the value and again for the gradient), to show
what the fused Op (:mod:`hssm_nre._pytensor_op`) saves under PyMC's NUTS.

Prints a table and writes benchmarks/results/sampler_speed.{md,json}. Ratios are from one run
on one machine; wall times include compilation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def _models(data, kinds):
    import hssm

    import hssm_nre
    from hssm_nre.compare import uniform_box_include
    from hssm_nre.evidence import make_evidence_fn
    from hssm_nre.likelihood import make_log_ratio_fn

    spec = hssm_nre.model_spec("ddm")
    include = uniform_box_include(spec)
    out = {}
    for kind in kinds:
        if kind == "nre":
            out[kind] = hssm.HSSM(data=data, model="ddm", loglik_kind="nre", include=include, p_outlier=0)
        elif kind == "wfpt":
            out[kind] = hssm.HSSM(data=data, model="ddm", loglik_kind="analytical", include=include, p_outlier=0)
        elif kind == "nre_two_ops":  # the same network through HSSM's callable path (value and VJP Ops)
            entry = hssm_nre.find_network("ddm")
            f = make_log_ratio_fn(spec, entry.weights, evidence=make_evidence_fn(spec, entry.evidence))
            out[kind] = hssm.HSSM(
                data=data, model="ddm", loglik_kind="approx_differentiable", loglik=f, include=include,
                p_outlier=0, model_config={"backend": "jax", "bounds": spec.bounds},
            )
    return out


def _grad_eval_seconds(model, repeats: int = 30) -> float:
    pm_model = model.pymc_model
    fn = pm_model.logp_dlogp_function(ravel_inputs=True)
    fn.set_extra_values({})
    x = np.concatenate([np.ravel(v) for v in pm_model.initial_point().values()])
    fn(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", default="1000,5000", help="trial counts")
    ap.add_argument("--samplers", default="numpyro,pymc,nutpie,blackjax")
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(RESULTS / "sampler_speed"))
    args = ap.parse_args()

    from hssm_nre.simulate import simulate_dataset

    rows = []
    for n in (int(x) for x in args.n.split(",")):
        data = simulate_dataset("ddm", n, theta={"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3}, seed=args.seed)
        models = _models(data, ["nre", "wfpt", "nre_two_ops"])
        evals = {k: _grad_eval_seconds(m) for k, m in models.items()}
        print(f"N = {n}: one value+gradient (PyMC-compiled): " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in evals.items()))
        for sampler in args.samplers.split(","):
            kinds = ["nre", "wfpt"] + (["nre_two_ops"] if sampler == "pymc" else [])
            seconds = {}
            for kind in kinds:
                m = _models(data, [kind])[kind]
                kw = dict(draws=args.draws, tune=args.tune, chains=args.chains, random_seed=args.seed, progressbar=False)
                if sampler == "pymc":
                    kw["cores"] = 1
                if sampler == "blackjax":  # one CPU device: chains side by side, not one per device
                    kw["nuts_sampler_kwargs"] = {"chain_method": "vectorized"}
                t0 = time.perf_counter()
                idata = m.sample(sampler=sampler, **kw)
                seconds[kind] = time.perf_counter() - t0
                assert idata["posterior"].attrs["inference_library"] == sampler
            row = {
                "n_trials": n,
                "sampler": sampler,
                "nre_s": round(seconds["nre"], 1),
                "wfpt_s": round(seconds["wfpt"], 1),
                "ratio": round(seconds["nre"] / seconds["wfpt"], 2),
                "nre_two_ops_s": round(seconds["nre_two_ops"], 1) if "nre_two_ops" in seconds else None,
                "grad_eval_ms": {k: round(v * 1e3, 3) for k, v in evals.items()},
            }
            rows.append(row)
            print(row, flush=True)
    lines = [
        f"NUTS wall time, NRE (shipped DDM network) vs analytic WFPT, through HSSM; {args.chains} chains x "
        f"({args.tune} tune + {args.draws} draws), one after another; {platform.node()}, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}. Wall times include compilation.",
        "",
        "| trials | sampler | NRE (s) | WFPT (s) | NRE / WFPT | NRE, HSSM's two-Op path (s) | value+grad: NRE / WFPT / two-Op (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g = r["grad_eval_ms"]
        lines.append(
            f"| {r['n_trials']:,} | {r['sampler']} | {r['nre_s']} | {r['wfpt_s']} | **{r['ratio']}** | "
            f"{r['nre_two_ops_s'] if r['nre_two_ops_s'] is not None else '-'} | "
            f"{g['nre']} / {g['wfpt']} / {g['nre_two_ops']} |"
        )
    cmd = "`.venv/bin/python benchmarks/sampler_speed.py" + "".join(
        f" --{k} {getattr(args, k)}" for k in ("draws", "tune", "chains") if getattr(args, k) != ap.get_default(k)
    ) + "`"
    lines += [
        "",
        "Targets (issue 19): NRE / WFPT <= 1.0 with numpyro and <= 1.2 with PyMC's NUTS, at 1,000 and "
        f"5,000 trials. Reproduce: {cmd}.",
        "",
        "What was tried (each measured before it was kept): the network runs in float32 inside a float64 "
        "likelihood (2.8x faster gradients than float64); the PyMC path is one fused Op for value and "
        "gradient (the 'two-Op' column is HSSM's own JAX path, which runs the network twice per step); "
        "the evidence term is evaluated without a search (0.16 ms per 5,000 trials, was 2.3). What is left "
        "is the network itself: the 3 x 128 MLP costs more per trial than the WFPT series, and only a "
        "smaller network (retrained, then re-validated) can close that gap. Wall times on this 2-core "
        "machine vary by up to 2x between runs (the PyMC row at 1,000 trials measured 1.15 in an "
        "earlier, interrupted run the same day while other work shared the machine): read the ratios as a range.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
