"""Reference likelihoods: the Fokker-Planck solves against a closed form in a limit where they
have one, the LBA's closed form against its own generative process, and (slow) each against
500k ssm-simulators trials."""

import math

import numpy as np
import pytest

from hssm_nre.reference import wfpt_logp
from hssm_nre.validation.fokker_planck import MONITORING_SHIFT, RESOLUTION_FLOOR, fp_logp, race_density
from hssm_nre.validation.references import check_step, has_reference, ks_check, reference, references

C = MONITORING_SHIFT
S = np.linspace(0.05, 3.0, 60)


def _ddm_with_shifted_bounds(s, choice, v, a, z):
    """WFPT of ssm-simulators' ddm whose boundaries sit C further out, the start point fixed."""
    y0 = -a + 2 * a * z
    a2 = a + C
    return wfpt_logp(s, choice, v, a2, (y0 + a2) / (2 * a2), 0.0)


@pytest.mark.parametrize(
    "model, theta",
    [
        ("ornstein", dict(v=0.7, a=1.1, z=0.4, g=0.0)),  # no leak
        ("angle", dict(v=0.7, a=1.1, z=0.4, theta=0.0)),  # no collapse
        ("weibull", dict(v=0.7, a=1.1, z=0.4, alpha=2.0, beta=1e6)),  # no decay in 3 s
    ],
)
def test_two_boundary_references_reduce_to_wfpt_in_their_ddm_limit(model, theta):
    spec_params = {"ornstein": ["v", "a", "z", "g", "t"], "angle": ["v", "a", "z", "t", "theta"],
                   "weibull": ["v", "a", "z", "t", "alpha", "beta"]}[model]
    th = np.array([theta.get(p, 0.0) for p in spec_params])
    for choice in (1, -1):
        got = fp_logp(model, S, np.full_like(S, choice), th)
        want = _ddm_with_shifted_bounds(S, choice, theta["v"], theta["a"], theta["z"])
        bulk, edge = want > -3, (want > RESOLUTION_FLOOR) & (want <= -3)
        assert np.max(np.abs(got - want)[bulk]) < 0.025, (model, choice)  # PyDDM's grid: dx 0.002, dt 0.5 ms
        assert np.max(np.abs(got - want)[edge], initial=0) < 0.25, (model, choice)


@pytest.mark.parametrize("v, a, z", [(-1.4, 0.35, 0.8), (0.7, 0.5, 0.4)])
def test_narrow_boundaries_keep_the_reference_accurate(v, a, z):
    """Decision times scale as a**2: at a = 0.35-0.5 PyDDM's 0.5 ms step was 0.09 nats off in the
    bulk and 0.6 at the edge (its CDF 0.0095 off WFPT at a = 0.345); the step now shrinks as a**2."""
    s = np.linspace(0.01, 1.0, 100)
    for choice in (1, -1):
        got = fp_logp("angle", s, np.full_like(s, choice), np.array([v, a, z, 0.0, 0.0]))
        want = _ddm_with_shifted_bounds(s, choice, v, a, z)
        bulk, edge = want > -3, (want > RESOLUTION_FLOOR) & (want <= -3)
        assert np.max(np.abs(got - want)[bulk]) < 0.025, choice
        assert np.max(np.abs(got - want)[edge], initial=0) < 0.25, choice


@pytest.mark.slow  # many reference solves / a fine grid: 6-10 s
def test_the_reference_moves_smoothly_with_the_boundary():
    """PyDDM snaps the boundary up to its grid: a rounding error used to put it a whole dx
    further out for about half of all boundaries (P(upper) jumped by 6e-4 at a = 0.411)."""
    from hssm_nre.validation.fokker_planck import _diffusion_solution

    p_up = []
    for a in np.linspace(0.410, 0.412, 11):
        key = tuple(sorted(dict(v=0.548, a=float(a), z=0.751, g=0.0).items()))
        grid, up, _ = _diffusion_solution("ornstein", key, 2.0)
        p_up.append(np.trapezoid(up, grid))
    assert np.max(np.abs(np.diff(p_up))) < 1e-4, np.diff(p_up)


def test_a_leak_a_collapse_and_a_decay_change_the_density():
    base = fp_logp("ornstein", S, np.ones_like(S), np.array([0.7, 1.1, 0.4, 0.0, 0.0]))
    leaky = fp_logp("ornstein", S, np.ones_like(S), np.array([0.7, 1.1, 0.4, 0.8, 0.0]))
    assert np.max(np.abs(leaky - base)) > 0.3
    # angle: density 0 after the collapse, none (NaN) at it, finite before
    a, th = 1.0, 0.6
    collapse = a / math.tan(th)
    s = np.array([0.5 * collapse, collapse, collapse + 0.1])
    lp = fp_logp("angle", s, np.ones(3), np.array([0.5, a, 0.5, 0.0, th]))
    assert np.isfinite(lp[0]) and np.isnan(lp[1]) and lp[2] == -np.inf


