"""Side-by-side fits: NRE against HSSM's analytic likelihood on the same data
(WFPT for the DDM, its sv form for ddm_sdv; ``reference.ANALYTIC_MODELS``).

Both models get the same data, the same formulas, the same priors (uniform over
the NRE's training box unless given), the same lapse setting, the same sampler
and seed. The table reports, per posterior variable, both means and SDs,
|mean difference| / analytic SD and the SD ratio.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import model_spec
from .simulate import simulate_dataset, simulate_trials  # noqa: F401  (their home is hssm_nre.simulate)

__all__ = [
    "contaminate",
    "compare_with_wfpt",
    "compare_with_analytic",
    "Comparison",
    "posterior_table",
    "loo_table",
    "loo_pointwise",
    "shared_regression_priors",
    "rows_markdown",
    "uniform_box_include",
]


def contaminate(
    data,
    fraction: float = 0.05,
    *,
    rt_range: tuple[float, float] = (0.0, 5.0),
    choices=(-1, 1),
    seed: int = 0,
):
    """Replace a random ``fraction`` of trials by contaminants: uniform rt, random response.

    Returns a copy with a boolean column ``contaminant``. The rts are uniform on
    ``rt_range`` (clipped to >= 1 ms, as the data must have rt > 0); the
    responses are drawn uniformly from ``choices``. This is the data HSSM's lapse
    mixture (``p_outlier``) is meant to absorb.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must lie in [0, 1), got {fraction}.")
    lo, hi = rt_range
    if not 0.0 <= lo < hi:
        raise ValueError(f"rt_range must satisfy 0 <= low < high, got {rt_range}.")
    rng = np.random.default_rng(seed)
    out = data.copy()
    n = len(out)
    idx = rng.choice(n, size=int(round(fraction * n)), replace=False)
    mask = np.zeros(n, bool)
    mask[idx] = True
    rt = out["rt"].to_numpy(float).copy()
    resp = out["response"].to_numpy().copy()
    rt[idx] = np.maximum(rng.uniform(lo, hi, size=len(idx)), 1e-3)
    resp[idx] = rng.choice(np.asarray(choices), size=len(idx))
    out["rt"] = rt
    out["response"] = resp
    out["contaminant"] = mask
    return out


def loo_pointwise(idata) -> dict[str, np.ndarray]:
    """Pointwise PSIS-LOO (``elpd_i``, ``p_i``, ``pareto_k``) of one fit.

    With a lapse mixture, an observation below ``t`` is explained by the lapse
    alone, so its log-likelihood takes the same value in many draws (all of
    them, or every draw with ``t`` above its rt). The importance weights of
    such an observation are bounded, its largest weights all tie, and ArviZ's
    PSIS refuses it ("All tail values are the same"). Those observations get
    plain importance-sampling LOO (exact enough with bounded weights; Pareto k
    reported as NaN); PSIS runs on the rest.
    """
    import arviz as az
    import xarray as xr
    from scipy.special import logsumexp

    ll_ds = idata["log_likelihood"]
    ll_ds = ll_ds.to_dataset() if hasattr(ll_ds, "to_dataset") else ll_ds
    if len(ll_ds.data_vars) != 1:
        raise ValueError(f"expected one observed variable in log_likelihood, got {list(ll_ds.data_vars)}.")
    name = next(iter(ll_ds.data_vars))
    da = ll_ds[name]
    obs_dims = [d for d in da.dims if d not in ("chain", "draw")]
    arr = np.asarray(da.transpose("chain", "draw", *obs_dims).values)
    flat = arr.reshape(arr.shape[0] * arr.shape[1], -1)
    n_draws = flat.shape[0]
    # ArviZ's own tail size (arviz_stats _get_ps_tails): its check is on exactly these draws
    n_tail = int(np.floor(3 * np.sqrt(n_draws))) if n_draws > 225 else int(np.floor(n_draws / 5))
    n_tail = max(n_tail, 1)
    top = -np.sort(flat, axis=0)[:n_tail]  # the largest log-weights (-ll) per observation
    const = np.ptp(top, axis=0) < 1e-10
    lpd_i = logsumexp(flat, axis=0) - np.log(n_draws)
    elpd_i = -(logsumexp(-flat, axis=0) - np.log(n_draws))  # plain IS-LOO
    p_i = lpd_i - elpd_i
    k_i = np.full(flat.shape[1], np.nan)
    if (~const).any():
        sub = xr.Dataset({name: (("chain", "draw", "__obs__"), arr.reshape(*arr.shape[:2], -1)[..., ~const])})
        post = idata["posterior"]
        post = post.to_dataset() if hasattr(post, "to_dataset") else post
        dt = xr.DataTree.from_dict({"posterior": post, "log_likelihood": sub})
        r = az.loo(dt, pointwise=True)
        elpd_i[~const] = np.asarray(r.elpd_i).ravel()
        p_i[~const] = lpd_i[~const] - elpd_i[~const]
        k_i[~const] = np.asarray(r.pareto_k).ravel()
    return {"elpd_i": elpd_i, "p_i": p_i, "pareto_k": k_i, "n_plain_is": int(const.sum())}


