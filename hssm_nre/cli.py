"""``hssm-nre``: train, normalise, list, info and compare from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _settings_from(args):
    from .config import TrainSettings

    d = TrainSettings()
    return TrainSettings(
        n_simulations=args.n_simulations or d.n_simulations,
        steps=args.steps or d.steps,
        batch_size=args.batch_size or d.batch_size,
        K=args.K or d.K,
        gamma=args.gamma or d.gamma,
        learning_rate=args.learning_rate or d.learning_rate,
        widths=tuple(int(w) for w in args.widths.split(",")) if args.widths else d.widths,
        evidence_widths=(
            tuple(int(w) for w in args.evidence_widths.split(","))
            if args.evidence_widths
            else d.evidence_widths
        ),
        seed=d.seed if args.seed is None else args.seed,
        extra=({} if args.stop_after_steps is None else {"stop_after_steps": args.stop_after_steps})
        | ({} if args.pad is None else {"pad": args.pad}),
    )


def cmd_train(args) -> int:
    from .config import model_spec
    from .training import train

    spec = model_spec(args.model)  # fails fast on unknown or unsupported names
    if args.features is not None and args.features != spec.features:
        try:
            spec = spec.with_features(args.features)
        except ValueError as e:  # a model these features do not describe
            print(f"error: --features {args.features}: {e}", file=sys.stderr)
            return 2
    try:
        settings = _settings_from(args)
    except ValueError as e:  # a setting out of range (e.g. --gamma -1, --pad 0.9)
        print(f"error: {e}", file=sys.stderr)
        return 2
    entry = train(
        spec,
        settings,
        root=Path(args.cache_dir) if args.cache_dir else None,
        time_limit=None if args.time_limit is None else 60.0 * args.time_limit,
        **({"normaliser": None} if args.no_normaliser else {}),
    )
    m = entry.metadata
    if m.get("stopped_early"):
        print(
            f"Stopped at the {args.time_limit:g}-minute limit after {m['steps_run']:,} of "
            f"{m['planned_steps']:,} steps.",
            file=sys.stderr,
        )
    print(
        f"Trained {spec.name!r}: {m['steps_run']} steps in {m['train_seconds']} s "
        f"(+{m['simulation_seconds']} s simulating). Cached at {entry.path}"
    )
    return 0


def cmd_normalise(args) -> int:
    from .cache import find_network, load_entry
    from .config import model_spec
    from .normalisation import NormaliserSettings, normalise_entry, shift_text

    if args.weights:
        entry = load_entry(args.weights)
        if entry.spec.name != args.model:
            print(f"error: {args.weights} holds a network for {entry.spec.name!r}, not {args.model!r}.", file=sys.stderr)
            return 2
    else:
        model_spec(args.model)  # fails fast on unknown or unsupported names
        entry = find_network(args.model)
    d = NormaliserSettings()
    settings = NormaliserSettings(n_theta=args.n_theta or d.n_theta, steps=args.steps or d.steps)
    print(f"Fitting the normaliser of {entry.source} network {entry.path} ...", file=sys.stderr)
    entry = normalise_entry(entry.path, settings)
    r = entry.metadata["normaliser"]
    print(
        f"Normalised {args.model!r} at {entry.path} in {r['seconds']:.0f} s. Posterior-mean shift from the "
        f"mass error at N = 1,000 trials (held-out median, SDs): {shift_text(r)}."
    )
    return 0


def cmd_list(args) -> int:
    from .cache import list_entries, shipped_models
    from .config import available_models, model_spec
    from .errors import UnsupportedModelError

    shipped = set(shipped_models())
    cached = list_entries()
    rows = []
    for name in available_models():
        try:
            spec = model_spec(name)
            status = "shipped" if name in shipped else ("cached" if name in cached else "trainable")
            if name in shipped and name in cached:
                status = "shipped+cached"
            rows.append((name, len(spec.choices), ",".join(spec.params), status))
        except UnsupportedModelError as e:
            rows.append((name, "-", "-", f"refused: {e}"))
    if args.json:
        print(json.dumps([dict(zip(("model", "choices", "params", "status"), r)) for r in rows], indent=1))
        return 0
    w = max(len(r[0]) for r in rows)
    print(f"{'model':<{w}}  choices  status      params")
    for name, nc, params, status in rows:
        print(f"{name:<{w}}  {nc!s:<7}  {status:<10}  {params}")
    return 0


def _features(spec) -> str:
    return ({"scaling": "DDM scaling + mirror symmetry + exact Wald head"
             + (" with drift variability" if "sv" in spec.params else "")
             + (" with the linear collapse in the drift" if "theta" in spec.params else ""),
             "edge": "generic + leading-edge term",
             "bound": "generic + Durbin head for the collapsing boundary",
             "race": "race: chosen accumulator vs the others as sorted lists + independent-race Wald head",
             "generic": "generic"}[spec.features]
            + (f", shift-aware (u = rt - {'(t - ' + spec.edge_shift[0] + ')' if spec.edge_shift else 't'})"
               if spec.shift else ""))


def cmd_info(args) -> int:
    from .cache import find_network
    from .config import model_spec
    from .errors import NetworkNotFoundError

    spec = model_spec(args.model)
    print(f"model:   {spec.name}")
    print(f"params:  {', '.join(spec.params)}")
    print("box:     " + ", ".join(f"{p} [{lo:g}, {hi:g}]" for p, (lo, hi) in spec.bounds.items()))
    print(f"choices: {list(spec.choices)}")
    print(f"features: {_features(spec)} (for new training)")
    try:
        entry = find_network(spec.name)
    except NetworkNotFoundError as e:
        print(f"network: none ({e})")
        return 0
    m = entry.metadata
    print(f"network: {entry.source} at {entry.path}")
    print(f"  features: {_features(entry.spec)}")
    for key in ("reproduce", "train_seconds", "simulation_seconds", "steps_run", "versions"):
        if key in m:
            print(f"  {key}: {m[key]}")
    norm = m.get("normaliser")
    if norm:
        from .normalisation import shift_text

        print(f"  normaliser: yes ({norm['density']}); shift from the mass error at N = 1,000 "
              f"(held-out median, SDs): {shift_text(norm)}")
    else:
        print("  normaliser: none (add one with `hssm-nre normalise " + spec.name + "`)")
    print(f"  likelihood in hssm.HSSM by default: {m.get('default_likelihood', 'normalised')}")
    validation = m.get("validation")
    if validation:
        print(f"  validation: {validation.get('status')} - {validation.get('summary', '')} "
              f"(record: {entry.path / validation.get('record', 'README.md')})")
    return 0


def cmd_compare(args) -> int:
    from .compare import compare_with_wfpt, simulate_dataset

    truth = {"v": args.v, "a": args.a, "z": args.z, "t": args.t}
    data = simulate_dataset("ddm", args.n_trials, theta=truth, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cmp = compare_with_wfpt(
        data,
        sampler=args.sampler,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        plot_path=out / "posteriors.png",
        truth=truth,
    )
    header = (
        f"DDM, {args.n_trials} simulated trials at {truth}, sampler {args.sampler}, "
        f"{args.chains} chains x ({args.tune} tune + {args.draws} draws), seed {args.seed}."
    )
    md = header + "\n\n" + cmp.to_markdown() + "\n"
    (out / "comparison.md").write_text(md)
    (out / "comparison.json").write_text(json.dumps(
        {"rows": cmp.rows, "seconds_nre": cmp.seconds_nre, "seconds_wfpt": cmp.seconds_wfpt,
         "diagnostics": cmp.diagnostics, "settings": vars(args) | {"func": None}}, indent=1, default=str))
    print(md)
    print(f"Plot: {cmp.plot_path}\nTable: {out / 'comparison.md'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .config import (
        BOUND_FEATURE_MODELS,
        DDM_SCALING_MODELS,
        EDGE_FEATURE_MODELS,
        FEATURE_SETS,
        RACE_FEATURE_MODELS,
    )

    p = argparse.ArgumentParser(prog="hssm-nre", description="Neural ratio estimation likelihoods for HSSM.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train and cache an NRE for an ssm-simulators model")
    t.add_argument("model")
    t.add_argument("--n-simulations", type=int)
    t.add_argument("--steps", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--K", type=int)
    t.add_argument("--gamma", type=float)
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--widths", help="hidden widths, e.g. 128,128,128")
    t.add_argument("--evidence-widths", help="hidden widths of the x-only head, e.g. 64,64")
    t.add_argument("--seed", type=int)
    t.add_argument(
        "--pad",
        type=float,
        metavar="FRACTION",
        help="draw training parameters from the box widened by FRACTION of each range on both sides "
        "(faces at 0 stay, positive lower bounds at most halve, start points stay below 1, levy's alpha "
        "at most 2, angles inside (-pi/2, pi/2)), "
        "so the network has support at HSSM's bounds; HSSM's bounds are unchanged",
    )
    t.add_argument(
        "--stop-after-steps",
        type=int,
        metavar="N",
        help="stop after N steps of the planned schedule (how time-limited networks are reproduced)",
    )
    t.add_argument(
        "--time-limit",
        type=float,
        metavar="MINUTES",
        help="stop training after this many minutes (simulation included), keeping the weights so far",
    )
    t.add_argument(
        "--features",
        choices=list(FEATURE_SETS),
        help="the network's feature set: 'scaling' (the DDM's scaling law, mirror symmetry and exact "
        "Wald head; the DDM, ddm_sdv and angle), 'edge' (generic + the leading-edge term; two-choice models "
        "with a and z), 'bound' (generic + a head started at Durbin's first-passage density for the "
        "collapsing boundary; weibull and angle boundaries), 'race' (race and LCA models: the chosen "
        "accumulator against the others, no one-hot choice, a head started at the race of independent "
        "Wald accumulators) or 'generic' (default: the "
        "model's; scaling for " + ", ".join(sorted(DDM_SCALING_MODELS)) + ", edge for "
        + ", ".join(sorted(EDGE_FEATURE_MODELS))
        + ", bound for " + ", ".join(sorted(BOUND_FEATURE_MODELS))
        + (", race for " + ", ".join(sorted(RACE_FEATURE_MODELS)) if RACE_FEATURE_MODELS else "") + ")",
    )
    t.add_argument(
        "--no-normaliser",
        action="store_true",
        help="skip the normaliser fitted after training (a minute or two; it makes the likelihood "
        "integrate to one for every parameter vector, which removes a posterior bias)",
    )
    t.add_argument("--cache-dir", help="cache root (default: $HSSM_NRE_CACHE_DIR or ~/.cache/hssm_nre)")
    t.set_defaults(func=cmd_train)

    n = sub.add_parser(
        "normalise",
        help="fit the normaliser of a trained network (the one hssm.HSSM would use, or --weights DIR)",
    )
    n.add_argument("model")
    n.add_argument("--weights", metavar="DIR", help="the network's folder (default: the one hssm.HSSM uses)")
    n.add_argument("--n-theta", type=int, help="parameter vectors for the fit (default 8192, as many held out)")
    n.add_argument("--steps", type=int, help="Adam steps of the fit (default 4000)")
    n.set_defaults(func=cmd_normalise)

    ls = sub.add_parser("list", help="list every ssm-simulators model and its NRE status")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    i = sub.add_parser("info", help="show a model's box, features and network")
    i.add_argument("model")
    i.set_defaults(func=cmd_info)

    c = sub.add_parser("compare", help="fit simulated DDM data with NRE and analytic WFPT")
    c.add_argument("--n-trials", type=int, default=1000)
    c.add_argument("--v", type=float, default=0.5)
    c.add_argument("--a", type=float, default=1.2)
    c.add_argument("--z", type=float, default=0.5)
    c.add_argument("--t", type=float, default=0.3)
    c.add_argument("--sampler", default="numpyro", choices=["numpyro", "pymc", "blackjax"])
    c.add_argument("--draws", type=int, default=1000)
    c.add_argument("--tune", type=int, default=1000)
    c.add_argument("--chains", type=int, default=2)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", default="results/compare")
    c.set_defaults(func=cmd_compare)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .errors import NREError

    try:
        return args.func(args)
    except NREError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
