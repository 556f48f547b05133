"""``hssm_nre.validate``: how far a network's posteriors are from the truth, in one run.

Measured on datasets simulated across the network's training box (parameters drawn from the
uniform prior the fits use):

* **calibration**: simulation-based calibration (the rank of each true parameter among its
  posterior draws; the ranks' ECDF against a simultaneous 99 % band) and the coverage of
  central 50 / 90 / 95 % intervals with its Monte Carlo error;
* **recovery**: correlation of posterior means with the truth, RMSE / prior SD, contraction;
* **normalisation**: the likelihood integrated over x at parameter vectors across the box;
* **against a reference likelihood**, where the model has one (:mod:`.references`): the
  per-trial error over the box (differences over theta at fixed x) and, at 100, 1,000 and 5,000
  trials, the reference posterior obtained by Pareto-smoothed importance reweighting of the NRE's
  draws, reported as the mean shift in reference SDs and the SD ratio (with k-hat).

Fits run as tasks (:mod:`hssm_nre.distributed`: one worker process per core by default, a Ray
cluster with ``address``), each result checkpointed as a JSON line the moment it arrives, keyed by
its dataset and sampler settings, so a rerun resumes and a run with other settings reuses what it
shares (longer calibration chains keep the costly comparison fits).
The report (markdown and PNG plots) and a verdict go beside the network (its folder, when
writable) and into its metadata, where ``hssm-nre info`` and ``list`` show it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..distributed import chunks, run_tasks
from .calibration import LEVELS, coverage_misses, ecdf_difference, recovery, simultaneous_band
from .references import has_reference, reference_for
from .report import write_report
from .tasks import dataset, fit_settings, run_task

__all__ = ["ValidationSettings", "ValidationReport", "validate", "VERDICT_RULES"]

#: How the verdict is reached (also printed in every report).
VERDICT_RULES = (
    "passed when (1) no parameter's rank ECDF leaves its simultaneous 99 % band, (2) no central "
    "50 / 90 / 95 % interval covers less than its level minus 2.5 Monte Carlo SE, (3) at 99 % of "
    "parameter vectors the likelihood integrates to 1 +/- 0.05, and, where a reference exists, "
    "(4) at 1,000 trials the median posterior-mean shift is at most 0.25 reference SD and the "
    "median SD ratio in [0.9, 1.1] for every parameter (datasets with Pareto k-hat > 0.7 left out), "
    "and (5) at most 2 % of the calibration fits are stuck chains (fewer than half their draws "
    "distinct; left out of (1) and (2))"
)


@dataclass(frozen=True)
class ValidationSettings:
    """The size of a validation run.

    The defaults are a full run; :meth:`quick` is a few minutes' look.

    Attributes
    ----------
    sbc_datasets
        Datasets of the calibration study (simulation-based calibration, coverage, recovery);
        0 skips it: a partial run, with figures but no verdict.
    sbc_trials
        Trials per calibration dataset.
    draws, tune
        NUTS draws and tuning steps per calibration fit. Intervals and ranks are read off these
        draws, so they need many effective draws: with the exact DDM likelihood in place of a
        network, 200 draws after 200 tuning steps (the earlier defaults) left 5 % of the fits
        with fewer than 10 effective draws and the 90 % intervals of v and a covering 84 and 85 %
        of the truths (a failed verdict for an exact likelihood); 500 after 500 cover at their
        levels (``benchmarks/validator_calibration.py``).
    n_ranks
        Posterior draws, thinned evenly, among which each true parameter is ranked.
    fidelity_trials, fidelity_datasets
        Trial counts of the comparison with a reference likelihood, and datasets at each (one
        entry each per trial count); used only for models with a reference.
    fidelity_draws, fidelity_tune
        NUTS draws and tuning steps per fidelity fit. Its figures compare two posteriors
        estimated from the same draws (the network's, and the reference's by reweighting), so
        the chain's Monte Carlo error largely cancels: shorter chains do.
    per_trial_x
        Data points of the per-trial error against the reference.
    normalisation_theta
        Parameter vectors at which the likelihood's integral over the data is checked.
    seed
        Seed of the datasets and fits.
    chunk
        Calibration datasets per task (the unit of work sent to a worker); each comparison
        dataset is a task of its own.

    Raises
    ------
    ValueError
        ``fidelity_trials`` and ``fidelity_datasets`` differ in length, a count that must be
        positive is not, or a dataset count is negative.
    """

    sbc_datasets: int = 200
    sbc_trials: int = 200
    draws: int = 500
    tune: int = 500
    n_ranks: int = 100
    fidelity_trials: tuple[int, ...] = (100, 1000, 5000)
    fidelity_datasets: tuple[int, ...] = (10, 10, 2)
    fidelity_draws: int = 500
    fidelity_tune: int = 200
    per_trial_x: int = 200
    normalisation_theta: int = 500
    seed: int = 0
    chunk: int = 10

    def __post_init__(self) -> None:
        if len(self.fidelity_trials) != len(self.fidelity_datasets):
            raise ValueError("fidelity_trials and fidelity_datasets need one entry each per trial count.")
        for name in ("sbc_trials", "draws", "tune", "n_ranks", "chunk", "fidelity_draws", "fidelity_tune"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}.")
        if self.sbc_datasets < 0 or any(k < 0 for k in self.fidelity_datasets):
            raise ValueError("dataset counts cannot be negative.")

    @property
    def partial(self) -> bool:
        """True when there is no calibration study (``sbc_datasets=0``): figures, but no verdict."""
        return self.sbc_datasets == 0

    @classmethod
    def quick(cls) -> ValidationSettings:
        """Settings for a run of a few minutes: plumbing and a rough look, not a verdict to rely on.

        Returns
        -------
        ValidationSettings
            20 calibration datasets of 100 trials, 150 draws after 150 tuning steps, and a smaller
            fidelity, normalisation and per-trial study.
        """
        return cls(sbc_datasets=20, sbc_trials=100, draws=150, tune=150, n_ranks=50,
                   fidelity_trials=(1000,), fidelity_datasets=(2,), fidelity_draws=300, fidelity_tune=150,
                   per_trial_x=50, normalisation_theta=50, chunk=5)


@dataclass
class ValidationReport:
    """What a validation found, and where the record was written.

    Attributes
    ----------
    model
        The model name.
    sha256
        The checksum of the validated network's weights.
    status
        ``"passed"`` or ``"failed"`` (``VERDICT_RULES``), or ``"partial"`` for a run without
        a calibration study (``sbc_datasets=0``), which reaches no verdict.
    summary
        One line: the problems found, or ``"calibrated"`` (``"no problem found"`` for a partial
    run), with the key figures in parentheses.
    figures
        The figures per study (``"sbc"``, ``"normalisation"``, ``"per_trial"``, ``"fidelity"``,
        ``"unconverged"``).
    record
        The path of the markdown report (``validation.md``).
    metadata_updated
        Whether the verdict was recorded in the network's metadata.
    """

    model: str
    sha256: str
    status: str
    summary: str
    figures: dict = field(default_factory=dict)
    record: Path | None = None
    metadata_updated: bool = False


#: ValidationSettings fields that ``hssm-nre validate`` sets with an option of the same name
#: (``--sbc-datasets``, ...): the CLI reads these and a record's reproduce command writes them.
CLI_SETTINGS = ("sbc_datasets", "sbc_trials", "draws", "tune", "fidelity_trials", "fidelity_datasets",
                "fidelity_draws", "fidelity_tune", "seed")


def reproduce_command(model: str, path, settings, kind: str | None = None) -> str:
    """The ``hssm-nre validate`` command of a run: ``--weights`` unless the network is a shipped
    one, ``--kind`` when the run chose the likelihood kind (``kind``; None: the network's own),
    and an option for every setting the CLI sets that differs from the default (the record used
    to say ``hssm-nre validate ddm`` for a network validated with ``--weights``)."""
    from ..cache import shipped_dir

    default = ValidationSettings()
    cmd = f"hssm-nre validate {model}"
    if path is not None and Path(path).resolve().parent != shipped_dir().resolve():
        cmd += f" --weights {path}"
    if kind is not None:
        cmd += f" --kind {kind}"
    for k in CLI_SETTINGS:
        v = getattr(settings, k)
        if v != getattr(default, k):
            cmd += f" --{k.replace('_', '-')} " + (",".join(map(str, v)) if isinstance(v, tuple) else str(v))
    return cmd


def _tasks(lik, s: ValidationSettings, weights: str, baseline=None) -> list[dict]:
    base = {"weights": weights, "kind": lik.kind, "sha256": lik.sha256, "seed": s.seed}
    sbc = {"n_trials": s.sbc_trials, "draws": s.draws, "tune": s.tune, "n_ranks": s.n_ranks}
    tasks = [base | sbc | {"study": "sbc", "indices": idx} for idx in chunks(range(s.sbc_datasets), s.chunk)]
    if baseline is not None:  # the same calibration datasets, fitted with the LAN
        tasks += [
            base | sbc | {"study": "baseline", "baseline": baseline.path, "baseline_sha256": baseline.sha256,
                          "indices": idx}
            for idx in chunks(range(s.sbc_datasets), s.chunk)
        ]
    if has_reference(lik.spec.name):
        # One dataset per task: the reference at every draw dominates a comparison fit at any size
        # (PyDDM: 0.3-0.6 s per parameter vector), so ten 100-trial datasets in one task held one
        # worker for half an hour after the others had finished. The sampler compiles once per
        # process and size (fits.fitter), so small tasks cost nothing more.
        for n, k in zip(s.fidelity_trials, s.fidelity_datasets):
            tasks += [
                base | {"study": "fidelity", "n_trials": n, "draws": s.fidelity_draws, "tune": s.fidelity_tune,
                        "indices": [i]}
                for i in range(10_000, 10_000 + k)
            ]
    return tasks


def _probe(todo: list[dict], run_task, record, address: str | None, in_process: bool = False) -> list[dict]:
    """Fit the first two datasets of the smallest calibration task (or of the smallest task),
    timed, and record them; returns the tasks left. The second fit's time (the first compiles) is
    what the run's cost estimate starts from. The fits run where the run's fits will: as one task
    on the cluster at ``address``, in this process when the run fits here (``in_process``), else
    in one worker process, single-threaded like the run's workers (timed in this process, where
    JAX and numpy use every core, a 2-core run's fits took 1.6-6 times the probe's and its
    estimate said 19 min for 47)."""
    where = "on the cluster" if address else "here" if in_process else "in a worker process"
    print(f"Timing two fits {where} to estimate the cost ...", file=sys.stderr)
    i = min(range(len(todo)), key=lambda j: (todo[j]["study"] != "sbc", todo[j]["n_trials"]))
    which = (todo[i]["study"], todo[i]["n_trials"])
    # the first two datasets of that study and size, across tasks (a comparison task holds one)
    probe, left, want = [], [], 2
    for t in todo:
        if (t["study"], t["n_trials"]) == which and want:
            take, rest = t["indices"][:want], t["indices"][want:]
            probe += take
            want -= len(take)
            if rest:
                left.append(t | {"indices": rest})
        else:
            left.append(t)
    run_tasks(run_task, [todo[i] | {"indices": probe}], address=address, workers=0 if in_process else 1,
              on_result=record, progress=False)
    return left


def _row_key(row: dict) -> tuple:
    """What a fit's result depends on besides the network: the dataset (study, size, index and
    seed), the sampler's draws and tuning, the draws the truth is ranked among, the LAN fitted
    beside the network. A checkpoint keeps fits of any settings, and a run uses those of its own."""
    return (row["study"], row["n_trials"], row["index"], row.get("baseline_sha256"), row["seed"],
            row["draws"], row["tune"], row.get("n_ranks"))


def _task_key(task: dict, index: int) -> tuple:
    """:func:`_row_key` of the row a task's dataset ``index`` will give."""
    return _row_key({"study": task["study"], "n_trials": task["n_trials"], "index": index,
                     "baseline_sha256": task.get("baseline_sha256")} | fit_settings(task))