def loo_table(fits: dict[str, Any], reference: str | None = None) -> list[dict[str, Any]]:
    """PSIS-LOO of several fits of the same data (each needs a ``log_likelihood`` group).

    Per fit: elpd_loo, its SE, p_loo, the largest Pareto k, and, against
    ``reference`` (default: the first fit), the elpd difference with its paired SE
    (from the pointwise differences, the SE that matters for comparing models
    on the same data).
    """
    import arviz as az

    res = {k: loo_pointwise(v) for k, v in fits.items()}
    ref = reference or next(iter(fits))
    ref_i = res[ref]["elpd_i"]
    rows = []
    for k, r in res.items():
        e_i = r["elpd_i"]
        d = e_i - ref_i
        rows.append(
            {
                "model": k,
                "elpd_loo": float(e_i.sum()),
                "se": float(np.sqrt(len(e_i) * np.var(e_i))),
                "p_loo": float(r["p_i"].sum()),
                "max_pareto_k": float(np.nanmax(r["pareto_k"])),
                "elpd_diff": float(d.sum()),
                "diff_se": float(np.sqrt(len(d) * np.var(d))),
            }
        )
    return rows


def _posterior(idata):
    try:
        return idata["posterior"].to_dataset() if hasattr(idata["posterior"], "to_dataset") else idata["posterior"]
    except (KeyError, TypeError):
        return idata.posterior


def _flat_draws(idata) -> dict[str, np.ndarray]:
    post = _posterior(idata)
    out = {}
    for name, da in post.data_vars.items():
        arr = np.asarray(da.values)
        arr = arr.reshape(arr.shape[0] * arr.shape[1], -1)
        if arr.shape[1] == 1:
            out[str(name)] = arr[:, 0]
        elif arr.shape[1] <= 50:  # group-level vectors; skip per-trial arrays
            for j in range(arr.shape[1]):
                out[f"{name}[{j}]"] = arr[:, j]
    return out


def _diagnostics(idata) -> dict[str, Any]:
    out = {"divergences": None}
    try:
        ss = idata["sample_stats"]
        ss = ss.to_dataset() if hasattr(ss, "to_dataset") else ss
        out["divergences"] = int(np.asarray(ss["diverging"].values).sum())
    except Exception:
        pass
    return out


def posterior_table(idata_nre, idata_ref) -> list[dict[str, Any]]:
    a, b = _flat_draws(idata_nre), _flat_draws(idata_ref)
    rows = []
    for name in [n for n in b if n in a]:
        m1, s1 = float(np.mean(a[name])), float(np.std(a[name]))
        m0, s0 = float(np.mean(b[name])), float(np.std(b[name]))
        rows.append(
            {
                "param": name,
                "mean_nre": m1,
                "sd_nre": s1,
                "mean_wfpt": m0,
                "sd_wfpt": s0,
                "abs_diff_over_sd": abs(m1 - m0) / s0 if s0 > 0 else float("nan"),
                "sd_ratio": s1 / s0 if s0 > 0 else float("nan"),
            }
        )
    return rows


