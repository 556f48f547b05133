"""Side-by-side comparisons must differ only by the likelihood."""

import hssm_nre  # noqa: F401


def test_regression_terms_get_the_same_priors_under_both_likelihoods(ddm_data):
    """HSSM's defaults differ by loglik kind (v's intercept: Normal(2, 3) analytic vs
    Normal(0, 0.25) approx_differentiable); the comparison must remove that."""
    import hssm

    from hssm_nre.compare import shared_regression_priors

    inc = [{"name": "v", "formula": "v ~ 1 + x + (1|participant_id)"}, {"name": "a", "prior": 1.2}]
    as_is = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", include=inc, p_outlier=0)
    ref = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="analytical", include=inc, p_outlier=0)
    assert str(as_is.params["v"].prior["Intercept"]) != str(ref.params["v"].prior["Intercept"])

    shared = shared_regression_priors(ddm_data, inc, p_outlier=0)
    assert shared[1] == inc[1] and "prior" not in inc[0]  # input untouched, non-formula items kept
    nre = hssm.HSSM(data=ddm_data, model="ddm", loglik_kind="nre", include=shared, p_outlier=0)
    for term in ("Intercept", "x", "1|participant_id"):
        assert str(nre.params["v"].prior[term]) == str(ref.params["v"].prior[term]), term
