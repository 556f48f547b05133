"""nre_correct: an NRE posterior reweighted to the reference likelihood (PSIS)."""

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

import hssm
import hssm_nre
from hssm_nre.validation import correct as correct_mod


class _Tilted:
    """A stand-in reference: the network's likelihood plus c * v per draw, so the reweighted
    posterior of N(0, 1) draws in v is N(c, 1)."""

    description = "a tilted test reference"
    solves = False

    def __init__(self, c):
        self.c = c

    def require(self):
        pass

    def total_logp(self, draws, data):
        return self.c * draws[:, 0]


class _Flat:
    spec = hssm_nre.model_spec("ddm")

    def logp_sum(self, theta, rt, response):
        return 0.0 * theta[0]


def test_the_weights_move_the_posterior_toward_the_reference_by_the_likelihood_ratio(monkeypatch):
    monkeypatch.setattr(correct_mod, "reference_for", lambda spec: _Tilted(0.5))
    rng = np.random.default_rng(0)
    draws = np.column_stack([rng.normal(size=4000), np.full(4000, 1.2), np.full(4000, 0.5), np.full(4000, 0.3)])
    c = correct_mod.correct_draws(_Flat(), draws, np.ones((3, 2)), max_draws=4000, progress=False)
    assert c.params == ("v", "a", "z", "t") and c.reliable
    assert abs(c.mean["v"] - 0.5) < 0.08 and abs(c.sd["v"] - 1.0) < 0.08  # N(0.5, 1); a sign error gives -0.5
    assert abs(c.nre_mean["v"]) < 0.05 and abs(c.shift()["v"] + 0.5) < 0.1
    assert np.isclose(c.weights.sum(), 1.0) and c.ess < 4000
    assert abs(np.mean(c.resample(20_000)["v"]) - 0.5) < 0.05
    assert "k-hat" in str(c) and "shift (ref SD)" in str(c)
    # a reference far from the network: many draws carry no weight, k-hat says so
    monkeypatch.setattr(correct_mod, "reference_for", lambda spec: _Tilted(6.0))
    far = correct_mod.correct_draws(_Flat(), draws, np.ones((3, 2)), max_draws=4000, progress=False)
    assert not far.reliable and "NOT reliable" in str(far)


def _posterior(**columns):
    return SimpleNamespace(posterior=xr.Dataset(
        {k: (("chain", "draw") + tuple(f"d{i}" for i in range(np.ndim(v) - 2)), v) for k, v in columns.items()}))


def test_a_fitted_hssm_model_is_reweighted_to_wfpt(ddm_data, tiny_path):
    """The HSSM adapter: draws in the model's parameter order (a fixed parameter filled in), the
    network the model used, HSSM's analytic WFPT for the DDM, thinned to max_draws."""
    m = hssm.HSSM(data=ddm_data[["rt", "response"]], model="ddm", loglik_kind="nre", nre_weights=tiny_path,
                  p_outlier=0, z=0.5)
    rng = np.random.default_rng(1)
    post = _posterior(v=0.5 + 0.05 * rng.normal(size=(2, 100)), a=1.2 + 0.03 * rng.normal(size=(2, 100)),
                      t=0.3 + 0.005 * rng.normal(size=(2, 100)))
    c = hssm_nre.nre_correct(m, post, max_draws=50, progress=False)
    assert c.model == "ddm" and "WFPT" in c.reference and c.draws.shape == (50, 4)
    assert np.all(c.draws[:, 2] == 0.5) and np.all(np.isfinite(c.weights)) and np.isfinite(c.khat)
    # errors before any work, each naming the fix
    with pytest.raises(ValueError, match="varies by trial"):
        hssm_nre.nre_correct(m, _posterior(v=np.zeros((2, 10, 200)), a=np.ones((2, 10)), t=np.ones((2, 10))))
    with pytest.raises(ValueError, match="call model.sample"):
        hssm_nre.nre_correct(m)
    with pytest.raises(TypeError, match="loglik_kind='nre'"):
        hssm_nre.nre_correct(object(), post)
    lapse = hssm.HSSM(data=ddm_data[["rt", "response"]], model="ddm", loglik_kind="nre", nre_weights=tiny_path)
    with pytest.raises(ValueError, match="p_outlier=0"):
        hssm_nre.nre_correct(lapse, post)


def test_models_without_a_reference_are_refused_with_the_list():
    lik = SimpleNamespace(spec=hssm_nre.model_spec("levy"))
    with pytest.raises(ValueError, match="no reference likelihood to correct to; references: ddm"):
        correct_mod.correct_draws(lik, np.zeros((20, 5)), np.ones((3, 2)))


def test_validation_reweights_toward_the_reference_not_its_mirror_image():
    """fits.reweight (validate's posterior comparison) weights each draw by p_ref / p_nre. It
    once handed the log ratio to arviz_stats' psislw, which takes log-likelihoods and weights by
    exp(-ary): every shift it reported was toward p_nre^2 / p_ref."""
    from hssm_nre.validation.fits import reweight

    x = np.random.default_rng(0).normal(size=(4000, 1))
    w = reweight(x, 0.5 * x[:, 0] - 0.25 * x[:, 0] ** 2)  # N(0, 1) tilted: N(1/3, 1/1.5)
    assert abs(w["mean"][0] - 1 / 3) < 0.05 and abs(w["sd"][0] - np.sqrt(1 / 1.5)) < 0.05
    assert w["khat"] < 0.7 and np.isclose(w["weights"].sum(), 1.0)
