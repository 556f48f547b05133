# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The NRE likelihood in plain PyMC: a trial-wise regression and the DDM against WFPT
#
# The walkthrough this package grew from trains a ratio estimator with BayesFlow and uses it
# inside plain `pm.Model`s. Here the same two models (its Part 2, a trial-wise regression, and
# its Part 3, the DDM against the analytic WFPT likelihood) use the shipped DDM network through
# `hssm_nre.pymc.NRE`: no training, no HSSM model, any PyMC sampler.
#
# Set `HSSM_NRE_NOTEBOOK_QUICK=1` to run it with few trials and draws (as
# `tests/integration/test_notebooks.py` does): it then only checks that the notebook runs, and
# its figures and numbers are not meaningful.

# %%
import os

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm

import hssm_nre
from hssm_nre.simulate import simulate_dataset, simulate_trials

QUICK = os.environ.get("HSSM_NRE_NOTEBOOK_QUICK") == "1"
N = 200 if QUICK else 1000
SAMPLE = dict(draws=100, tune=100, chains=1) if QUICK else dict(draws=1000, tune=1000, chains=2)
SAMPLE |= dict(nuts_sampler="numpyro", progressbar=False, random_seed=1)

lik = hssm_nre.loglik("ddm")
print(lik.params, lik.bounds, lik.choices)

# %% [markdown]
# `hssm_nre.loglik("ddm")` is the network's single-trial log-likelihood as pure JAX: theta in
# `lik.params` order, the training box in `lik.bounds`. `hssm_nre.pymc.NRE` wraps it as a PyMC
# distribution whose parameters are scalars or one value per trial.
#
# ## Part 2: a trial-wise regression
#
# The drift depends on a condition, v_i = b0 + b1 c_i with c_i in {0, 1}; boundary, start point
# and non-decision time are shared. The data come from ssm-simulators, one trial per row of
# parameters.

# %%
rng = np.random.default_rng(0)
truth = {"b0": 0.3, "b1": 0.8, "a": 1.2, "z": 0.5, "t": 0.3}
cond = rng.integers(0, 2, N).astype(float)
theta = np.column_stack([truth["b0"] + truth["b1"] * cond, np.broadcast_to([truth["a"], truth["z"], truth["t"]], (N, 3))])
reg = simulate_trials("ddm", theta, seed=1)


def regression_model(likelihood: str):
    with pm.Model() as model:
        b0 = pm.Normal("b0", 0.0, 1.0)
        b1 = pm.Normal("b1", 0.0, 1.0)
        a = pm.Uniform("a", 0.5, 2.0)
        z = pm.Uniform("z", 0.2, 0.8)
        t = pm.Uniform("t", 0.0, 0.6)
        v = b0 + b1 * cond
        if likelihood == "nre":
            hssm_nre.pymc.NRE("obs", "ddm", v=v, a=a, z=z, t=t, observed=reg)
        else:  # HSSM's analytic WFPT density, the reference
            from hssm.likelihoods.analytical import logp_ddm

            pm.CustomDist(
                "obs", v, a, z, t,
                logp=lambda value, v, a, z, t: logp_ddm(value, v, a, z, t),
                signature="(),(),(),()->(2)",
                observed=reg[["rt", "response"]].to_numpy(float),
            )
    return model


fits = {}
for kind in ("nre", "wfpt"):
    with regression_model(kind):
        fits[kind] = pm.sample(**SAMPLE)
print(az.summary(fits["nre"], var_names=list(truth), kind="stats"))

# %%
def side_by_side(fits, names, truth, title):
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3))
    for ax, name in zip(axes, names):
        for kind, colour in (("wfpt", "grey"), ("nre", "darkblue")):
            draws = np.asarray(fits[kind]["posterior"][name]).ravel()
            ax.hist(draws, bins=40, density=True, alpha=0.6, color=colour, label=kind.upper())
        ax.axvline(truth[name], color="black", ls="--", label="truth")
        ax.set_title(name)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def shift_table(fits, names):
    rows = []
    for name in names:
        nre = np.asarray(fits["nre"]["posterior"][name]).ravel()
        ref = np.asarray(fits["wfpt"]["posterior"][name]).ravel()
        rows.append(f"{name:>3}: NRE {nre.mean():.3f} ± {nre.std():.3f}, WFPT {ref.mean():.3f} ± {ref.std():.3f}, "
                    f"|shift| {abs(nre.mean() - ref.mean()) / ref.std():.2f} WFPT SD, SD ratio {nre.std() / ref.std():.2f}")
    return "\n".join(rows)


side_by_side(fits, list(truth), truth, f"Trial-wise regression, {N} trials")
plt.show()
print(shift_table(fits, list(truth)))

# %% [markdown]
# ## Part 3: the DDM against WFPT
#
# One parameter vector for all trials, data simulated from the continuous-time DDM (the
# package simulates with the Euler-step boundary correction, so the data are what WFPT
# describes). Same priors, same sampler, same seed for both likelihoods.

# %%
ddm_truth = {"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3}
ddm = simulate_dataset("ddm", N, theta=ddm_truth, seed=2)


def ddm_model(likelihood: str):
    with pm.Model() as model:
        params = {p: pm.Uniform(p, lo, hi) for p, (lo, hi) in lik.bounds.items()}
        if likelihood == "nre":
            hssm_nre.pymc.NRE("obs", "ddm", observed=ddm, **params)
        else:
            from hssm.likelihoods.analytical import logp_ddm

            pm.CustomDist(
                "obs", *params.values(),
                logp=lambda value, v, a, z, t: logp_ddm(value, v, a, z, t),
                signature="(),(),(),()->(2)",
                observed=ddm[["rt", "response"]].to_numpy(float),
            )
    return model


ddm_fits = {}
for kind in ("nre", "wfpt"):
    with ddm_model(kind):
        ddm_fits[kind] = pm.sample(**SAMPLE)
side_by_side(ddm_fits, list(ddm_truth), ddm_truth, f"DDM, {N} trials: NRE against WFPT")
plt.show()
print(shift_table(ddm_fits, list(ddm_truth)))

# %% [markdown]
# The shipped DDM network's posteriors sit within a small fraction of a posterior SD of the
# analytic ones (its validation record: `hssm-nre info ddm`). Any other model with a network
# (`hssm-nre list`) works the same way: `hssm_nre.pymc.NRE("obs", "angle", ...)`.
