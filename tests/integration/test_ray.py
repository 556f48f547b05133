"""Fits on a real two-node Ray cluster: a head and a worker node, each a raylet of its own with one
CPU, on loopback. Run by ``./dev ray`` (and CI) inside a network namespace of its own
(``unshare --net``, loopback only), so nothing Ray probes at start-up (cloud metadata, a DNS
server to find its own address) can leave this machine; outside one these tests are skipped,
and with ``HSSM_NRE_RAY_TESTS=1`` (set by ``./dev ray``) that is a failure instead.
"""

import os
import shutil
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

from tests.helpers import loopback_only

#: one CPU per node and a small object store (the namespace's only address is 127.0.0.1)
NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}


@pytest.fixture(scope="module")
def cluster():
    if os.environ.get("HSSM_NRE_RAY_TESTS") == "1":
        import ray  # noqa: F401  (under ./dev ray a broken install fails, it is not skipped)
    else:
        pytest.importorskip("ray", reason='Ray is an optional extra: pip install "hssm-nre[cluster]"')
    if not loopback_only():
        msg = "the Ray tests run in a network namespace of their own, loopback only: ./dev ray"
        if os.environ.get("HSSM_NRE_RAY_TESTS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    from ray import cloudpickle
    from ray.cluster_utils import Cluster

    from tests.integration import tasks_for_tests

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # the workers cannot import the test suite's modules: ship the task functions by value
    cloudpickle.register_pickle_by_value(tasks_for_tests)
    c = Cluster(initialize_head=True, head_node_args=NODE | {"include_dashboard": False})
    c.add_node(**NODE)
    c.wait_for_nodes()
    yield c
    c.shutdown()


def test_tasks_run_on_both_nodes_and_a_killed_worker_is_retried(cluster, tmp_path):
    """One task kills its own worker process the first time (as an out-of-memory kill would):
    Ray retries it; every result arrives once, from both nodes."""
    from hssm_nre.distributed import run_tasks
    from tests.integration import tasks_for_tests as t

    c = cluster
    marker = tmp_path / "killed"
    tasks = [{"x": i, "sleep": 1.0, "kill_once": str(marker) if i == 3 else None} for i in range(8)]
    seen = []
    out = run_tasks(t.square, tasks, address=c.address, progress=False,
                    on_result=lambda task, r: seen.append(task["x"]))
    assert marker.exists()  # the worker was killed
    assert [r[0] for r in out] == [i * i for i in range(8)] and sorted(seen) == list(range(8))
    assert len({r[2] for r in out}) == 2  # both nodes did work
    assert os.getpid() not in {r[1] for r in out}


def test_a_validation_runs_on_the_cluster_survives_a_lost_node_and_resumes(cluster, tiny_path, tmp_path, capsys):
    """A validation's fits on the cluster; the worker node is removed while they run (its
    raylet and workers killed), the head finishes them; a rerun resumes from the checkpoint."""
    import threading

    from hssm_nre.validation import ValidationSettings, validate

    c = cluster
    worker = next(iter(c.worker_nodes))
    net = tmp_path / "net"
    shutil.copytree(tiny_path, net)
    s = ValidationSettings(sbc_datasets=8, sbc_trials=40, draws=40, tune=40, n_ranks=20,
                           fidelity_trials=(40,), fidelity_datasets=(2,), fidelity_draws=40, fidelity_tune=40,
                           per_trial_x=10, normalisation_theta=6, chunk=1)

    done_when_lost = []

    def lose_the_worker_node():
        # once the first fits are checkpointed, the workers are mid-run
        deadline = time.time() + 240
        while time.time() < deadline:
            cp = list(Path(net).glob("validation_*.jsonl"))
            n = cp[0].read_text().count("\n") if cp else 0
            if n >= 1:
                c.remove_node(worker, allow_graceful=False)
                done_when_lost.append(n)
                return
            time.sleep(0.2)

    killer = threading.Thread(target=lose_the_worker_node, daemon=True)
    killer.start()
    # the last test of the module: the cluster keeps only its head after it
    report = validate(None, weights=net, settings=s, address=c.address, progress=False)
    killer.join(timeout=5)
    assert done_when_lost and done_when_lost[0] < 10  # the node was lost mid-run
    assert report.status in ("passed", "failed")
    lines = next(net.glob("validation_*.jsonl")).read_text().splitlines()
    assert len(lines) == 10  # every fit once: 8 calibration, 2 against the reference
    again = validate(None, weights=net, settings=s, address=c.address, progress=True)
    assert "0 fits to run (10 already" in capsys.readouterr().err
    assert again.figures["sbc"]["coverage"] == report.figures["sbc"]["coverage"]
