"""Side-by-side fits: NRE against the analytic WFPT likelihood on the same DDM data.

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

__all__ = ["simulate_dataset", "simulate_trials", "compare_with_wfpt", "Comparison", "posterior_table"]


def simulate_dataset(
    model: str = "ddm",
    n_trials: int = 1000,
    *,
    theta: dict[str, float] | None = None,
    seed: int = 0,
):
    """Simulate ``n_trials`` trials from ``model`` at ``theta`` as an HSSM data frame.

    Boundary-corrected models (the DDM) are simulated with the same
    discrete-monitoring correction as the training data, so the data come from
    the continuous-time model (see :mod:`hssm_nre.simulate`).
    """
    import pandas as pd
    import ssms

    from .simulate import simulator_theta

    spec = model_spec(model)
    cfg_default = dict(zip(spec.params, ssms.config.model_config[model]["default_params"]))
    theta = cfg_default | (theta or {})
    unknown = set(theta) - set(spec.params)
    if unknown:
        raise ValueError(f"Unknown parameter(s) {sorted(unknown)} for {model!r}; params are {spec.params}.")
    for p, val in theta.items():
        lo, hi = spec.bounds[p]
        if not lo <= val <= hi:
            raise ValueError(f"{p}={val} lies outside {model!r}'s training box [{lo}, {hi}].")
    sim_theta = simulator_theta(spec, np.asarray([[theta[p] for p in spec.params]], float))[0]
    out = ssms.Simulator(model).simulate(
        {p: np.asarray([sim_theta[i]]) for i, p in enumerate(spec.params)},
        n_samples=n_trials,
        random_state=seed,
        return_option="minimal",
    )
    return pd.DataFrame(
        {"rt": np.asarray(out["rts"]).ravel(), "response": np.asarray(out["choices"]).ravel()}
    )


def simulate_trials(model: str, theta: np.ndarray, *, seed: int = 0):
    """One trial per row of ``theta`` (n, n_params), e.g. trial-wise regressions.

    Same boundary correction as :func:`simulate_dataset`; returns rt and response.
    """
    import pandas as pd
    import ssms

    from .simulate import simulator_theta

    spec = model_spec(model)
    sim = simulator_theta(spec, np.asarray(theta, float))
    out = ssms.Simulator(model).simulate(
        {p: sim[:, i] for i, p in enumerate(spec.params)},
        n_samples=1,
        random_state=seed,
        return_option="minimal",
    )
    return pd.DataFrame(
        {"rt": np.asarray(out["rts"]).ravel(), "response": np.asarray(out["choices"]).ravel()}
    )


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
    rows: list[dict[str, Any]]
    seconds_nre: float
    seconds_wfpt: float
    diagnostics: dict[str, Any]
    idata_nre: Any
    idata_wfpt: Any
    plot_path: Path | None = None

    @property
    def max_abs_diff_over_sd(self) -> float:
        return max(r["abs_diff_over_sd"] for r in self.rows)

    def to_markdown(self) -> str:
        lines = [
            "| param | NRE mean | NRE sd | WFPT mean | WFPT sd | abs diff / WFPT sd | sd ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r['param']} | {r['mean_nre']:.4f} | {r['sd_nre']:.4f} | {r['mean_wfpt']:.4f} "
                f"| {r['sd_wfpt']:.4f} | {r['abs_diff_over_sd']:.2f} | {r['sd_ratio']:.2f} |"
            )
        lines.append("")
        lines.append(
            f"Wall time: NRE {self.seconds_nre:.1f} s, WFPT {self.seconds_wfpt:.1f} s "
            f"(ratio {self.seconds_nre / self.seconds_wfpt:.2f}). "
            f"Divergences: NRE {self.diagnostics['nre']['divergences']}, "
            f"WFPT {self.diagnostics['wfpt']['divergences']}."
        )
        return "\n".join(lines)


def plot_comparison(cmp: Comparison, path: str | Path, truth: dict[str, float] | None = None) -> Path:
    # The object-oriented API, not pyplot: no backend switch, safe in notebooks and headless.
    from matplotlib.figure import Figure

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


def compare_with_wfpt(
    data,
    *,
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
    """Fit ``data`` with ``loglik_kind="nre"`` and ``"analytical"``; tabulate posteriors.

    Parameters without a formula in ``include`` get a uniform prior over the
    NRE's training box in both models.
    """
    import hssm

    from .register import install

    install()
    spec = model_spec("ddm")
    include = list(include or [])
    named = {i["name"] for i in include}
    for p, (lo, hi) in spec.bounds.items():
        if p not in named:
            include.append({"name": p, "prior": {"name": "Uniform", "lower": lo, "upper": hi}})
    common = dict(model="ddm", include=include, p_outlier=p_outlier)
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