def _fit_seconds(rows) -> dict:
    """Median wall time per dataset (simulation, fit, reference) by (study, trials), over the
    recorded fits that did not include compiling the sampler; under the key ``"compile"``, the
    median extra time of those that did (where both kinds were recorded)."""
    by: dict = {}
    compiled: dict = {}
    for r in rows:
        if "seconds" in r:
            (compiled if r.get("compiled") else by).setdefault((r["study"], r["n_trials"]), []).append(r["seconds"])
    out: dict = {k: float(np.median(v)) for k, v in by.items()}
    extra = [c - out[k] for k, v in compiled.items() if k in out for c in v]
    if extra:
        out["compile"] = max(float(np.median(extra)), 0.0)
    return out


def _estimate_seconds(lik, s: ValidationSettings, workers: int, todo: list[dict], timed: dict,
                      baseline=None) -> float:
    """Seconds for the fits still to run (``todo``). Per dataset: the median time of this run's
    recorded fits of the same study and size (``timed``: at least the two fits timed before the
    run starts); other sizes, and the LAN, scaled from a timed one by the cost of one gradient
    and the iterations, with the reference at every draw added for the comparison fits; the tasks
    scheduled on the workers in the order they run (:func:`_makespan`). Plus each
    worker's compilation per fit size (as timed; else 15 s), over the workers. NUTS's steps per iteration
    vary several-fold between models, so a timed fit beats a constant (it was 12 steps: lca_3's
    default run took twice its 60-minute estimate)."""
    import jax

    grads: dict = {}

    def grad_seconds(n, f):
        if (n, id(f)) not in grads:
            data = np.column_stack([np.full(n, 0.8), np.full(n, float(f.spec.choices[-1]))])
            theta = np.asarray([(lo + hi) / 2 for lo, hi in zip(f.spec.lower, f.spec.upper)])
            g = jax.jit(jax.value_and_grad(lambda th: f.logp_sum(th, data[:, 0], data[:, 1])))
            jax.block_until_ready(g(theta))
            t0 = time.perf_counter()
            for _ in range(5):
                jax.block_until_ready(g(theta))
            grads[(n, id(f))] = (time.perf_counter() - t0) / 5
        return grads[(n, id(f))]

    def lik_of(study):
        return baseline if study == "baseline" else lik

    if not todo:
        return 0.0
    timed = dict(timed)
    compile_s = timed.pop("compile", 15.0)
    if not timed:  # nothing timed (every probe dataset skipped): a typical 12 steps per iteration
        k0, per0 = None, None
    else:
        k0 = ("sbc", s.sbc_trials) if ("sbc", s.sbc_trials) in timed else next(iter(timed))
        per0 = timed[k0]
    iters = {"sbc": s.tune + s.draws, "baseline": s.tune + s.draws, "fidelity": s.fidelity_tune + s.fidelity_draws}
    per_draw_ref: dict = {}
    costs = []
    for t in todo:
        k = (t["study"], t["n_trials"])
        if k in timed:
            per = timed[k]
        else:
            g = grad_seconds(t["n_trials"], lik_of(t["study"]))
            if k0 is None:
                per = iters[t["study"]] * 12 * g + 2.5
            else:
                per = per0 * g / grad_seconds(k0[1], lik_of(k0[0])) * iters[t["study"]] / iters[k0[0]]
            if t["study"] == "fidelity" and (k0 is None or k0[0] != "fidelity"):
                if t["n_trials"] not in per_draw_ref:
                    per_draw_ref[t["n_trials"]] = _reference_seconds(lik, s, t["n_trials"])
                per += s.fidelity_draws * per_draw_ref[t["n_trials"]]
        costs.append(per * len(t["indices"]))
    sizes = len({(t["study"] == "baseline", t["n_trials"]) for t in todo})
    return _makespan(costs, workers) + compile_s * sizes + 10.0