@dataclass
class Comparison:
    """Side-by-side fits of the same data: the NRE against HSSM's analytic likelihood.

    Made by :func:`compare_with_analytic` and :func:`compare_with_wfpt`. The analytic fit's
    entries are labelled ``wfpt`` for every model.

    Attributes
    ----------
    rows
        One dict per posterior variable (:func:`posterior_table`): ``param``, ``mean_nre``,
        ``sd_nre``, ``mean_wfpt``, ``sd_wfpt``, ``abs_diff_over_sd`` (|mean difference| /
        analytic SD) and ``sd_ratio`` (NRE SD / analytic SD).
    seconds_nre, seconds_wfpt
        Wall time of each fit's sampling, in seconds.
    diagnostics
        Per fit (``"nre"``, ``"wfpt"``): ``{"divergences": int or None}``.
    idata_nre, idata_wfpt
        The fits' inference data.
    plot_path
        Where :func:`plot_comparison` wrote the plot, or None.
    """
    rows: list[dict[str, Any]]
    seconds_nre: float
    seconds_wfpt: float
    diagnostics: dict[str, Any]
    idata_nre: Any
    idata_wfpt: Any
    plot_path: Path | None = None

    @property
    def max_abs_diff_over_sd(self) -> float:
        """The largest |mean difference| / analytic SD over the posterior variables."""
        return max(r["abs_diff_over_sd"] for r in self.rows)

    def to_markdown(self) -> str:
        """The table as markdown, with the wall times, their ratio and the divergences.

        Returns
        -------
        str
            The markdown.
        """
        lines = [rows_markdown(self.rows), ""]
        lines.append(
            f"Wall time: NRE {self.seconds_nre:.1f} s, WFPT {self.seconds_wfpt:.1f} s "
            f"(ratio {self.seconds_nre / self.seconds_wfpt:.2f}). "
            f"Divergences: NRE {self.diagnostics['nre']['divergences']}, "
            f"WFPT {self.diagnostics['wfpt']['divergences']}."
        )
        return "\n".join(lines)


def rows_markdown(rows: list[dict[str, Any]]) -> str:
    """The :func:`posterior_table` rows as a markdown table."""
    lines = [
        "| param | NRE mean | NRE sd | WFPT mean | WFPT sd | abs diff / WFPT sd | sd ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['param']} | {r['mean_nre']:.4f} | {r['sd_nre']:.4f} | {r['mean_wfpt']:.4f} "
            f"| {r['sd_wfpt']:.4f} | {r['abs_diff_over_sd']:.2f} | {r['sd_ratio']:.2f} |"
        )
    return "\n".join(lines)


def uniform_box_include(spec, include: list[dict] | None = None) -> list[dict]:
    """``include`` plus a uniform prior over the training box for every parameter it does not name."""
    include = [dict(i) for i in (include or [])]
    named = {i["name"] for i in include}
    include += [
        {"name": p, "prior": {"name": "Uniform", "lower": lo, "upper": hi}}
        for p, (lo, hi) in spec.bounds.items()
        if p not in named
    ]
    return include