def test_one_accumulator_far_from_its_barrier_is_a_wald_density():
    v, a, z = 2.0, 2.0, 0.9  # starts at 1.8, drifts up: the barrier at 0 is never felt
    b = a + C
    dens = race_density("race_no_bias_2", dict(v0=v, v1=0.0, a=a, z=z), S, np.zeros_like(S, int))
    # the other accumulator (v = 0, start 1.8) survives with probability S_1(s); divide it out
    dens_other = race_density("race_no_bias_2", dict(v0=v, v1=0.0, a=a, z=z), S, np.ones_like(S, int))
    d = b - z * a
    wald = d / np.sqrt(2 * np.pi * S**3) * np.exp(-((d - v * S) ** 2) / (2 * S))
    # race density = f_0 * S_1, and f_0 is Wald: the ratio to Wald is S_1, in (0, 1], decreasing
    ratio = dens / wald
    assert np.all((ratio > 0) & (ratio <= 1 + 1e-3)) and np.all(np.diff(ratio) <= 1e-6)
    assert np.all(dens_other > 0)


@pytest.mark.slow  # many reference solves / a fine grid: 6-10 s
def test_a_race_density_integrates_to_one_over_time_and_choices():
    s = np.linspace(0.0, 20.0, 40_001)
    theta = dict(v0=1.0, v1=0.5, v2=1.5, v3=0.2, a=2.0, z=0.3)
    mass = sum(np.trapezoid(race_density("race_no_bias_4", theta, s, np.full(s.shape, c)), s) for c in range(4))
    assert abs(mass - 1.0) < 2e-3


def test_references_cover_the_ddm_family_the_pyddm_models_and_the_races():
    refs = references()
    for m in ("ddm", "ddm_sdv", "full_ddm", "angle", "weibull", "ornstein", "race_no_bias_3", "race_no_bias_4",
              "lba2", "lba3", "lba4"):
        assert has_reference(m) and m in refs
    assert not has_reference("levy") and not has_reference("lca_3")
    with pytest.raises(ValueError, match="no reference"):
        reference("levy")
    # the interface: (..., P) parameters, one solve per distinct vector
    draws = np.array([[0.7, 1.1, 0.4, 0.3, 0.2], [0.5, 1.0, 0.5, 0.0, 0.2]])
    data = np.array([[0.8, 1.0], [1.2, -1.0], [0.6, 1.0]])
    tot = reference("ornstein").total_logp(draws, data)
    assert tot.shape == (2,) and np.all(np.isfinite(tot))


def test_a_reference_describes_the_time_model_its_network_learned():
    """Boundary-corrected models (angle, ornstein, the races) against the continuous-time solution;
    a network trained on the raw 1 ms walk asks for the walk's."""
    ang, orn, race = reference("angle"), reference("ornstein"), reference("race_no_bias_3")
    assert ang.delta_t == 0.0 and "continuous time" in ang.description
    assert orn.delta_t == 0.0 and "continuous time" in orn.description
    assert race.delta_t == 0.0 and "continuous time" in race.description
    walk = reference("race_no_bias_3", continuous=False)
    assert walk.delta_t == 0.001 and "1 ms Euler walk" in walk.description
    assert reference("ornstein", continuous=False).delta_t == 0.001
    assert reference("angle", continuous=False).delta_t == 0.001
    assert reference("ddm").delta_t == 0.001 and "Euler" not in reference("ddm").description  # WFPT: continuous
    rt, resp = np.array([0.45, 0.7, 1.3]), np.array([1.0, -1.0, 1.0])
    th = np.array([0.5, 0.6, 0.5, 0.2, 0.3])  # small a: the two time models differ visibly
    cont = ang.logp(rt, resp, th)
    np.testing.assert_array_equal(cont, fp_logp("angle", rt, resp, th, delta_t=0.0))
    walk = reference("angle", continuous=False).logp(rt, resp, th)
    assert np.max(np.abs(cont - walk)) > 0.01


