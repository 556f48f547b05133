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
# # A normalised NRE likelihood: contaminated data, HSSM's lapse, and LOO model comparison
#
# A ratio estimator learns log r(theta, x) = log p(x | theta) - log p(x). That is enough for a
# posterior over theta on fixed data, but not for three things HSSM users rely on: the lapse
# mixture `(1 - p_outlier) p(x | theta) + p_outlier lapse(x)`, absolute log-likelihoods, and
# LOO/WAIC model comparison. `loglik_kind="nre"` therefore adds a learned evidence term
# log p_hat(x) (shipped with every network) and returns
# log p_hat(x | theta) = log r_hat(theta, x) + log p_hat(x).
#
# This notebook shows:
# 1. the NRE likelihood is a density: it integrates to one over x, and matches analytic WFPT in
#    absolute terms;
# 2. a 5 % contaminated DDM dataset fitted with and without HSSM's lapse, NRE beside WFPT;
# 3. what goes wrong with the raw ratio (`nre_likelihood="ratio"`);
# 4. an LOO comparison of the DDM against the angle model (collapsing bounds), which only a
#    normalised likelihood allows.
#
# It uses the shipped DDM and angle networks: nothing is trained. About 6 minutes on 2 CPU cores.
# Set `HSSM_NRE_NOTEBOOK_QUICK=1` to run it with few trials and draws (as
# `tests/integration/test_notebooks.py` does): it then only checks that the notebook runs, and
# its figures and numbers are not meaningful.

# %%
import os
import warnings

warnings.filterwarnings("ignore", category=FutureWarning)
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import hssm
import hssm_nre
from hssm_nre.cache import find_network
from hssm_nre.compare import _flat_draws, compare_with_wfpt, contaminate, loo_table
from hssm_nre.normalisation import make_log_density_fn, normalisation_integrals
from hssm_nre.reference import wfpt_logp
from hssm_nre.simulate import simulate_dataset

QUICK = os.environ.get("HSSM_NRE_NOTEBOOK_QUICK") == "1"
N = 200 if QUICK else 1000
SAMPLE = dict(draws=50, tune=50, chains=1) if QUICK else dict(draws=1000, tune=1000, chains=2)

