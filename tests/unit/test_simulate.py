import numpy as np
import pytest

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


def test_reproducible_and_independent_of_worker_count(monkeypatch):
    from hssm_nre import simulate

    monkeypatch.setattr(simulate, "CHUNK", 15_000)
    spec = model_spec("ddm")
    n = 40_000  # three chunks: the worker pool runs
    a = simulate_training_data(spec, n, seed=7, n_workers=1, progress=False)
    b = simulate_training_data(spec, n, seed=7, n_workers=2, progress=False)
    c = simulate_training_data(spec, n, seed=7 + 1, n_workers=2, progress=False)
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
    levy = model_spec("levy")
    x = np.ones((2, levy.n_params))
    assert simulator_theta(levy, x) is x


def test_a_moving_boundary_is_pulled_in_at_every_step_with_the_start_point_held():
    """Corrected angle at theta = 0 (a flat boundary) is the raw walk with a - beta sqrt(dt) and
    the start point held: the same trials, draw for draw."""
    import dataclasses

    from hssm_nre.simulate import BGK_BETA, simulate_rows

    spec = model_spec("angle")  # v, a, z, t, theta
    assert spec.boundary_correction
    th = np.array([[0.7, 1.3, 0.35, 0.2, 0.0]] * 400 + [[-0.4, 1.8, 0.6, 0.5, 0.0]] * 400)
    rt, ch = simulate_rows(spec, th, [slice(0, len(th))], [11])
    shift = BGK_BETA * np.sqrt(0.001)
    raw = th.copy()
    raw[:, 1] = th[:, 1] - shift
    raw[:, 2] = (-th[:, 1] + 2 * th[:, 1] * th[:, 2] + raw[:, 1]) / (2 * raw[:, 1])  # same absolute start
    uncorrected = dataclasses.replace(spec, boundary_correction=False)
    rt0, ch0 = simulate_rows(uncorrected, raw, [slice(0, len(th))], [11])
    np.testing.assert_allclose(rt, rt0, rtol=1e-6)
    np.testing.assert_array_equal(ch, ch0)
    # and the correction is not a no-op: the uncorrected walk from the same seed differs
    rt1, _ = simulate_rows(uncorrected, th, [slice(0, len(th))], [11])
    assert np.mean(rt1) > np.mean(rt)


def test_a_race_lowers_its_threshold_twice_and_its_start_points_once():
    """Accumulators cut at 0 every step act as if reflected a shift below 0 and absorbed a shift
    above a: the corrected walk has a - 2 shift and starts z a - shift (not below 0), draw for
    draw the raw walk with those parameters."""
    import dataclasses

    from hssm_nre.simulate import BGK_BETA, describe_simulation, simulate_rows, simulator_theta

    c = BGK_BETA * np.sqrt(0.001)
    spec = model_spec("race_3")  # v0, v1, v2, a, z0, z1, z2, t
    assert spec.boundary_correction
    th = np.array([[1.0, 0.5, 1.5, 2.0, 0.3, 0.0, 0.005, 0.3]])
    sim = simulator_theta(spec, th)
    np.testing.assert_allclose(sim[0, 3], 2.0 - 2 * c)
    np.testing.assert_allclose(sim[0, 4:7] * sim[0, 3], [0.6 - c, 0.0, 0.0])  # 0.01 - c < 0: started at 0
    np.testing.assert_array_equal(sim[0, [0, 1, 2, 7]], th[0, [0, 1, 2, 7]])
    th = np.repeat(np.array([[1.0, 0.5, 1.5, 1.2, 0.4, 0.1, 0.6, 0.2]]), 600, axis=0)
    rt, ch = simulate_rows(spec, th, [slice(0, len(th))], [5])
    raw = dataclasses.replace(spec, boundary_correction=False)
    rt0, ch0 = simulate_rows(raw, simulator_theta(spec, th), [slice(0, len(th))], [5])
    np.testing.assert_allclose(rt, rt0, rtol=1e-6)
    np.testing.assert_array_equal(ch, ch0)
    rt1, _ = simulate_rows(raw, th, [slice(0, len(th))], [5])
    assert np.mean(rt1) > np.mean(rt)  # not a no-op
    assert describe_simulation(spec)["boundary"].startswith("a - 2 x 0.5826")
    # no start points (race_no_z): only the threshold moves; an LCA is not corrected
    nz = model_spec("race_no_z_2")
    np.testing.assert_allclose(simulator_theta(nz, np.array([[1.0, 1.0, 1.5, 0.2]])), [[1.0, 1.0, 1.5 - 2 * c, 0.2]])
    lca = model_spec("lca_3")
    assert describe_simulation(lca)["time"] == "discrete"
    with pytest.raises(ValueError, match="no boundary correction"):
        simulator_theta(dataclasses.replace(lca, boundary_correction=True), np.ones((1, lca.n_params)))