def _makespan(costs: list[float], workers: int) -> float:
    """When the last of the tasks (``costs``, seconds, in the order they are handed out) finishes,
    each going to the first worker free: not the total over the workers, which a long task
    handed out last outlasts."""
    import heapq

    free = [0.0] * max(workers, 1)
    for c in costs:
        heapq.heappush(free, heapq.heappop(free) + c)
    return max(free)


def _reference_seconds(lik, s: ValidationSettings, n_trials: int) -> float:
    """Seconds of one reference evaluation of a dataset of ``n_trials`` trials at one parameter
    vector, as a worker does it (one thread): timed evaluations, averaged over the first three
    comparison datasets of that size. Most references are a numerical solve whose cost varies
    several-fold across the box (narrow boundaries need a finer time step); some (HDDM's full_ddm,
    the races) grow with the trials, so timing 200-trial datasets put a race run's 1,000- and
    5,000-trial comparisons at a fraction of their cost."""
    from threadpoolctl import threadpool_limits

    ref = reference_for(lik.spec)
    times = []
    with threadpool_limits(limits=1):
        for i in range(3):
            d = dataset(lik.spec, n_trials, s.seed, 10_000 + i)
            if d is None:
                continue
            if not times:
                ref.total_logp(d[0][None], d[1])  # compiles / warms up
            t0 = time.perf_counter()
            ref.total_logp(d[0][None] * (1 + 1e-9), d[1])  # a vector not solved before
            times.append(time.perf_counter() - t0)
    return float(np.mean(times)) if times else 0.0