truth = {"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3}

# %% [markdown]
# ## 1. The NRE likelihood is a density
# For a few parameter vectors, the NRE density of (rt, response) next to the analytic WFPT
# density, and its integral over rt summed over both responses (`benchmarks/normalised.py` does
# this for 1,000 theta over the whole training box).

# %%
entry = find_network("ddm")
dens = make_log_density_fn(entry.spec, entry.weights, entry.evidence)
thetas = np.array([[0.5, 1.2, 0.5, 0.3], [-1.5, 0.6, 0.3, 0.2], [2.0, 2.0, 0.7, 0.5]])
integ = normalisation_integrals(entry.spec, dens, thetas)["integral"]
fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
for ax, th, I in zip(axes, thetas, integ):
    rt = np.linspace(th[3] + 1e-3, th[3] + 4 * th[1] ** 2 + 0.5, 400)
    for c, col in ((1, "darkblue"), (-1, "crimson")):
        ax.plot(rt, np.exp(dens(th, rt, c)), color=col, lw=2, label=f"NRE, response {c:+d}")
        ax.plot(rt, np.exp(wfpt_logp(rt, c, *th)), color="k", ls="--", lw=1, label="WFPT" if c == 1 else None)
    ax.set_title(f"v={th[0]}, a={th[1]}, z={th[2]}, t={th[3]}: integral {I:.3f}")
    ax.set_xlabel("rt (s)")
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Contaminated data, with and without the lapse
# 1,000 DDM trials, 5 % of them replaced by contaminants (uniform rt on [0, 5] s, random
# response): fast guesses and slow lapses of attention. `compare_with_wfpt` fits the same data
# with the NRE and with analytic WFPT (same priors, same sampler). First without a lapse term
# (`p_outlier=0`), then with HSSM's default (`p_outlier=0.05`, a Uniform(0, 20) rt density), then
# with `p_outlier` estimated.

# %%
clean = simulate_dataset("ddm", N, theta=truth, seed=0)
data = contaminate(clean, 0.05, seed=1)
print(data.contaminant.sum(), "contaminants;", (data.rt[data.contaminant] < truth["t"]).sum(), "of them faster than t")
data = data.drop(columns="contaminant")
fits = {}
for label, po in (
    ("no lapse", 0.0),
    ("lapse 0.05 (default)", 0.05),
    ("lapse estimated", {"name": "Beta", "alpha": 2.0, "beta": 20.0}),
):
    fits[label] = compare_with_wfpt(data, p_outlier=po, **SAMPLE, seed=1, progressbar=False)
    print(f"### {label}\n{fits[label].to_markdown()}\n")

# %%
names = ["v", "a", "z", "t"]
fig, axes = plt.subplots(1, 5, figsize=(19, 3.4))
colors = {"no lapse": "tab:orange", "lapse 0.05 (default)": "tab:green", "lapse estimated": "tab:blue"}
for label, cmp in fits.items():
    a, b = _flat_draws(cmp.idata_nre), _flat_draws(cmp.idata_wfpt)
    for ax, p in zip(axes, names + ["p_outlier"]):
        if p not in a:
            continue
        ax.hist(b[p], bins=40, density=True, color=colors[label], alpha=0.3)
        ax.hist(a[p], bins=40, density=True, histtype="step", lw=2, color=colors[label], label=label)
for ax, p in zip(axes, names + ["p_outlier"]):
    if p in truth:
        ax.axvline(truth[p], color="k", ls="--")
    ax.set_title(p)
axes[0].legend(fontsize=8)
fig.suptitle("Filled: analytic WFPT; lines: NRE (same data, priors, sampler). Dashed: truth.")
plt.tight_layout()
plt.show()

# %% [markdown]
# Without a lapse, the contaminants faster than `t` have zero likelihood under the DDM, so the
# fit depends on how each implementation scores an impossible trial: HSSM's analytic WFPT gives
# it a constant -66.1, the NRE min(its value at the support edge, -100) - 100 (t - rt) (a slope
# that pushes `t` below the data). Both posteriors are then wrong, and wrong differently (here
# `t` collapses towards 0 for the NRE and to about 0.03 for WFPT; `a`, `v` and `z` absorb the
# rest). The lapse is the model for such trials: with HSSM's lapse both recover the truth, and
# the NRE posterior sits on the analytic one, `p_outlier` included.
#
# ### LOO agrees with the analytic model
# PSIS-LOO of the NRE fit and the WFPT fit of the same data. The elpd difference should be well
# inside the LOO SE (it is N times the mean absolute log-likelihood error, about +0.001 nats per
# trial).

# %%
for label in ("lapse 0.05 (default)", "lapse estimated"):
    rows = loo_table({"wfpt": fits[label].idata_wfpt, "nre": fits[label].idata_nre})
    print(label)
    print(pd.DataFrame(rows).round(2).to_string(index=False))
    print()

# %% [markdown]
# ## 3. The raw ratio breaks the lapse
# `nre_likelihood="ratio"` drops the evidence term. The posterior of (v, a, z, t) without a
# lapse would be unchanged, but the lapse mixture now compares the lapse density with a *ratio*
# r = p(x | theta) / p(x): each trial's lapse weight is off by the factor p(x), so `p_outlier`
# no longer measures the contamination, and HSSM warns (a `LikelihoodWarning`, printed here).

# %%
from hssm_nre.errors import LikelihoodWarning

prior = {"name": "Beta", "alpha": 2.0, "beta": 20.0}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", LikelihoodWarning)
    m_ratio = hssm.HSSM(data=data, model="ddm", loglik_kind="nre", nre_likelihood="ratio", p_outlier=prior)
for w in caught:
    print(f"{w.category.__name__}: {w.message}")
idata_ratio = m_ratio.sample(**SAMPLE, random_seed=1, progressbar=False)
po = {
    "WFPT": _flat_draws(fits["lapse estimated"].idata_wfpt)["p_outlier"],
    "NRE (normalised)": _flat_draws(fits["lapse estimated"].idata_nre)["p_outlier"],
    "NRE raw ratio": _flat_draws(idata_ratio)["p_outlier"],
}
for k, v in po.items():
    print(f"{k:18s} p_outlier = {v.mean():.3f} +- {v.std():.3f}")
print("true contamination: 0.050")

# %% [markdown]
# ## 4. Model comparison: DDM vs angle (collapsing bounds)
# Data simulated from the angle model (linearly collapsing bounds, `theta` = 0.6 rad). Both
# models are fitted with NRE likelihoods and HSSM's default lapse, then compared by PSIS-LOO.
# With ratios this comparison would be meaningless: each network's ratio is relative to its own
# training marginal p(x), which differs between models, so the elpd difference would be shifted
# by sum_i [log p_ddm(x_i) - log p_angle(x_i)]. The normalised likelihoods make the two elpds
# comparable, and we show the size of the shift the ratios would have introduced.
#
# The shipped angle network's validation record is marked failed (coverage misses for `a` and
# `z`; `hssm_nre/pretrained/angle/validation.md`), so HSSM warns when it is used below.

# %%
theta_angle = {"v": 0.6, "a": 1.4, "z": 0.5, "t": 0.3, "theta": 0.6}
data_angle = simulate_dataset("angle", N, theta=theta_angle, seed=3)
m_ddm = hssm.HSSM(data=data_angle, model="ddm", loglik_kind="nre")
m_angle = hssm.HSSM(data=data_angle, model="angle", loglik_kind="nre")
print("angle network:", m_angle.nre.source, m_angle.nre.metadata.get("reproduce"))
id_ddm = m_ddm.sample(**SAMPLE, random_seed=2, progressbar=False)
id_angle = m_angle.sample(**SAMPLE, random_seed=2, progressbar=False)
rows = loo_table({"angle": id_angle, "ddm": id_ddm})
print(pd.DataFrame(rows).round(2).to_string(index=False))
post = _flat_draws(id_angle)
print({p: round(float(post[p].mean()), 3) for p in theta_angle}, "truth", theta_angle)

# %%
from hssm_nre.evidence import evidence_logp_numpy

e_ddm, e_angle = find_network("ddm"), find_network("angle")
rt, resp = data_angle.rt.to_numpy(), data_angle.response.to_numpy()
shift = (
    evidence_logp_numpy(e_ddm.spec, e_ddm.evidence, rt, resp)
    - evidence_logp_numpy(e_angle.spec, e_angle.evidence, rt, resp)
).sum()
print(
    f"With raw ratios the elpd difference (angle - ddm) would move by {shift:+.1f} nats: "
    "an artefact of the two training priors, not evidence about the models."
)
