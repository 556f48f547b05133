"""Ctrl-C and SIGTERM stop training within seconds and leave nothing behind (issue 18).

Real signals to a real `hssm-nre train` process, one per phase (simulating, training, fitting
the normaliser; the last two behind `slow`), and one to the Python API in this process. The
signal semantics of each region are unit-tested in tests/unit/test_interrupt.py."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

STOP_WITHIN = 5.0  # seconds from the signal to the process's exit


class Run:
    """`hssm-nre train ...` in a subprocess, its stderr collected as it comes."""

    def __init__(self, cache: Path, *args: str):
        env = os.environ | {"HSSM_NRE_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hssm_nre.cli", "train", *args, "--cache-dir", str(cache)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.err = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while chunk := self.proc.stderr.read1(4096):
            self.err += chunk

    def wait_for(self, text: str, timeout: float = 120.0) -> None:
        t0 = time.monotonic()
        while text.encode() not in self.err:
            if self.proc.poll() is not None or time.monotonic() - t0 > timeout:
                self.proc.kill()
                raise AssertionError(f"never saw {text!r}; stderr:\n{self.err.decode(errors='replace')[-3000:]}")
            time.sleep(0.05)

    def stop(self, sig: int) -> tuple[int, float, str]:
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("the process did not stop within 30 s") from None
        elapsed = time.monotonic() - t0
        self._reader.join(timeout=5)
        return rc, elapsed, self.err.decode(errors="replace")


def _assert_nothing_left(cache: Path, marker: str) -> None:
    leftovers = [p for p in cache.rglob("*") if p.is_dir()] if cache.exists() else []
    assert [p for p in leftovers if p.parent != cache] == [], leftovers  # no entry, no .tmp- folder
    time.sleep(0.5)
    survivors = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "cmdline").read_bytes():
                survivors.append(proc.name)
        except OSError:
            continue
    assert survivors == [], f"simulation workers outlived the run: {survivors}"


def _last_line(err: str) -> str:
    return [ln for ln in err.replace("\r", "\n").splitlines() if ln.strip()][-1]


SMALL = ["--batch-size", "256", "--widths", "16,16", "--evidence-widths", "8"]


def test_ctrl_c_stops_cli_training_at_once_and_caches_nothing(tmp_path):
    cache = tmp_path / "cache_sigint_training"
    run = Run(cache, "ddm", "--n-simulations", "20000", "--steps", "1000000", "--no-normaliser", *SMALL)
    run.wait_for("training ddm:")
    run.wait_for("step/s")  # steps are running (Keras's step loop swallows a plain KeyboardInterrupt)
    rc, elapsed, err = run.stop(signal.SIGINT)
    assert rc == 130, err[-2000:]
    assert elapsed < STOP_WITHIN
    assert _last_line(err) == "Interrupted (Ctrl-C) while training: stopped training 'ddm'; nothing was cached."
    assert "Traceback" not in err
    _assert_nothing_left(cache, str(cache))


@pytest.mark.slow
def test_sigterm_stops_simulation_and_its_workers(tmp_path):
    cache = tmp_path / "cache_sigterm_simulating"
    run = Run(cache, "ddm", "--n-simulations", "5000000", "--steps", "10", *SMALL)
    run.wait_for("simulating ddm:")
    time.sleep(1.0)
    rc, elapsed, err = run.stop(signal.SIGTERM)
    assert rc == 130, err[-2000:]
    assert elapsed < STOP_WITHIN
    assert _last_line(err) == "Interrupted (SIGTERM) while simulating: stopped training 'ddm'; nothing was cached."
    _assert_nothing_left(cache, str(cache))


@pytest.mark.slow
def test_ctrl_c_stops_the_normaliser_fit(tmp_path):
    cache = tmp_path / "cache_sigint_normaliser"
    run = Run(cache, "ddm", "--n-simulations", "20000", "--steps", "20", *SMALL)
    run.wait_for("Normaliser: log Z(theta) by quadrature")
    time.sleep(0.5)
    rc, elapsed, err = run.stop(signal.SIGINT)
    assert rc == 130, err[-2000:]
    assert elapsed < STOP_WITHIN
    assert _last_line(err).startswith("Interrupted (Ctrl-C) while fitting the normaliser:")
    _assert_nothing_left(cache, str(cache))


def test_the_python_api_raises_keyboard_interrupt_and_caches_nothing(isolated_cache, monkeypatch):
    from hssm_nre import TrainingInterrupted, TrainSettings, train, training
    from hssm_nre.cache import list_entries

    fired = {}
    real = training.train_network
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN when started in the background

    def train_network(*a, **k):  # Ctrl-C two seconds into training, from another thread
        def interrupt_later():
            time.sleep(2.0)
            fired["at"] = time.monotonic()
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt_later, daemon=True).start()
        return real(*a, **k)

    monkeypatch.setattr(training, "train_network", train_network)
    settings = TrainSettings(n_simulations=20_000, steps=1_000_000, batch_size=256, widths=(16, 16),
                             evidence_widths=(8,))
    with pytest.raises(KeyboardInterrupt) as e:
        train("ddm", settings, progress=False, normaliser=None)
    assert time.monotonic() - fired["at"] < STOP_WITHIN
    assert isinstance(e.value, TrainingInterrupted)
    assert str(e.value) == "Interrupted (Ctrl-C) while training: stopped training 'ddm'; nothing was cached."
    assert list_entries() == {}
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored


@pytest.mark.slow
def test_sigterm_stops_a_validation_and_its_worker_processes(tmp_path, tiny_path):
    """`hssm-nre validate` fits in spawned worker processes: a SIGTERM to the driver stops them
    too (they were left running before), exits 130 and keeps the checkpoint for a resume."""
    env = os.environ | {"HSSM_NRE_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hssm_nre.cli", "validate", "ddm", "--weights", str(tiny_path), "--quick",
         "--out", str(tmp_path / "out"), "--no-metadata", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )

    def children():
        out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    t0 = time.monotonic()
    while len(children()) < 2:  # the workers (and multiprocessing's resource tracker) are up
        assert proc.poll() is None and time.monotonic() - t0 < 120, proc.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    time.sleep(3)
    kids = children()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    err = proc.stderr.read().decode(errors="replace")
    assert rc == 130, err[-2000:]
    assert "Interrupted (SIGTERM)" in err and "a rerun resumes" in err
    time.sleep(2)
    alive = [k for k in kids if Path(f"/proc/{k}").exists() and "zombie" not in Path(f"/proc/{k}/status").read_text().lower()]
    assert not alive, f"worker processes left running: {alive}"