def validate(
    model: str | None = "ddm",
    *,
    weights: str | os.PathLike | None = None,
    kind: str | None = None,
    settings: ValidationSettings | None = None,
    address: str | None = None,
    workers: int | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    write_metadata: bool = True,
    baseline: str | os.PathLike | None = None,
) -> ValidationReport:
    """Validate a network: how far its posteriors are from the truth.

    The network is the one ``hssm.HSSM`` would use for ``model``, or ``weights``. Datasets are
    simulated across its training box and fitted (calibration, recovery, normalisation and,
    where the model has one, fidelity to a reference likelihood; see
    :mod:`hssm_nre.validation.validate`). Every fit is checkpointed as it arrives with the
    sampler settings it was made with, so a rerun resumes, and a run with other settings reuses
    the fits whose dataset and sampler settings it shares. The report (markdown and PNG plots)
    goes to ``out``, and the verdict into the network's metadata, where ``hssm-nre info`` and
    ``hssm-nre list`` show it and HSSM's warnings read it. A full run takes a while (the DDM's
    default run: 13.5 minutes on 2 cores); ``settings=ValidationSettings.quick()`` takes a few
    minutes. Ctrl-C or SIGTERM stops the workers and keeps the finished fits.

    Parameters
    ----------
    model, weights, kind
        Which network and likelihood kind, as :func:`hssm_nre.loglik`.
    settings
        The run's size (:class:`ValidationSettings`; default: ``ValidationSettings()``).
    address, workers
        A Ray cluster's head address (``pip install "hssm-nre[cluster]"``), or else ``workers``
        local worker processes (default: one per core); ``workers=0`` fits in this process.
    out
        Folder of the report and checkpoint (default: the network's folder when writable,
        else ``./validation-<model>-<sha>``).
    progress
        Print the plan and a time estimate, and show progress bars.
    write_metadata
        Record the verdict in the network's metadata (when its folder is writable; never for a
        partial run).
    baseline
        A LAN (the ``.onnx`` file ``hssm.HSSM(..., loglik=FILE, loglik_kind="approx_differentiable")``
        takes) fitted to the same calibration datasets, with the same prior, sampler and seeds;
        its calibration and recovery are reported beside the network's
        (:mod:`hssm_nre.validation.baseline`). It does not enter the verdict.

    Returns
    -------
    ValidationReport
        The verdict, its summary and figures, and the record's path.

    Raises
    ------
    MissingExtraError
        matplotlib, or the package the model's reference likelihood solves with, is missing
        (``pip install "hssm-nre[validation]"``); checked before any fit.
    UnknownModelError, UnsupportedModelError, NetworkNotFoundError, WrongModelError
        As :func:`hssm_nre.loglik`.
    BaselineError
        ``baseline`` is missing, not ONNX, or not a LAN for the model; checked before any fit.
    TrainingInterrupted
        Ctrl-C or SIGTERM stopped the run; the finished fits are in the checkpoint.

    Examples
    --------
    A quick look (minutes; a full run takes much longer):

    >>> import hssm_nre
    >>> from hssm_nre.validation import ValidationSettings, validate
    >>> report = validate("ddm", settings=ValidationSettings.quick())  # doctest: +SKIP
    >>> report.status, report.summary  # doctest: +SKIP
    """
    from ..cache import load_entry
    from ..likelihood import loglik

    from ..errors import require

    s = settings or ValidationSettings()
    require("matplotlib", "validation", "hssm-nre validate (its SBC plot)")
    lik = loglik(model, weights=weights, kind=kind)
    if has_reference(lik.spec.name):
        reference_for(lik.spec).require()
    if baseline is not None:
        from .baseline import load_baseline

        baseline = load_baseline(baseline, lik.spec)
    entry = load_entry(lik.path, check_spec=False)
    name = lik.spec.name
    folder = Path(lik.path)
    writable = os.access(folder, os.W_OK)
    out = Path(out) if out is not None else (folder if writable else Path(f"validation-{name}-{lik.sha256[:8]}"))
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / f"validation_{lik.kind}.jsonl"
    legacy = _legacy_checkpoint(out, entry, lik.kind)
    tasks = _tasks(lik, s, str(folder), baseline)
    planned = [_task_key(t, i) for t in tasks for i in t["indices"]]
    done = _load_checkpoint(checkpoint, lik.sha256, legacy)
    todo = []
    for t in tasks:
        left = [i for i in t["indices"] if _task_key(t, i) not in done]
        if left:
            todo.append(t | {"indices": left})
    # longest first: the comparison fits (the reference at every draw outweighs any calibration
    # chunk), then trials x fits x iterations, so no big fit runs last, alone, while the other
    # workers idle
    todo.sort(key=lambda t: (t["study"] != "fidelity", -t["n_trials"] * len(t["indices"]) * (t["tune"] + t["draws"])))
    n_workers = 1 if workers == 0 else (workers or os.cpu_count() or 1)
    with open(checkpoint, "a") as f:

        def record(task, rows):
            for row in rows:
                f.write(json.dumps(row | {"sha256": lik.sha256}) + "\n")
            f.flush()
            os.fsync(f.fileno())

        from ..interrupt import Interruptible

        # SIGTERM as well as Ctrl-C stops the workers too, and the checkpoint keeps every fit so far
        with Interruptible(f"validating {name!r}", kept=f"the finished fits are in {checkpoint}; a rerun resumes"):
            if progress and todo:
                # timed by this run's own fits only: the checkpoint's fits of other sampler
                # settings (say, shorter chains) cost less, and the comparison fits' times are
                # mostly the reference's
                timed = _fit_seconds(done[k] for k in planned if k in done)
                untimed = any(t["study"] == "sbc" for t in todo) and ("sbc", s.sbc_trials) not in timed
                if not timed or untimed:  # the cost comes from fits timed here, which the run keeps
                    todo = _probe(todo, run_task, record, address, in_process=workers == 0)
                    done = _load_checkpoint(checkpoint, lik.sha256, legacy)
                    timed = _fit_seconds(done[k] for k in planned if k in done)
                est = _estimate_seconds(lik, s, n_workers, todo, timed, baseline)
                print(
                    f"Validating the {name!r} network {folder} ({lik.kind} likelihood"
                    f"{', the LAN ' + Path(baseline.path).name + ' beside it' if baseline else ''}): "
                    f"{sum(len(t['indices']) for t in todo)} fits to run "
                    f"({sum(k in done for k in planned)} already in {checkpoint.name}); about {est / 60:.0f} min with {n_workers} worker(s)"
                    f"{' on ' + address if address else ''}.",
                    file=sys.stderr,
                )
            elif progress:
                print(f"Validating the {name!r} network {folder}: 0 fits to run "
                      f"({sum(k in done for k in planned)} already in {checkpoint.name}).", file=sys.stderr)
            run_tasks(run_task, todo, address=address, workers=workers, on_result=record,
                      units=lambda t: len(t["indices"]), desc=f"validating {name}", progress=progress)
    # the rows of this run's plan only: the checkpoint also keeps fits of other settings
    done = _load_checkpoint(checkpoint, lik.sha256, legacy)
    rows = [done[k] for k in planned if k in done]
    figures = _summarise(lik, entry, s, rows, progress=progress, baseline=baseline)
    status, summary = _verdict(lik, figures, s)
    report = ValidationReport(name, lik.sha256, status, summary, figures)
    report.record = write_report(report, lik, s, rows, out, VERDICT_RULES, reproduce_command(name, lik.path, s, kind))
    if write_metadata and writable and not s.partial:
        from ..cache import update_metadata

        update_metadata(folder, {"validation": {
            "status": status,
            "summary": summary,
            "record": os.path.relpath(report.record, folder) if report.record.is_relative_to(folder) else str(report.record),
            "kind": lik.kind,
            "settings": asdict(s),
            "date": time.strftime("%Y-%m-%d"),
            "figures": _jsonable(figures),
        }})
        report.metadata_updated = True
    return report


