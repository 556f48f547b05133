"""Shared fixtures: an isolated cache per test, the tiny committed network, x64."""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


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
    from hssm_nre.compare import simulate_dataset

    df = simulate_dataset("ddm", 200, theta={"v": 0.5, "a": 1.2, "z": 0.5, "t": 0.3}, seed=3)
    r = np.random.default_rng(0)
    df["x"] = r.normal(size=len(df))
    df["participant_id"] = np.repeat(np.arange(4), 50)
    return df