def test_fine_step_models_are_simulated_at_most_1_ms_times_a_squared_below_a_of_1():
    from hssm_nre.simulate import euler_steps

    ang = model_spec("angle")
    a = np.array([3.0, 1.0, 0.8, 0.5, 0.4, 0.3])
    th = np.zeros((len(a), ang.n_params))
    th[:, ang.params.index("a")] = a
    steps = euler_steps(ang, th)
    np.testing.assert_allclose(steps * 1000, [1, 1, 0.5, 0.25, 0.125, 0.0625])
    assert np.all(steps <= 0.001 * np.minimum(1, a * a) + 1e-15)
    assert np.all(steps > 0.0005 * np.minimum(1, a * a))
    ddm = model_spec("ddm")  # the DDM family keeps the 1 ms walk its networks were trained on
    assert np.all(euler_steps(ddm, th[:, :4]) == 0.001)
    # what a network's metadata records
    from hssm_nre.simulate import describe_simulation

    d = describe_simulation(ang)
    assert d["time"] == "continuous" and d["boundary"].startswith("b(t) - 0.5826") and "a**2" in d["euler_step"]
    assert describe_simulation(ddm)["boundary"].startswith("a - 0.5826") and describe_simulation(ddm)["euler_step"] == "1 ms"
    assert describe_simulation(model_spec("levy"))["time"] == "discrete"


def test_rows_are_simulated_in_one_call_per_euler_step(monkeypatch):
    """A call's rows split by step, each part with its own simulator, step and seed."""
    import hssm_nre.simulate as sim

    calls = []

    class Fake:
        def __init__(self, dt):
            self.dt = dt

        def simulate(self, theta, *, n_samples, random_state, delta_t, **kw):
            n = len(theta["a"])
            calls.append((self.dt, delta_t, n, random_state))
            return {"rts": np.full(n, delta_t), "choices": np.ones(n)}

    monkeypatch.setattr(sim, "simulator", lambda spec, dt: Fake(dt))
    ang = model_spec("angle")
    th = np.tile([0.0, 1.5, 0.5, 0.2, 0.3], (6, 1))
    th[[1, 4], 1] = 0.5
    th[3, 1] = 0.3
    rt, _ = sim.simulate_rows(ang, th, [slice(0, 6)], [5])
    from hssm_nre.simulate import _part_seed

    assert sorted(calls) == [(0.0000625, 0.0000625, 1, 5), (0.00025, 0.00025, 2, _part_seed(5, 1)),
                             (0.001, 0.001, 3, _part_seed(5, 2))]
    assert len({c[3] for c in calls} | {6, 7}) == 5  # no part reuses a neighbouring call's seed
    np.testing.assert_allclose(rt, [0.001, 0.00025, 0.001, 0.0000625, 0.00025, 0.001])


def test_simulated_datasets_hold_recorded_trials_only():
    """Trials still running at max_t (rt ~ 20 s + t, made-up response) are replaced, as in training."""
    from hssm_nre.simulate import simulate_dataset

    # a strongly leaky ornstein with wide bounds: 20 % of raw trials never reach a boundary
    theta = {"v": 0.59, "a": 2.43, "z": 0.88, "g": 0.84, "t": 0.48}
    df = simulate_dataset("ornstein", 300, theta=theta, seed=1)
    assert len(df) == 300
    assert (df.rt - theta["t"] < 20.0 - 0.01).all()


