import pytest

from hssm_nre.config import ModelSpec, TrainSettings, available_models, model_spec, padded_box
from hssm_nre.errors import UnknownModelError, UnsupportedModelError


def test_ddm_spec_matches_ssm_simulators():
    s = model_spec("ddm")
    assert s.params == ("v", "a", "z", "t")
    assert s.bounds == {"v": (-3.0, 3.0), "a": (0.3, 2.5), "z": (0.1, 0.9), "t": (0.0, 2.0)}
    assert s.choices == (-1, 1)
    assert s.shift and s.features == "scaling"


def test_generic_models_use_generic_features():
    s = model_spec("gamma_drift")  # a time-varying drift: no scaling law the features know
    assert s.shift and s.features == "generic"
    assert {"shape", "scale", "c"} <= set(s.params)
    s3 = model_spec("race_3")
    assert len(s3.choices) == 3


def test_unknown_model_lists_close_matches():
    with pytest.raises(UnknownModelError, match="Did you mean: .*ddm"):
        model_spec("dmm")


def test_deadline_models_are_refused_with_a_fix():
    # ssm-simulators builds deadline variants on request; they are not config keys
    assert not any(m.endswith("_deadline") for m in available_models())
    with pytest.raises(UnsupportedModelError, match="rt = -999.*'angle'"):
        model_spec("angle_deadline")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_simulations": 10}, "n_simulations"),
        ({"steps": 0}, "steps"),
        ({"K": 0}, "K must be positive"),
        ({"batch_size": 4, "K": 8, "n_simulations": 100}, "batch_size must exceed K"),
        ({"gamma": -1.0}, "gamma"),
        ({"widths": ()}, "widths"),
        ({"extra": {"stop_after_steps": 0}}, "stop_after_steps"),
        ({"extra": {"stop_after_steps": 2.5}}, "stop_after_steps"),
        ({"extra": {"pad": 0.0}}, "pad must be"),
        ({"extra": {"pad": 0.8}}, "pad must be"),
    ],
)
def test_train_settings_validate(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainSettings(**kwargs)


def test_spec_and_settings_round_trip():
    s = model_spec("ddm")
    assert type(s).from_dict(s.to_dict()) == s
    t = TrainSettings(widths=(8, 8), seed=3)
    assert TrainSettings.from_dict(t.to_dict()) == t


@pytest.mark.parametrize(
    "name, match",
    [
        ("inv_temp_softmax_2", "choice-only"),
        ("lba_3_vs_constraint", "sum to 1"),
        ("full_ddm_rv", "depends on other parameters"),
    ],
)
def test_models_an_nre_cannot_express_are_refused_with_the_reason(name, match):
    with pytest.raises(UnsupportedModelError, match=match):
        model_spec(name)


def test_ddm_sdv_is_simulated_with_the_boundary_correction():
    """HSSM's analytic ddm_sdv is the continuous-time model, so its training data are corrected."""
    assert model_spec("ddm_sdv").boundary_correction
    assert model_spec("angle").boundary_correction  # a moving boundary is pulled in locally
    assert model_spec("weibull").boundary_correction  # its collapse too (checked: reference_checks)
    assert model_spec("ornstein").boundary_correction  # the leak is constant within a step
    assert not model_spec("levy").boundary_correction  # jumps: no boundary-crossing correction
    assert model_spec("race_no_bias_3").boundary_correction  # the cut at 0 too (simulate._race_pulled_in)
    assert model_spec("race_4").boundary_correction and model_spec("race_no_z_2").boundary_correction
    assert not model_spec("lca_3").boundary_correction  # leak and inhibition: not derived
    assert not model_spec("race_no_bias_angle_4").boundary_correction  # a collapsing race: not derived


def test_spread_non_decision_time_moves_the_support_edge():
    """full_ddm and ddm_st draw ndt from U(t - st, t + st): rt can be below t (ssm's ndt_edge_shift)."""
    for name in ("full_ddm", "ddm_st"):
        spec = model_spec(name)
        assert spec.shift and spec.edge_shift == ("st", 1.0)
        assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert model_spec("ddm").edge_shift is None
    # ndt ~ Normal(t, st) has no lower edge at all: the network sees rt itself
    assert not model_spec("ddm_normal_st").shift


def test_feature_sets_are_chosen_per_network_and_refused_where_they_cannot_apply():
    assert model_spec("ddm").features == "scaling"
    assert model_spec("ddm_sdv").features == "scaling"
    assert model_spec("full_ddm").features == "edge"
    assert model_spec("angle").features == "scaling"
    assert model_spec("weibull").features == "scaling"  # Durbin's head in the scaled units
    sdv = model_spec("ddm_sdv")
    for f in ("scaling", "edge", "generic"):
        assert sdv.with_features(f).features == f and sdv.with_features(f).same_model(sdv)
    with pytest.raises(ValueError, match="the scaling .* features need"):
        model_spec("full_ddm").with_features("scaling")  # st spreads the support: no scaling law in u
    ang = model_spec("angle")  # DDM features by default (linear collapse: still Wald); generic still allowed
    assert ang.with_features("generic").features == "generic" and ang.with_features("generic").same_model(ang)
    with pytest.raises(ValueError, match="the scaling .* features need"):
        model_spec("levy").with_features("scaling")  # alpha-stable noise: no diffusion scaling law
    with pytest.raises(ValueError, match="the edge features need"):
        model_spec("race_3").with_features("edge")
    with pytest.raises(ValueError, match="features must be one of"):
        sdv.with_features("wald")


def test_collapsing_bound_features_need_a_known_collapsing_boundary():
    for name in ("weibull", "angle"):
        s = model_spec(name).with_features("bound")
        assert s.features == "bound" and s.same_model(model_spec(name))
        assert ModelSpec.from_dict(s.to_dict()) == s
    for name in ("ddm", "ornstein", "race_3"):  # constant boundary / not two-choice
        with pytest.raises(ValueError, match="the bound features need"):
            model_spec(name).with_features("bound")


def test_race_features_apply_to_race_like_models_only():
    from hssm_nre.config import race_layout

    # one accumulator per choice: drifts v0.., boundary a, start point shared, per accumulator or none
    assert race_layout(("v0", "v1", "v2", "a", "z", "t"), (0, 1, 2)) == (3, ("z",), ())
    assert race_layout(("v0", "v1", "a", "z0", "z1", "t"), (0, 1)) == (2, ("z0", "z1"), ())
    assert race_layout(("v0", "v1", "v2", "a", "t"), (0, 1, 2)) == (3, (), ())
    lca = model_spec("lca_3")
    assert race_layout(lca.params, lca.choices, lca.lower, lca.upper) == (3, ("z0", "z1", "z2"), ("g", "b"))
    for name in ("race_no_bias_3", "race_3", "race_no_z_4", "lca_no_bias_angle_3", "race_no_bias_2"):
        spec = model_spec(name).with_features("race")
        assert spec.features == "race" and spec.same_model(model_spec(name))
    for name in ("ddm", "levy", "lba3", "weibull"):  # two-choice (-1, 1) or no accumulator per choice
        with pytest.raises(ValueError, match="the race features need a race-like model"):
            model_spec(name).with_features("race")
    # drifts with different boxes: relabelling would not map the box onto itself
    assert race_layout(("v0", "v1", "a", "t"), (0, 1), (0, 0, 1, 0), (2, 3, 3, 2)) is None


def test_padded_box_widens_the_training_box_but_keeps_signs_and_unit_ranges():
    import numpy as np

    for name in ("lca_3", "weibull", "ddm", "lba3"):
        spec = model_spec(name)
        p = padded_box(spec, 0.1)
        lo, hi, plo, phi = map(np.asarray, (spec.lower, spec.upper, p.lower, p.upper))
        assert p.params == spec.params and (plo <= lo).all() and (phi > hi).all()
        assert (plo[lo < 0] == lo[lo < 0] - 0.1 * (hi - lo)[lo < 0]).all()  # free faces move by 10 %
        assert (plo[lo == 0] == 0).all() and (plo[lo > 0] >= lo[lo > 0] / 2).all() and (plo[lo > 0] > 0).all()
        start = np.array([q.startswith("z") for q in spec.params], bool)
        assert (phi[start] < 1).all()
    assert padded_box(model_spec("ddm"), 0.0) == model_spec("ddm")
    levy = padded_box(model_spec("levy"), 0.3)  # the stable index cannot exceed 2
    assert levy.upper[levy.params.index("alpha")] == 2.0
    for name in ("angle", "race_no_bias_angle_3"):  # tan(theta) turns over at pi/2
        s = padded_box(model_spec(name), 0.5)
        i = s.params.index("theta")
        assert -1.5 <= s.lower[i] and s.upper[i] <= 1.5 and s.upper[i] >= model_spec(name).upper[i]


def test_padded_settings_draw_training_parameters_from_the_widened_box(monkeypatch):
    """``extra["pad"]`` changes where training parameters come from, not the network's spec."""
    from hssm_nre import training

    seen = {}

    def fake_simulate(spec, n, **kwargs):
        seen["spec"] = spec
        raise RuntimeError("stop before simulating")

    monkeypatch.setattr(training, "simulate_training_data", fake_simulate)
    settings = TrainSettings(n_simulations=4_096, steps=1, extra={"pad": 0.1})
    with pytest.raises(RuntimeError, match="stop before"):
        training.train("lca_3", settings, progress=False)
    assert seen["spec"] == padded_box(model_spec("lca_3"), 0.1) != model_spec("lca_3")


def test_a_missing_optional_dependency_names_its_extra():
    from hssm_nre.errors import MissingExtraError, require

    assert require("json", "validation", "x").dumps(1) == "1"
    with pytest.raises(MissingExtraError, match=r"The thing needs 'no_such_module_xyz', which is not installed: "
                       r'pip install "hssm-nre\[validation\]"'):
        require("no_such_module_xyz.sub", "validation", "The thing")
    with pytest.raises(ImportError):  # an ImportError, as callers catching that expect
        require("no_such_module_xyz", "validation", "The thing")