def plot_comparison(cmp: Comparison, path: str | Path, truth: dict[str, float] | None = None) -> Path:
    # The object-oriented API, not pyplot: no backend switch, safe in notebooks and headless.
    """Plot each parameter's two posteriors, NRE over analytic, and save the figure.

    One histogram per row of ``cmp.rows``: the analytic posterior filled in grey, the NRE's as a
    line, the true value (if given) dashed; titled with |diff| / sd. Uses matplotlib's
    object-oriented API (no backend switch, safe in notebooks and headless).

    Parameters
    ----------
    cmp
        The comparison.
    path
        The image file to write (its folder is created).
    truth
        True parameter values by name, drawn where given.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    MissingExtraError
        matplotlib is not installed (``pip install "hssm-nre[validation]"``).
    """
    from .errors import require

    Figure = require("matplotlib.figure", "validation", "The comparison plot").Figure

    a, b = _flat_draws(cmp.idata_nre), _flat_draws(cmp.idata_wfpt)
    names = [r["param"] for r in cmp.rows]
    ncol = min(4, len(names))
    nrow = int(np.ceil(len(names) / ncol))
    fig = Figure(figsize=(4.2 * ncol, 3.2 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for ax, r in zip(axes.ravel(), cmp.rows):
        n = r["param"]
        lo = min(a[n].min(), b[n].min())
        hi = max(a[n].max(), b[n].max())
        bins = np.linspace(lo, hi, 50)
        ax.hist(b[n], bins=bins, density=True, alpha=0.6, color="gray", label="WFPT (analytic)")
        ax.hist(a[n], bins=bins, density=True, histtype="step", lw=2, color="darkblue", label="NRE")
        if truth and n in truth:
            ax.axvline(truth[n], color="k", ls="--", lw=1, label="true")
        ax.set_title(f"{n}: |diff|/sd = {r['abs_diff_over_sd']:.2f}")
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=8)
    fig.suptitle("Posterior: NRE vs analytic WFPT")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def shared_regression_priors(data, include: list[dict], *, p_outlier=0.0, model: str = "ddm") -> list[dict]:
    """Give every regression term the same prior under both likelihoods.

    HSSM picks default priors for regression terms by likelihood kind: the
    analytic DDM gets HDDM's (e.g. v's intercept ~ Normal(2, 3)), any
    ``approx_differentiable`` model (the LAN, the NRE) a generic set (intercept ~
    Normal(box centre, 0.25)). Compared as they come, the two posteriors differ
    by the prior, not the likelihood. This builds the analytic model once and
    copies its full prior dict (user-given terms included) into ``include``.
    """
    import hssm

    if not any("formula" in i for i in include):
        return include
    ref = hssm.HSSM(data=data, model=model, loglik_kind="analytical", include=include, p_outlier=p_outlier)
    out = []
    for item in include:
        item = dict(item)
        if "formula" in item:
            item["prior"] = dict(ref.params[item["name"]].prior)
        out.append(item)
    return out


def compare_with_analytic(
    data,
    *,
    model: str = "ddm",
    include: list[dict] | None = None,
    p_outlier: float | None = 0.0,
    sampler: str = "numpyro",
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    seed: int = 0,
    plot_path: str | Path | None = None,
    truth: dict[str, float] | None = None,
    progressbar: bool = True,
    **nre_kwargs,
) -> Comparison:
    """Fit ``data`` with ``loglik_kind="nre"`` and ``"analytical"``; tabulate the posteriors.

    Both models get the same data, formulas, priors, lapse setting, sampler and seed. Parameters
    that ``include`` does not name get a uniform prior over the NRE's training box in both models
    (named ones keep what ``include`` gives them); regression terms get the analytic model's
    default priors in both (see :func:`shared_regression_priors`). Two MCMC fits: minutes.

    Parameters
    ----------
    data
        The data frame (``rt``, ``response`` and any covariates).
    model
        A model with an analytic likelihood in HSSM (``ddm``, ``ddm_sdv``).
    include
        HSSM's ``include`` list, for both models.
    p_outlier
        HSSM's lapse probability, for both models.
    sampler, draws, tune, chains, seed, progressbar
        As ``hssm.HSSM.sample`` (``random_seed=seed``; ``sampler="pymc"`` runs on one core).
    plot_path
        Where to write :func:`plot_comparison`'s figure (default: no plot).
    truth
        True parameter values by name, for the plot.
    **nre_kwargs
        More arguments for the NRE model only (e.g. ``nre_weights``, ``nre_likelihood``).

    Returns
    -------
    Comparison
        The table, timings, diagnostics and both fits.

    Raises
    ------
    ValueError
        ``model`` has no analytic likelihood in HSSM.
    """
    import hssm

    from .reference import require_analytic
    from .register import install

    require_analytic(model)
    install()
    spec = model_spec(model)
    include = uniform_box_include(spec, include)
    include = shared_regression_priors(data, include, p_outlier=p_outlier, model=model)
    common = dict(model=model, include=include, p_outlier=p_outlier)
    sample_kw = dict(
        sampler=sampler, draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=progressbar
    )
    if sampler == "pymc":
        sample_kw["cores"] = 1

    fits = {}
    times = {}
    for key, kind in (("nre", "nre"), ("wfpt", "analytical")):
        extra = nre_kwargs if kind == "nre" else {}
        m = hssm.HSSM(data=data, loglik_kind=kind, **common, **extra)
        t0 = time.perf_counter()
        fits[key] = m.sample(**sample_kw)
        times[key] = time.perf_counter() - t0
    cmp = Comparison(
        rows=posterior_table(fits["nre"], fits["wfpt"]),
        seconds_nre=times["nre"],
        seconds_wfpt=times["wfpt"],
        diagnostics={k: _diagnostics(v) for k, v in fits.items()},
        idata_nre=fits["nre"],
        idata_wfpt=fits["wfpt"],
    )
    if plot_path is not None:
        cmp.plot_path = plot_comparison(cmp, plot_path, truth)
    return cmp


def compare_with_wfpt(data, **kwargs) -> Comparison:
    """:func:`compare_with_analytic` for the DDM: the NRE against analytic WFPT.

    Parameters
    ----------
    data
        The data frame (``rt``, ``response`` and any covariates).
    **kwargs
        The options of :func:`compare_with_analytic` but ``model``.

    Returns
    -------
    Comparison
        The table, timings, diagnostics and both fits.

    Examples
    --------
    Two MCMC fits (minutes):

    >>> from hssm_nre.compare import compare_with_wfpt
    >>> from hssm_nre.simulate import simulate_dataset
    >>> df = simulate_dataset("ddm", 1000, theta={"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3})
    >>> cmp = compare_with_wfpt(df, plot_path="posteriors.png")  # doctest: +SKIP
    >>> print(cmp.to_markdown())  # doctest: +SKIP
    """
    return compare_with_analytic(data, model="ddm", **kwargs)
