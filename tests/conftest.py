"""Shared fixtures: an isolated cache per test, the tiny committed network, x64."""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
# The fast suite compiles many small JAX programs and runs each a few times: XLA's optimisation
# passes cost more than they save here (about 30 % of the suite's time). Results are checked
# with tolerances, not bit patterns; benchmarks and users keep the default.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
# Likewise PyTensor: its default (numba) compilation of every test's model graph costs seconds
# more than running the small graphs with its Python linker.
os.environ.setdefault("PYTENSOR_FLAGS", "mode=FAST_COMPILE")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


#: The fast suite's longest files (seconds of test time on 2 cores, ``--durations=0``, 2026-12-03),
#: run first: xdist hands out whole files (``--dist loadfile``), so a long file handed out last
#: leaves the other worker idle while it runs. The rest follow in collection order.
LONGEST_FIRST = (
    "integration/test_sampling.py",  # 45 s
    "unit/test_likelihood.py",  # 41 s
    "unit/test_normaliser.py",  # 37 s
    "unit/test_validation.py",  # 25 s
    "unit/test_register.py",  # 18 s
    "unit/test_exact.py",  # 17 s
    "unit/test_public_likelihood.py",  # 17 s
    "integration/test_interrupts.py",  # 16 s
    "unit/test_compare.py",  # 12 s
    "unit/test_fokker_planck.py",  # 10 s
)


def pytest_collection_modifyitems(items):
    """Every hssm_nre warning is an NREWarning: one a test did not expect fails it (the tiny test
    network is never validated: that warning has its own test). Put first, a test's own
    filterwarnings mark still overrides it. Files are reordered longest first (a stable sort:
    tests keep their order within a file; pyproject's ``--no-loadscope-reorder`` keeps xdist
    from reordering them by test count)."""
    mark = pytest.mark.filterwarnings("error::hssm_nre.errors.NREWarning",
                                      "ignore::hssm_nre.errors.UnvalidatedNetworkWarning")
    for item in items:
        item.add_marker(mark, append=False)

    def rank(item):
        path = item.nodeid.split("::")[0].removeprefix("tests/")
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own empty cache root."""
    root = tmp_path / "cache"
    monkeypatch.setenv("HSSM_NRE_CACHE_DIR", str(root))
    return root


@pytest.fixture(scope="session")
def tiny_path() -> Path:
    return FIXTURES / "tiny_ddm"


@pytest.fixture(scope="session")
def tiny_entry(tiny_path):
    import hssm_nre  # noqa: F401  (installs the HSSM hook, enables x64 via hssm)
    from hssm_nre.cache import load_entry

    return load_entry(tiny_path)


@pytest.fixture
def x64():
    import jax

    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def ddm_data():
    from hssm_nre.simulate import simulate_dataset

    df = simulate_dataset("ddm", 200, theta={"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3}, seed=3)
    r = np.random.default_rng(0)
    df["x"] = r.normal(size=len(df))
    df["participant_id"] = np.repeat(np.arange(4), 50)
    return df


@pytest.fixture
def unpatched_hssm(monkeypatch):
    """HSSM exactly as installed: the loglik_kind="nre" wrapper and the ndt-floor wrapper removed
    (for the public, patch-free path)."""
    import hssm
    from hssm.distribution_utils import dist

    import hssm_nre  # noqa: F401  (installs the wrappers this undoes)

    monkeypatch.setattr(hssm.HSSM, "__init__", hssm.HSSM.__init__._hssm_nre_original)
    monkeypatch.setattr(dist, "ensure_positive_ndt", dist.ensure_positive_ndt._hssm_nre_original)