def test_parameters_simulated_per_call_are_shared_within_a_call(monkeypatch):
    """ssm-simulators mishandles levy's alpha when it varies between the rows of one call
    (ModelSpec.per_call_params). Training rows are then simulated in groups that share it, so a
    row at alpha = 2 follows the same law as a dataset simulated at alpha = 2 alone (mixed into
    one call with alpha = 1 rows, such rows come out about five times faster)."""
    import hssm_nre.simulate as sim_mod
    from hssm_nre.simulate import simulate_dataset

    spec = model_spec("levy")  # v, a, z, alpha, t

    def alternating(spec, n, rng):
        th = np.tile([0.5, 1.5, 0.5, 1.0, 0.2], (n, 1))
        th[1::2, 3] = 2.0
        return th

    monkeypatch.setattr(sim_mod, "sample_parameters", alternating)
    n = 4 * sim_mod.GROUP
    out = sim_mod.simulate_chunk(spec, n, np.random.SeedSequence(0))
    alpha = out["theta"][:, 3]
    assert len(np.unique(alpha[: sim_mod.GROUP])) == 1  # one value per group
    fast = alpha == 2.0
    assert 0.3 < fast.mean() < 0.7
    alone = simulate_dataset("levy", 4000, theta={"v": 0.5, "a": 1.5, "z": 0.5, "alpha": 2.0, "t": 0.2}, seed=1)
    assert abs(out["rt"][fast].mean() - alone["rt"].mean()) < 0.15, (out["rt"][fast].mean(), alone["rt"].mean())


def test_trial_wise_simulation_keeps_per_call_parameters_apart():
    """simulate_trials (one trial per row, e.g. a regression on alpha) simulates each distinct
    levy alpha in its own call, so alpha = 2 rows follow alpha = 2's law even among alpha = 1 rows."""
    from hssm_nre.simulate import simulate_dataset, simulate_trials

    th = np.tile([0.5, 1.5, 0.5, 1.0, 0.2], (4000, 1))
    th[1::2, 3] = 2.0
    df = simulate_trials("levy", th, seed=3)
    alone = simulate_dataset("levy", 4000, theta={"v": 0.5, "a": 1.5, "z": 0.5, "alpha": 2.0, "t": 0.2}, seed=1)
    assert abs(df["rt"].to_numpy()[1::2].mean() - alone["rt"].mean()) < 0.15
    ddm = simulate_trials("ddm", np.tile([0.5, 1.5, 0.5, 0.2], (50, 1)), seed=0)
    assert len(ddm) == 50 and set(np.unique(ddm["response"])) <= {-1, 1}


def test_the_training_time_estimate_uses_the_model_s_own_simulation_rate(monkeypatch):
    """Fine-step models simulate 10-30 times slower than the DDM: the estimate printed before
    training times the model's own simulator on a small chunk instead of assuming one rate."""
    from hssm_nre import training
    from hssm_nre.config import TrainSettings

    rate = training.simulation_rate(model_spec("ddm"), n=200)
    assert np.isfinite(rate) and rate > 0
    s = TrainSettings(n_simulations=1_000_000, steps=1_000, batch_size=1024)
    monkeypatch.setattr(training, "default_workers", lambda: 2)
    monkeypatch.setattr(training, "steps_per_second_estimate", lambda: 10.0)
    monkeypatch.setattr(training, "simulation_rate", lambda spec: 1_000.0 if spec.name == "angle" else 50_000.0)
    assert training.estimate_seconds(s, model_spec("angle")) == pytest.approx(500.0 + 100.0 + 20.0)
    assert training.estimate_seconds(s, model_spec("ddm")) == pytest.approx(10.0 + 100.0 + 20.0)
    assert training.estimate_seconds(s) == pytest.approx(12.5 + 100.0 + 20.0)  # no model: the generic rate
