"""Write and execute notebooks/quickstart.ipynb (run from the repo root with the venv's python)."""

from _build import build

cells = [
    ("md", """# hssm_nre quickstart: the DDM with an NRE likelihood, side by side with analytic WFPT

`import hssm_nre` adds `loglik_kind="nre"` to `hssm.HSSM`. The shipped DDM network is used: nothing is trained here.
We simulate 1,000 DDM trials, fit them with the NRE and with HSSM's analytic WFPT likelihood (same priors, same sampler),
and compare the posteriors."""),
    ("code", """import numpy as np, matplotlib.pyplot as plt
import hssm, hssm_nre
from hssm_nre.compare import compare_with_wfpt
from hssm_nre.simulate import simulate_dataset

truth = {"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3}
df = simulate_dataset("ddm", 1000, theta=truth, seed=0)
df.head()"""),
    ("md", """## The NRE model
No arguments beyond `loglik_kind="nre"`: bounds are the network's training box, priors are uniform over it."""),
    ("code", """m = hssm.HSSM(data=df, model="ddm", loglik_kind="nre")
print(m.nre.source, m.nre.path)
m"""),
    ("md", """## NRE vs WFPT, side by side
`compare_with_wfpt` fits both models with the same uniform priors over the training box and `p_outlier=0`,
with numpyro NUTS (2 chains x 1,000 tune + 1,000 draws)."""),
    ("code", """cmp = compare_with_wfpt(df, draws=1000, tune=1000, chains=2, seed=1, truth=truth,
                        plot_path="quickstart_posteriors.png", progressbar=False)
print(cmp.to_markdown())"""),
    ("code", """from IPython.display import Image
Image("quickstart_posteriors.png")"""),
    ("md", """## The learned log-likelihood against WFPT at fixed data
For one observed trial, sweep `v` and `a` (other parameters at their true values) and compare the NRE
log-likelihood with the analytic one. Differences over theta are what the posterior sees."""),
    ("code", """import jax.numpy as jnp
from hssm_nre.likelihood import make_batched_log_ratio_fn
from hssm_nre.evidence import evidence_logp_numpy
from hssm_nre.reference import wfpt_logp
from hssm_nre.cache import find_network

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
    axi.set_xlabel("v"); axi.set_ylabel("a"); axi.set_title(f"{title}\\n(rt={rt:.3f}, response={ch:+.0f})")
    plt.colorbar(im, ax=axi)
plt.tight_layout()
plt.show()"""),
    ("md", """## Regression and hierarchy need no extra code"""),
    ("code", """rng = np.random.default_rng(0)
df["x"] = rng.normal(size=len(df))
df["participant_id"] = np.repeat(np.arange(10), 100)
m_reg = hssm.HSSM(data=df, model="ddm", loglik_kind="nre", include=[{"name": "v", "formula": "v ~ 1 + x"}])
m_hier = hssm.HSSM(data=df, model="ddm", loglik_kind="nre",
                   include=[{"name": "v", "formula": "v ~ 1 + (1|participant_id)"}])
idata_reg = m_reg.sample(draws=300, tune=300, chains=1, progressbar=False)
post = idata_reg["posterior"]
print({k: round(float(post[k].mean()), 3) for k in ["v_Intercept", "v_x", "a", "z", "t"]})
idata_hier = m_hier.sample(draws=300, tune=300, chains=1, progressbar=False)
print({k: round(float(idata_hier["posterior"][k].mean()), 3) for k in ["v_Intercept", "v_1|participant_id_sigma", "a", "z", "t"]})"""),
]

build(cells, "quickstart.ipynb", timeout=1800)