@pytest.mark.slow
@pytest.mark.parametrize(
    "model, theta",
    [
        ("angle", [0.8, 1.5, 0.5, 0.2, 0.4]),
        ("weibull", [0.8, 1.5, 0.5, 0.2, 2.0, 2.0]),
        ("ornstein", [0.5, 1.2, 0.5, 0.3, 0.3]),
        ("race_no_bias_3", [1.0, 0.5, 1.5, 2.0, 0.3, 0.3]),
        ("race_no_bias_4", [1.0, 0.5, 1.5, 0.8, 2.0, 0.3, 0.3]),
        ("ddm", [0.8, 1.2, 0.4, 0.3]),
        ("full_ddm", [0.822, 0.894, 0.316, 0.283, 0.163, 1.826, 0.152]),  # trials before t (st)
        ("angle", [0.0, 1.0, 0.5, 0.2, 1.0]),  # collapses at 0.64 s: a point mass, left out
        ("angle", [0.5, 1.0, 0.7, 0.2, -0.1]),  # an expanding boundary
        ("weibull", [0.5, 1.5, 0.5, 0.2, 4.0, 0.4]),  # a steep collapse
        ("race_no_z_3", [0.3, 0.2, 0.5, 1.0, 0.3]),  # slow drifts from 0: the barrier matters
        # narrow boundaries: simulated with check_step's finer Euler step (at 1 ms these missed)
        ("ddm", [-1.381, 0.336, 0.83, 1.459]),
        ("angle", [-1.381, 0.345, 0.83, 1.459, 1.209]),
        ("ornstein", [0.548, 0.411, 0.751, 0.213, 1.088]),
        # the LBA: a slow drift from 0, where the folded drifts matter (rts up to minutes)
        ("lba2", [0.6, 0.9, 0.02, 0.15]),
        ("lba4", [0.3, 0.5, 0.25, 0.6, 0.2, 0.4]),
    ],
)
def test_each_reference_matches_500k_simulated_trials(model, theta):
    r = ks_check(model, theta, 500_000)
    assert r["passed"], r


def test_the_simulation_check_refines_its_step_for_narrow_boundaries():
    from hssm_nre.config import model_spec

    assert check_step(model_spec("ddm"), [0.5, 2.0, 0.5, 0.3]) == 0.001
    assert check_step(model_spec("ddm"), [0.5, 0.5, 0.5, 0.3]) == pytest.approx(0.00025)
    assert check_step(model_spec("race_no_bias_3"), [1.0, 1.0, 1.0, 0.4, 0.5, 0.2]) == pytest.approx(1.6e-4)
    assert check_step(model_spec("lba2"), [0.3, 0.5, 0.5, 0.3]) == 0.001  # no boundary a


@pytest.mark.parametrize("theta", [[0.6, 0.9, 0.02, 0.15], [0.3, 0.5, 0.25, 0.5, 0.25], [1e-9, 0.5, 0.4, 0.6]])
def test_the_lba_closed_form_integrates_to_one_and_is_its_generative_process(theta):
    """ssm-simulators' LBA: starts U(0, A), drifts |N(v, 0.1)|, first to b wins. The closed form
    against 400k draws of exactly that (the empirical joint CDF per choice, within 4 SE)."""
    from scipy.integrate import quad

    from hssm_nre.validation.lba import lba_logp

    theta = np.asarray(theta)
    k = len(theta) - 2
    density = [lambda t, c=c: float(np.exp(lba_logp(t, c, theta))) for c in range(k)]
    assert sum(quad(f, 0, np.inf, limit=500)[0] for f in density) == pytest.approx(1.0, abs=1e-6)
    rng = np.random.default_rng(0)
    n = 400_000
    finish = (theta[1] - rng.uniform(0, theta[0], (n, k))) / np.abs(rng.normal(theta[2:], 0.1, (n, k)))
    choice, rt = finish.argmin(1), finish.min(1)
    for q in np.quantile(rt, [0.1, 0.5, 0.9]):
        for c in range(k):
            p = np.mean((choice == c) & (rt <= q))
            assert quad(density[c], 0, q, limit=500)[0] == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / n) + 1e-6)


def test_the_lba_reference_is_ssm_simulators_model_not_hssm_s_textbook_one():
    """HSSM's analytic lba2 lets negative drifts never finish and conditions on one positive;
    ssm-simulators folds them. The two agree where v / s is large and part where it is small."""
    from hssm.likelihoods.analytical import logp_lba2

    rt = np.array([0.4, 0.7, 1.2])
    ch = np.array([0, 1, 1])
    for theta, same in (([0.3, 0.5, 0.6, 0.8], True), ([0.3, 0.5, 0.05, 0.12], False)):
        ours = reference("lba2").logp(rt, ch, np.asarray(theta))
        hssm_ = logp_lba2(np.stack([rt, ch], 1), *theta).eval()
        assert np.allclose(ours, hssm_, atol=1e-6) == same, (theta, ours, hssm_)
    assert reference("lba2").logp(0.5, 0, np.array([0.6, 0.5, 0.3, 0.3])) == -np.inf  # b < A: not the model