def _load_checkpoint(path: Path, sha256: str, legacy: tuple[Path, dict] | None = None) -> dict[tuple, dict]:
    """The checkpoint's fits of the network with checksum ``sha256``, by :func:`_row_key`; with
    ``legacy`` (:func:`_legacy_checkpoint`), also those of an earlier version's checkpoint."""
    out: dict[tuple, dict] = {}
    sources = ([legacy] if legacy else []) + [(path, None)]
    for source, settings in sources:
        if not source.exists():
            continue
        for line in source.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if row.get("sha256") != sha256:
                continue
            if settings is not None and "draws" not in row:
                row |= _legacy_fit(row, settings)
            out[_row_key(row)] = row
    return out


def _legacy_checkpoint(out: Path, entry, kind: str) -> tuple[Path, dict] | None:
    """Earlier versions named a checkpoint by a hash of the whole settings and kept no sampler
    settings in its rows. The network's recorded validation names its settings, so its
    checkpoint's rows can be read with them: (path, settings), or None."""
    recorded = (entry.metadata or {}).get("validation") or {}
    settings = recorded.get("settings")
    if not settings or recorded.get("kind") != kind:
        return None
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    path = out / f"validation_{key}_{kind}.jsonl"
    return (path, settings) if path.exists() else None


def _legacy_fit(row: dict, settings: dict) -> dict:
    """The sampler settings an earlier version's row was fitted with (its comparison fits used
    the calibration's ``tune``)."""
    if row["study"] == "fidelity":
        return {"seed": settings["seed"], "tune": settings["tune"], "draws": settings["fidelity_draws"]}
    return {"seed": settings["seed"], "tune": settings["tune"], "draws": settings["draws"],
            "n_ranks": min(settings["n_ranks"], settings["draws"])}


