import numpy as np

from hssm_nre.config import SIM_MAX_T, model_spec
from hssm_nre.simulate import sample_parameters, simulate_training_data


def test_shapes_dtypes_and_box():
    spec = model_spec("ddm")
    d = simulate_training_data(spec, 5_000, seed=1, n_workers=1, progress=False)
    n = len(d["rt"])
    assert d["theta"].shape == (n, 4) and d["theta"].dtype == np.float32
    assert n + d["n_dropped"] == 5_000
    lo, hi = np.asarray(spec.lower), np.asarray(spec.upper)
    assert np.all(d["theta"] >= lo - 1e-6) and np.all(d["theta"] <= hi + 1e-6)
    assert set(np.unique(d["choice"])) <= {-1, 1}
    # every kept trial ends after t and before max_t: timed-out trials are dropped
    t = d["theta"][:, 3]
    assert np.all(d["rt"] > t) and np.all(d["rt"] - t < SIM_MAX_T)


def test_reproducible_and_independent_of_worker_count():
    spec = model_spec("ddm")
    a = simulate_training_data(spec, 150_000, seed=7, n_workers=1, progress=False)
    b = simulate_training_data(spec, 150_000, seed=7, n_workers=2, progress=False)
    c = simulate_training_data(spec, 150_000, seed=8, n_workers=2, progress=False)
    np.testing.assert_array_equal(a["rt"], b["rt"])
    np.testing.assert_array_equal(a["theta"], b["theta"])
    assert not np.array_equal(a["rt"][:100], c["rt"][:100])


def test_sampling_constraints_are_honoured():
    spec = model_spec("lba2")  # b > A is a sampling constraint in ssm-simulators
    th = sample_parameters(spec, 2_000, np.random.default_rng(0))
    iA, ib = spec.params.index("A"), spec.params.index("b")
    assert np.all(th[:, ib] >= th[:, iA])


def test_multichoice_model_simulates_every_choice():
    spec = model_spec("race_3")
    d = simulate_training_data(spec, 3_000, seed=2, n_workers=1, progress=False)
    assert set(np.unique(d["choice"])) == {0, 1, 2}


def test_boundary_correction_pulls_the_boundary_in_and_keeps_the_start_point():
    from hssm_nre.simulate import BGK_BETA, simulator_theta

    spec = model_spec("ddm")
    assert spec.boundary_correction
    th = np.array([[0.5, 1.2, 0.3, 0.2], [-1.0, 0.3, 0.9, 0.0]])
    sim = simulator_theta(spec, th)
    np.testing.assert_allclose(sim[:, 1], th[:, 1] - BGK_BETA * np.sqrt(0.001))
    start = lambda a, z: -a + 2 * a * z  # noqa: E731
    np.testing.assert_allclose(start(sim[:, 1], sim[:, 2]), start(th[:, 1], th[:, 2]))
    np.testing.assert_array_equal(sim[:, [0, 3]], th[:, [0, 3]])
    assert np.all((sim[:, 2] > 0) & (sim[:, 2] < 1))
    # models without the correction are simulated as they are
    ang = model_spec("angle")
    x = np.ones((2, ang.n_params))
    assert simulator_theta(ang, x) is x


def test_simulated_datasets_hold_recorded_trials_only():
    """Trials still running at max_t (rt ~ 20 s + t, made-up response) are replaced, as in training."""
    from hssm_nre.compare import simulate_dataset

    # a strongly leaky ornstein with wide bounds: 20 % of raw trials never reach a boundary
    theta = {"v": 0.59, "a": 2.43, "z": 0.88, "g": 0.84, "t": 0.48}
    df = simulate_dataset("ornstein", 300, theta=theta, seed=1)
    assert len(df) == 300
    assert (df.rt - theta["t"] < 20.0 - 0.01).all()
