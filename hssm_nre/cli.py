"""``hssm-nre``: train, normalise, list, info and compare from the shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _settings_from(args):
    """TrainSettings from parsed ``hssm-nre train`` options (one table: config.TRAIN_FLAGS)."""
    from .config import TRAIN_FLAGS, settings_from_flags

    return settings_from_flags({f.field: getattr(args, f.field) for f in TRAIN_FLAGS})


def cmd_train(args) -> int:
    from .config import model_spec
    from .training import train

    if args.models is not None or args.all:
        return _train_many(args)
    if args.model is None:
        print("error: name a model (hssm-nre train MODEL), or several with --models A,B or --all.", file=sys.stderr)
        return 2
    if args.address is not None or args.workers is not None:
        print("error: --address and --workers spread several trainings (--models, --all); one model trains here.",
              file=sys.stderr)
        return 2
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
        pin=args.pin,
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
    if args.pin:
        print(f"Pinned: hssm.HSSM(model={spec.name!r}, loglik_kind='nre') uses this network.")
    else:
        from .cache import find_network

        used = find_network(spec.name, root=Path(args.cache_dir) if args.cache_dir else None, warn=False)
        if used.path == entry.path and used.passed_over:
            print(f"hssm.HSSM(model={spec.name!r}, loglik_kind='nre') uses this network: {used.passed_over}")
        elif used.path != entry.path:
            where = f" --cache-dir {args.cache_dir}" if args.cache_dir else ""
            print(
                f"hssm.HSSM(model={spec.name!r}, loglik_kind='nre') keeps using {used.reason.split(';')[0]} "
                f"({used.path}); to use this one, `hssm-nre cache pin {spec.name} {entry.path.name}{where}` "
                f"or pass nre_weights='{entry.path}'."
            )
    return 0


def _train_many(args) -> int:
    """hssm-nre train --models A,B,C / --all: one training per model, as tasks on worker processes
    (one at a time by default: each training uses every core) or on a Ray cluster (--address)."""
    from .cache import shipped_models
    from .config import model_spec
    from .distributed import run_tasks
    from .training import train_task

    if args.model is not None:
        print("error: give either MODEL or --models / --all, not both.", file=sys.stderr)
        return 2
    names = shipped_models() if args.all else [m.strip() for m in args.models.split(",") if m.strip()]
    if not names:
        print("error: --models names no model.", file=sys.stderr)
        return 2
    try:
        settings = _settings_from(args)
        specs = [model_spec(m) for m in names]  # unknown or unsupported names fail before any training
        if args.features is not None:
            specs = [s.with_features(args.features) for s in specs]
    except ValueError as e:  # a setting out of range, or features a model cannot take
        print(f"error: {e}", file=sys.stderr)
        return 2
    tasks = [
        {"model": s.name, "features": s.features, "settings": settings.to_dict(), "cache_dir": args.cache_dir,
         "time_limit": None if args.time_limit is None else 60.0 * args.time_limit, "pin": args.pin,
         "normaliser": not args.no_normaliser}
        for s in specs
    ]
    where = f"on the Ray cluster at {args.address}" if args.address else (
        "in this process" if args.workers == 0 else f"on {args.workers or 1} worker process(es)")
    print(f"Training {len(tasks)} networks ({', '.join(names)}) {where}.", file=sys.stderr)

    def report(task, result):
        print(f"Trained {result['model']!r}: {result['steps_run']} steps in {result['train_seconds']} s "
              f"(+{result['simulation_seconds']} s simulating). Cached at {result['path']}", flush=True)

    run_tasks(train_task, tasks, address=args.address, workers=1 if args.workers is None else args.workers,
              on_result=report, desc="trainings", progress=True)
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
        from .cache import scan
        from .errors import NetworkNotFoundError

        model_spec(args.model)  # fails fast on unknown or unsupported names
        entry = find_network(args.model)
        if entry.source == "shipped":  # never write into the installed package: the newest cache entry
            cached = [r.entry for r in scan(model=args.model) if r.usable]
            if not cached:
                raise NetworkNotFoundError(
                    f"{args.model!r} has no cache entry to normalise; its network is the shipped one "
                    f"({entry.path}), which is not changed in place. Copy it and pass --weights COPY."
                )
            entry = cached[0]
            print(
                f"The {args.model!r} network in use is the shipped one, which is not changed in place; "
                f"normalising the newest cache entry instead ({entry.path}; pin it with "
                f"`hssm-nre cache pin {args.model} {entry.path.name}` to use it).",
                file=sys.stderr,
            )
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
    from .cache import scan, shipped_models
    from .config import available_models, model_spec
    from .errors import UnsupportedModelError

    shipped = set(shipped_models())
    records = scan()
    rows = []
    for name in available_models():
        try:
            spec = model_spec(name)
        except UnsupportedModelError as e:
            rows.append((name, "-", "-", f"refused: {e}"))
            continue
        mine = [r for r in records if r.model == name]
        n_ok = sum(r.usable for r in mine)
        status = "+".join(
            [s for s, on in (("shipped", name in shipped), ("cached", n_ok > 0)) if on]
        ) or "trainable"
        if len(mine) > n_ok:
            status += f" ({len(mine) - n_ok} unusable cache entr{'y' if len(mine) - n_ok == 1 else 'ies'}: `hssm-nre cache`)"
        rows.append((name, len(spec.choices), ",".join(spec.params), status))
    if args.json:
        print(json.dumps([dict(zip(("model", "choices", "params", "status"), r)) for r in rows], indent=1))
        return 0
    w = max(len(r[0]) for r in rows)
    print(f"{'model':<{w}}  choices  status      params")
    for name, nc, params, status in rows:
        print(f"{name:<{w}}  {nc!s:<7}  {status:<10}  {params}")
    return 0


def _features(spec) -> str:
    from .architecture import head_is_exact

    return ({"scaling": ("DDM scaling + mirror symmetry + exact Wald head" if head_is_exact(spec)
                         else "DDM scaling + mirror symmetry + Durbin head for the Weibull collapse (beta / a^2)")
             + (" with drift variability" if "sv" in spec.params else "")
             + (" with the linear collapse in the drift" if "theta" in spec.params else ""),
             "edge": "generic + leading-edge term",
             "bound": "generic + Durbin head for the collapsing boundary",
             "race": "race: chosen accumulator vs the others as sorted lists + independent-race Wald head",
             "generic": "generic"}[spec.features]
            + (f", shift-aware (u = rt - {'(t - ' + spec.edge_shift[0] + ')' if spec.edge_shift else 't'})"
               if spec.shift else ""))


def cmd_info(args) -> int:
    from .cache import find_network, scan
    from .config import model_spec
    from .errors import NetworkNotFoundError
    from .simulate import describe_simulation

    spec = model_spec(args.model)
    print(f"model:   {spec.name}")
    print(f"params:  {', '.join(spec.params)}")
    print("box:     " + ", ".join(f"{p} [{lo:g}, {hi:g}]" for p, (lo, hi) in spec.bounds.items()))
    print(f"choices: {list(spec.choices)}")
    print(f"features: {_features(spec)} (for new training)")
    sim = describe_simulation(spec)
    print(f"time:    {sim['time']} ({sim['boundary']}; Euler step {sim['euler_step']})")
    records = scan(model=spec.name)
    try:
        entry = find_network(spec.name, warn=False)
    except NetworkNotFoundError as e:
        print(f"network: none ({e})")
        entry = None
    if entry is not None:
        m = entry.metadata
        print(f"network: {entry.source} at {entry.path}")
        print(f"  chosen: {entry.reason}")
        print(f"  sha256: {entry.sha256}")
        print(f"  features: {_features(entry.spec)}")
        print(f"  time: {describe_simulation(entry.spec)['time']}")
        for key in ("reproduce", "train_seconds", "simulation_seconds", "steps_run", "versions"):
            if key in m:
                print(f"  {key}: {m[key]}")
        rt = m.get("rt_range")
        print(
            "  rt seen in training: "
            + (f"{rt['min']:.3g} to {rt['max']:.3g} s (decisions up to max_t = {rt['max_t']:g} s)" if rt
               else "not recorded (decisions up to ssm-simulators' max_t = 20 s)")
        )
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
                  f"(record: {entry.validation_record})")
        else:
            print("  validation: none")
    if records:
        print(f"cache entries ({len(records)}):")
        for r in records:
            print(_record_line(r, r.path.name))
    return 0


def _record_line(r, name: str) -> str:
    """One cache entry: name, status, size, and why it is unusable."""
    return f"  {name}  {r.status:<13}  {r.size / 1e3:.0f} kB" + (f"  {r.problem}" if r.problem else "")


def cmd_validate(args) -> int:
    from .validation import ValidationSettings, validate
    from .validation.validate import CLI_SETTINGS

    d = ValidationSettings.quick() if args.quick else ValidationSettings()
    over = {k: getattr(args, k) for k in CLI_SETTINGS
            if k not in ("fidelity_trials", "fidelity_datasets") and getattr(args, k) is not None}
    if args.fidelity_trials is not None or args.fidelity_datasets is not None:
        trials = tuple(args.fidelity_trials or d.fidelity_trials)
        k = args.fidelity_datasets
        default_k = dict(zip(d.fidelity_trials, d.fidelity_datasets))
        if k is not None and len(k) not in (1, len(trials)):
            raise SystemExit(
                f"hssm-nre validate: --fidelity-datasets gives {len(k)} counts for {len(trials)} trial "
                f"counts ({','.join(map(str, trials))}): give one count for all, or one per trial count."
            )
        over |= {"fidelity_trials": trials,
                 "fidelity_datasets": tuple(k[0] if k is not None and len(k) == 1 else k[i] if k is not None
                                            else default_k.get(n, min(d.fidelity_datasets))
                                            for i, n in enumerate(trials))}
    settings = type(d)(**(vars(d) | over)) if over else d
    report = validate(
        None if args.weights else args.model,
        weights=args.weights,
        kind=args.kind,
        settings=settings,
        address=args.address,
        workers=0 if args.no_ray else args.workers,
        out=args.out,
        write_metadata=not args.no_metadata,
        baseline=args.baseline,
    )
    print(f"{report.model}: {report.status.upper()} - {report.summary}")
    print(f"Record: {report.record}" + ("" if report.metadata_updated else " (the network's metadata was not changed)"))
    return 1 if report.status == "failed" else 0


CACHE_ACTIONS = ("list", "verify", "pin", "unpin", "upgrade", "remove")


def _format_of(path: Path) -> int | None:
    try:
        return json.loads((path / "metadata.json").read_text()).get("format")
    except (OSError, ValueError, AttributeError):
        return None


def cmd_cache(args) -> int:
    from .cache import FORMAT_VERSION, cache_dir, pin, remove_entry, scan, unpin, upgrade_entry
    from .errors import NetworkNotFoundError

    root = Path(args.cache_dir) if args.cache_dir else cache_dir()
    words = list(args.words)
    action = words.pop(0) if words and words[0] in CACHE_ACTIONS else "list"
    usage = {
        "list": "hssm-nre cache [list|verify] [MODEL]",
        "pin": "hssm-nre cache pin MODEL KEY",
        "unpin": "hssm-nre cache unpin MODEL",
        "upgrade": "hssm-nre cache upgrade [KEY|PATH ...]",
    }
    if action in ("list", "verify"):
        if len(words) > 1:
            raise NetworkNotFoundError(f"usage: {usage['list']}")
        model = words[0] if words else args.model
        records = scan(root, model)
        if not records:
            print(f"No cache entries{' for ' + repr(model) if model else ''} in {root}.")
            return 0
        total = sum(r.size for r in records)
        print(f"{len(records)} cache entr{'y' if len(records) == 1 else 'ies'} in {root} ({total / 1e6:.1f} MB); "
              "checksums verified:")
        for r in records:
            print(_record_line(r, f"{r.model}/{r.path.name}"))
        bad = [r for r in records if not r.usable]
        if bad:
            print(f"{len(bad)} unusable: remove with `hssm-nre cache remove --unusable`.")
        return 1 if (action == "verify" and bad) else 0
    if action == "pin":
        if len(words) != 2:
            raise NetworkNotFoundError(f"usage: {usage['pin']}")
        path = _entry_path(root, words[0], words[1])
        e = pin(path, root=root)
        print(f"Pinned {path} (sha256 {e.sha256[:12]}): hssm.HSSM(model={e.spec.name!r}, "
              "loglik_kind='nre') uses it.")
        return 0
    if action == "unpin":
        if len(words) != 1:
            raise NetworkNotFoundError(f"usage: {usage['unpin']}")
        print(f"Unpinned {words[0]!r}." if unpin(words[0], root=root) else f"{words[0]!r} had no pin.")
        return 0
    if action == "upgrade":  # format-1 entries (flat weight names) to this version's format
        if words:
            targets = [_entry_path(root, args.model, t) for t in words]
        else:
            targets = [r.path for r in scan(root, args.model) if r.entry is None and _format_of(r.path) == 1]
        if not targets:
            print(f"Nothing to upgrade in {root}: no entry has weight format 1.")
        for p in targets:
            e = upgrade_entry(p)
            print(f"Upgraded {p} to format {FORMAT_VERSION} (sha256 {e.sha256[:12]}; the same network).")
        return 0
    # remove
    if args.unusable:
        targets = [r.path for r in scan(root, args.model) if not r.usable]
    elif words:
        targets = [_entry_path(root, args.model, t) for t in words]
    elif args.model:
        targets = [r.path for r in scan(root, args.model)]
    else:
        raise NetworkNotFoundError(
            "Name what to remove: entry keys or folders, --model MODEL (all of a model's), or --unusable."
        )
    for p in targets:
        remove_entry(p, root=root)
        print(f"Removed {p}")
    if not targets:
        print("Nothing to remove.")
    return 0


def _entry_path(root: Path, model: str | None, key_or_path: str) -> Path:
    """A cache entry folder from its key (with MODEL, or unique), ``MODEL/KEY`` or a path;
    the cache is looked in first."""
    from .cache import list_entries
    from .errors import NetworkNotFoundError

    found = [q for name, paths in list_entries(root).items() if model in (None, name)
             for q in paths if q.name == key_or_path]
    if not found and (root / key_or_path / "metadata.json").is_file():
        found = [root / key_or_path]
    if not found and Path(key_or_path).is_dir():
        found = [Path(key_or_path)]  # remove_entry / pin refuse it unless it is a cache entry
    if len(found) != 1:
        raise NetworkNotFoundError(
            f"{'No' if not found else 'More than one'} cache entry matches {key_or_path!r} in {root}; "
            "`hssm-nre cache` lists them."
        )
    return found[0]


def cmd_compare(args) -> int:
    from .compare import compare_with_wfpt
    from .simulate import simulate_dataset

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
        TRAIN_FLAGS,
    )

    p = argparse.ArgumentParser(prog="hssm-nre", description="Neural ratio estimation likelihoods for HSSM.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train and cache an NRE for an ssm-simulators model")
    t.add_argument("model", nargs="?", help="the model (or several: --models, --all)")
    t.add_argument("--models", metavar="A,B,C", help="train several models, one task each (settings apply to all)")
    t.add_argument("--all", action="store_true", help="retrain every model with a shipped network")
    t.add_argument("--address", help="with --models/--all: run the trainings as tasks on this Ray cluster "
                   "(HOST:PORT or 'auto'; needs hssm-nre[cluster])")
    t.add_argument("--workers", type=int, help="with --models/--all: local worker processes (default 1: each "
                   "training uses every core; 0: in this process)")
    for f in TRAIN_FLAGS:
        t.add_argument(f.flag, dest=f.field, type=f.parse, help=f.help, metavar=f.metavar)
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
        "Wald head; the DDM, ddm_sdv and angle; weibull with Durbin's head, trained), 'edge' (generic + the leading-edge term; two-choice models "
        "with a and z), 'bound' (generic + a head started at Durbin's first-passage density for the "
        "collapsing boundary; weibull and angle boundaries), 'race' (race and LCA models: the chosen "
        "accumulator against the others, no one-hot choice, a head started at the race of independent "
        "Wald accumulators) or 'generic' (default: the "
        "model's; scaling for " + ", ".join(sorted(DDM_SCALING_MODELS)) + ", edge for "
        + ", ".join(sorted(EDGE_FEATURE_MODELS))
        + (", bound for " + ", ".join(sorted(BOUND_FEATURE_MODELS)) if BOUND_FEATURE_MODELS else "")
        + (", race for " + ", ".join(sorted(RACE_FEATURE_MODELS)) if RACE_FEATURE_MODELS else "") + ")",
    )
    t.add_argument(
        "--no-normaliser",
        action="store_true",
        help="skip the normaliser fitted after training (a minute or two; it makes the likelihood "
        "integrate to one for every parameter vector, which removes a posterior bias)",
    )
    t.add_argument(
        "--pin",
        action="store_true",
        help="make the new network the one hssm.HSSM uses for this model (over a shipped network); "
        "without it a new, unvalidated network is used only where none ships",
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

    k = sub.add_parser(
        "cache",
        help="list, verify, pin and remove cache entries",
        description="Cache entries with their status and size (checksums verified). "
        "`hssm-nre cache` lists; `verify` exits 1 if an entry is unusable; `pin MODEL KEY` makes an "
        "entry the model's network; `unpin MODEL`; `upgrade [KEY|PATH ...]` converts entries of weight "
        "format 1 (all of them by default); `remove KEY|PATH ...`, `remove --model MODEL` "
        "(all of a model's) or `remove --unusable`.",
    )
    k.add_argument(
        "words",
        nargs="*",
        metavar="ACTION ...",
        help="[list|verify] [MODEL] | pin MODEL KEY | unpin MODEL | upgrade [KEY...] | remove KEY... (default: list)",
    )
    k.add_argument("--model", help="only this model's entries")
    k.add_argument("--unusable", action="store_true", help="remove: every entry that cannot be used")
    k.add_argument("--cache-dir", help="cache root (default: $HSSM_NRE_CACHE_DIR or ~/.cache/hssm_nre)")
    k.set_defaults(func=cmd_cache)

    v = sub.add_parser(
        "validate",
        help="calibration, recovery, normalisation and fidelity to a reference likelihood of a network",
        description="Fits datasets simulated across the network's box (SBC, coverage, recovery), checks "
        "that the likelihood integrates to one and, where the model has a reference likelihood, "
        "compares per-trial values and reweighted posteriors with it. Writes validation.md and plots "
        "beside the network and its verdict into the metadata; exits 1 when it fails (also when a partial run, --sbc-datasets 0, finds a problem). Fits run in one "
        "worker process per core, or on a Ray cluster (--address); a rerun resumes from the checkpoint.",
    )
    v.add_argument("model", help="the model (its network as hssm.HSSM would use it; --weights for another)")
    v.add_argument("--weights", metavar="DIR", help="a network folder instead")
    v.add_argument("--kind", choices=["normalised", "exact", "ratio"], help="likelihood kind (default: the network's)")
    v.add_argument("--quick", action="store_true", help="a few minutes: 20 datasets, short chains (not a verdict to rely on)")
    v.add_argument("--sbc-datasets", type=int, help="datasets for calibration (default 200; 0: the other studies only, no verdict)")
    v.add_argument("--sbc-trials", type=int, help="trials per calibration dataset (default 200)")
    v.add_argument("--draws", type=int, help="posterior draws per calibration fit (default 500)")
    v.add_argument("--tune", type=int, help="warm-up iterations per calibration fit (default 500)")
    v.add_argument("--fidelity-trials", type=lambda x: [int(n) for n in x.split(",")], metavar="N,N",
                   help="trial counts of the posterior comparison with the reference (default 100,1000,5000)")
    v.add_argument("--fidelity-datasets", type=lambda x: [int(n) for n in x.split(",")], metavar="K[,K]",
                   help="datasets per trial count: one for all, or one per --fidelity-trials entry "
                        "(default 10,10,2; --quick: 2)")
    v.add_argument("--fidelity-draws", type=int, help="posterior draws reweighted to the reference (default 500)")
    v.add_argument("--fidelity-tune", type=int, help="warm-up iterations per comparison fit (default 200)")
    v.add_argument("--seed", type=int, help="seed of the simulated datasets (default 0)")
    v.add_argument("--address", help="a Ray cluster's head (HOST:PORT, or 'auto'); needs hssm-nre[cluster]")
    v.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    v.add_argument("--no-ray", action="store_true", help="fit in this process, one dataset after another")
    v.add_argument("--out", help="folder of the record and checkpoint (default: the network's folder if writable)")
    v.add_argument("--no-metadata", action="store_true", help="do not record the verdict in the network's metadata")
    v.add_argument("--baseline", metavar="LAN.onnx",
                   help="a LAN (the ONNX file hssm.HSSM(loglik=..., loglik_kind='approx_differentiable') takes) "
                        "fitted to the same calibration datasets and reported beside the network (not in the verdict)")
    v.set_defaults(func=cmd_validate)

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
    parser = build_parser()
    args = parser.parse_args(argv)
    from .errors import NREError

    try:
        return args.func(args)
    except NREError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # hssm_nre.interrupt.TrainingInterrupted says what stopped
        print(str(e) or "Interrupted.", file=sys.stderr)
        return 130


def console() -> None:  # pragma: no cover - the `hssm-nre` command
    """The ``hssm-nre`` command: :func:`main`, and after an interrupt an immediate exit.

    An interrupted run has already cleaned up (no cache entry, no temporary folder, simulation
    workers terminated); the interpreter's own teardown of JAX and Keras would only add a
    second or more before the shell gets its prompt back."""
    rc = main()
    if rc == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    sys.exit(rc)


if __name__ == "__main__":  # pragma: no cover
    console()