def _summarise(lik, entry, s: ValidationSettings, rows: list[dict], *, progress: bool, baseline=None) -> dict:
    spec = lik.spec
    params = list(spec.params)
    figures: dict = {"params": params}
    fitted = [r for r in rows if r["study"] == "sbc" and "skipped" not in r]
    sbc = [r for r in fitted if converged(r)]
    figures["unconverged"] = {"sbc": len(fitted) - len(sbc), "sbc_fits": len(fitted),
                              "fidelity": sum(not converged(r) for r in rows
                                              if r["study"] == "fidelity" and "skipped" not in r)}
    if sbc:
        figures["sbc"] = _calibration(spec, sbc, s.sbc_trials) | {
            "skipped": sum("skipped" in r for r in rows if r["study"] == "sbc")}
    if baseline is not None:
        mine = [r for r in rows if r["study"] == "baseline" and r.get("baseline_sha256") == baseline.sha256
                and "skipped" not in r]
        ok = [r for r in mine if converged(r)]
        if ok:
            figures["baseline"] = _calibration(spec, ok, s.sbc_trials) | {
                "file": Path(baseline.path).name, "sha256": baseline.sha256, "unconverged": len(mine) - len(ok)}
    if progress:
        print("Normalisation and per-trial error ...", file=sys.stderr)
    figures["normalisation"] = _normalisation(entry, lik, s)
    if has_reference(spec.name):
        figures["per_trial"] = _per_trial(lik, s)
        figures["fidelity"] = _fidelity(rows, params)
    return figures


