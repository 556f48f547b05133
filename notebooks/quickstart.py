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
# # hssm_nre quickstart: the DDM with an NRE likelihood, side by side with analytic WFPT
#
# `import hssm_nre` adds `loglik_kind="nre"` to `hssm.HSSM`. The shipped DDM network is used:
# nothing is trained here. We simulate 1,000 DDM trials, fit them with the NRE and with HSSM's
# analytic WFPT likelihood (same priors, same sampler), and compare the posteriors.
#
# Set `HSSM_NRE_NOTEBOOK_QUICK=1` to run it with few trials and draws (as
# `tests/integration/test_notebooks.py` does): it then only checks that the notebook runs, and
# its figures and numbers are not meaningful.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import hssm
import hssm_nre
from hssm_nre.compare import compare_with_wfpt
from hssm_nre.simulate import simulate_dataset

QUICK = os.environ.get("HSSM_NRE_NOTEBOOK_QUICK") == "1"
N = 200 if QUICK else 1000
SAMPLE = dict(draws=50, tune=50, chains=1) if QUICK else dict(draws=1000, tune=1000, chains=2)
SAMPLE_SHORT = dict(draws=50, tune=50, chains=1) if QUICK else dict(draws=300, tune=300, chains=1)

truth = {"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3}
df = simulate_dataset("ddm", N, theta=truth, seed=0)
df.head()

# %% [markdown]
# ## The NRE model
# No arguments beyond `loglik_kind="nre"`: bounds are the network's training box, priors are
# uniform over it.

# %%
m = hssm.HSSM(data=df, model="ddm", loglik_kind="nre")
print(m.nre.source, m.nre.path)
m

# %% [markdown]
# ## NRE vs WFPT, side by side
# `compare_with_wfpt` fits both models with the same uniform priors over the training box and
# `p_outlier=0`, with numpyro NUTS (2 chains x 1,000 tune + 1,000 draws). Its figure is written
# to the working directory.

# %%
cmp = compare_with_wfpt(df, **SAMPLE, seed=1, truth=truth, plot_path="quickstart_posteriors.png", progressbar=False)
print(cmp.to_markdown())

# %%
fig, ax = plt.subplots(figsize=(12, 3.5))
ax.imshow(plt.imread("quickstart_posteriors.png"))
ax.axis("off")
plt.show()

# %% [markdown]
# ## The learned log-likelihood against WFPT at fixed data
# For one observed trial, sweep `v` and `a` (other parameters at their true values) and compare
# the NRE log-likelihood with the analytic one. Differences over theta are what the posterior
# sees.

# %%
from hssm_nre.cache import find_network
from hssm_nre.evidence import evidence_logp_numpy
from hssm_nre.likelihood import make_batched_log_ratio_fn
from hssm_nre.reference import wfpt_logp

entry = find_network("ddm")
f = make_batched_log_ratio_fn(entry.spec, entry.weights)
rt, ch = float(df.rt[0]), float(df.response[0])
vs, as_ = np.linspace(-3, 3, 121), np.linspace(0.4, 2.4, 101)
V, A = np.meshgrid(vs, as_)
th = np.stack([V, A, np.full_like(V, truth["z"]), np.full_like(V, truth["t"])], -1)
nre = np.asarray(f(th, rt, ch)) + evidence_logp_numpy(entry.spec, entry.evidence, rt, ch)
ref = wfpt_logp(rt, ch, V, A, truth["z"], truth["t"])
fig, ax = plt.subplots(1, 3, figsize=(15, 4))
for axi, Z, title in zip(ax, [nre, ref, nre - ref], ["NRE log-likelihood", "WFPT log-likelihood", "NRE - WFPT"]):
    im = axi.pcolormesh(V, A, Z, shading="auto", cmap="RdBu_r" if "-" in title else "viridis")
    axi.set_xlabel("v")
    axi.set_ylabel("a")
    axi.set_title(f"{title}\n(rt={rt:.3f}, response={ch:+.0f})")
    plt.colorbar(im, ax=axi)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Regression and hierarchy need no extra code

# %%
rng = np.random.default_rng(0)
df["x"] = rng.normal(size=len(df))
df["participant_id"] = np.repeat(np.arange(10), len(df) // 10)
m_reg = hssm.HSSM(data=df, model="ddm", loglik_kind="nre", include=[{"name": "v", "formula": "v ~ 1 + x"}])
m_hier = hssm.HSSM(
    data=df, model="ddm", loglik_kind="nre", include=[{"name": "v", "formula": "v ~ 1 + (1|participant_id)"}]
)
idata_reg = m_reg.sample(**SAMPLE_SHORT, progressbar=False)
post = idata_reg["posterior"]
print({k: round(float(post[k].mean()), 3) for k in ["v_Intercept", "v_x", "a", "z", "t"]})
idata_hier = m_hier.sample(**SAMPLE_SHORT, progressbar=False)
print(
    {
        k: round(float(idata_hier["posterior"][k].mean()), 3)
        for k in ["v_Intercept", "v_1|participant_id_sigma", "a", "z", "t"]
    }
)