def _calibration(spec, fits: list[dict], trials: int) -> dict:
    """Calibration and recovery over converged fits of the calibration datasets."""
    params = list(spec.params)
    lo, hi = np.asarray(spec.lower), np.asarray(spec.upper)
    prior_sd = (hi - lo) / np.sqrt(12.0)
    ranks_ = np.array([r["rank"] for r in fits])
    n_ranks = min(r["n_ranks"] for r in fits)
    band = simultaneous_band(len(fits), n_ranks, alpha=0.01)
    worst = []
    for j in range(len(params)):
        _, d = ecdf_difference(ranks_[:, j], n_ranks)
        worst.append(float(np.max(np.abs(d) / band)))
    cov = {float(level): np.mean([r["covered"][str(level)] for r in fits], axis=0) for level in LEVELS}
    truths = np.array([r["truth"] for r in fits])
    ess = [r["ess"] for r in fits if "ess" in r]  # rows of earlier versions have none
    rec = recovery(np.array([r["mean"] for r in fits]), np.array([r["sd"] for r in fits]), truths, prior_sd)
    return {
        "datasets": len(fits),
        "trials": trials,
        "band_exceedance": dict(zip(params, worst)),  # max |ECDF diff| / band half-width (> 1: outside)
        "outside_band": [p for p, w in zip(params, worst) if w > 1.0],
        "coverage": {str(k): dict(zip(params, v.tolist())) for k, v in cov.items()},
        "coverage_misses": coverage_misses(cov, len(fits), params),
        # the fewest effective draws over the parameters, per fit: its 5th percentile and median
        "ess_q05": float(np.quantile(ess, 0.05)) if ess else None,
        "ess_median": float(np.median(ess)) if ess else None,
    } | {k: dict(zip(params, np.round(v, 4).tolist())) for k, v in rec.items()}


def _normalisation(entry, lik, s: ValidationSettings) -> dict:
    """The likelihood the fits use, integrated over rt and summed over choices, at parameter
    vectors drawn from the box."""
    import jax

    from ..normalisation import normalisation_integrals
    from ..simulate import sample_parameters

    theta = sample_parameters(lik.spec, s.normalisation_theta, np.random.default_rng(s.seed + 17))
    if lik.kind == "ratio":
        return {"theta": len(theta), "note": "the raw ratio is not a density (kind='ratio')"}
    f = jax.jit(lik.logp)
    mass = normalisation_integrals(lik.spec, lambda th, rt, c: np.asarray(f(th, rt, c)), theta, batch=16)["integral"]
    within = float(np.mean(np.abs(mass - 1.0) <= 0.05))
    return {"theta": len(theta), "within_0.05": within, "min": float(mass.min()), "max": float(mass.max()),
            "median": float(np.median(mass))}


def _per_trial(lik, s: ValidationSettings) -> dict:
    import jax

    from ..reference import per_trial_error

    f = jax.jit(lik.logp)
    ref = reference_for(lik.spec)
    # PyDDM solves take about a second each: 30 parameter vectors instead of 100
    r = per_trial_error(lik.spec, lambda th, rt, c: np.asarray(f(th, rt, c)), n_x=s.per_trial_x,
                        n_theta=30 if ref.solves else 100, seed=s.seed, ref_logp=ref.logp,
                        shared_theta=True, floor=ref.floor)
    return {"median": r["median"], "p90": r["p90"], "excluded": r["excluded"], "reference": ref.description}


#: A fit whose chain has fewer distinct draws than this share is a sampler failure (a collapsed
#: step size), not a posterior: left out of the statistics and counted.
MIN_DISTINCT = 0.5


def converged(row: dict) -> bool:
    return row.get("distinct", 1.0) >= MIN_DISTINCT


def _fidelity(rows: list[dict], params: list[str]) -> dict:
    out = {}
    for n in sorted({r["n_trials"] for r in rows if r["study"] == "fidelity"}):
        every = [r for r in rows if r["study"] == "fidelity" and r["n_trials"] == n]
        fits = [r for r in every if "skipped" not in r and converged(r)]
        good = [r for r in fits if r["khat"] <= 0.7]
        entry: dict = {"datasets": len(fits), "skipped": len(every) - len(fits),
                       "skipped_truths": [r["truth"] for r in every if "skipped" in r and "truth" in r],
                       "khat_over_0.7": len(fits) - len(good),
                       "khat_max": max((r["khat"] for r in fits), default=None)}
        if good:
            shift = np.abs(np.array([r["mean"] for r in good]) - np.array([r["ref_mean"] for r in good]))
            shift /= np.array([r["ref_sd"] for r in good])
            ratio = np.array([r["sd"] for r in good]) / np.array([r["ref_sd"] for r in good])
            entry |= {
                "shift_median": dict(zip(params, np.round(np.median(shift, 0), 3).tolist())),
                "shift_worst": dict(zip(params, np.round(np.max(shift, 0), 3).tolist())),
                "sd_ratio_median": dict(zip(params, np.round(np.median(ratio, 0), 3).tolist())),
                "sd_ratio_range": [float(ratio.min()), float(ratio.max())],
            }
        out[str(n)] = entry
    return out


def _verdict(lik, figures: dict, s: ValidationSettings) -> tuple[str, str]:
    problems, notes = [], []
    sbc = figures.get("sbc")
    if s.partial:
        notes.append("no calibration study (sbc_datasets=0): figures only, no verdict")
    elif not sbc:
        return "failed", "no dataset could be fitted."
    unconv = figures.get("unconverged", {})
    if unconv.get("sbc_fits") and unconv["sbc"] > 0.02 * unconv["sbc_fits"]:
        problems.append(f"{unconv['sbc']} of {unconv['sbc_fits']} calibration fits did not converge "
                        "(stuck chains; left out: more --tune, or a network NUTS cannot move on)")
    if sbc:
        if sbc["outside_band"]:
            problems.append(f"SBC ranks outside the 99 % band for {', '.join(sbc['outside_band'])}")
        if sbc["coverage_misses"]:
            problems.append(f"{len(sbc['coverage_misses'])} coverage miss(es) ({'; '.join(sbc['coverage_misses'][:3])})")
        notes.append(f"SBC over {sbc['datasets']} datasets of {sbc['trials']} trials")
    norm = figures.get("normalisation", {})
    if "within_0.05" in norm:
        notes.append(f"mass within 1 +/- 0.05 at {norm['within_0.05']:.1%} of theta")
        if norm["within_0.05"] < 0.99:
            problems.append(f"the likelihood integrates to 1 +/- 0.05 at only {norm['within_0.05']:.1%} of theta")
    fid = figures.get("fidelity", {}).get("1000")
    if fid is not None:
        if "shift_median" not in fid:
            problems.append("no reweighting at 1,000 trials was reliable (k-hat > 0.7)")
        else:
            worst_shift = max(fid["shift_median"].values())
            ratios = list(fid["sd_ratio_median"].values())
            notes.append(f"at 1,000 trials median shift <= {worst_shift:.2f} reference SD, SD ratio "
                         f"{min(ratios):.2f}-{max(ratios):.2f} against {reference_for(lik.spec).description}")
            if worst_shift > 0.25 or min(ratios) < 0.9 or max(ratios) > 1.1:
                problems.append(f"posterior at 1,000 trials off the reference (median shift up to {worst_shift:.2f} SD, "
                                f"SD ratio {min(ratios):.2f}-{max(ratios):.2f})")
    status = "failed" if problems else ("partial" if s.partial else "passed")
    summary = ("; ".join(problems) if problems else ("no problem found" if s.partial else "calibrated")) + " (" + "; ".join(notes) + ")."
    return status, summary


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x
