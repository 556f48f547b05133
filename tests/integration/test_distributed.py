"""Validation fits as tasks: worker processes, results as they arrive, a killed worker retried."""

import os
import pytest

from hssm_nre.distributed import WorkerLostError, run_tasks
from tests.integration import tasks_for_tests as t


@pytest.mark.slow  # spawned workers import JAX (15-20 s); CI runs it (.ci/run)
def test_tasks_run_in_workers_report_as_they_arrive_and_a_killed_worker_is_retried(tmp_path):
    """One task kills its own worker the first time it runs (as an OOM kill would): the pool
    breaks, the unfinished tasks run again in a fresh one, every result arrives once."""
    marker = tmp_path / "killed"
    tasks = [{"x": i, "kill_once": str(marker) if i == 2 else None} for i in range(5)]
    seen = []
    out = run_tasks(t.square, tasks, workers=2, progress=False, on_result=lambda task, r: seen.append(task["x"]))
    assert marker.exists()  # the worker was killed
    assert [r[0] for r in out] == [i * i for i in range(5)] and sorted(seen) == list(range(5))
    assert os.getpid() not in {r[1] for r in out}  # run in workers, not here


@pytest.mark.slow
def test_a_task_that_always_kills_its_worker_is_given_up_with_a_clear_error(tmp_path):
    with pytest.raises(WorkerLostError, match="died 2 times running task 0"):
        run_tasks(t.square, [{"x": 1, "always_kill": True}], workers=1, max_retries=1, progress=False)


@pytest.mark.slow
def test_a_script_without_a_main_guard_is_told_to_add_one(tmp_path):
    """Spawned workers import the calling script again; at its top level the call would start
    workers from a worker. The worker says so, and the parent's error names the fix."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    script = tmp_path / "no_guard.py"
    script.write_text(
        "from hssm_nre.distributed import run_tasks\n"
        "from tests.integration.tasks_for_tests import square\n"
        "print(run_tasks(square, [{'x': 2}], workers=1, max_retries=0, progress=False))\n"
    )
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                       env=os.environ | {"PYTHONPATH": str(root)})
    assert r.returncode != 0
    assert "started workers from a worker" in r.stderr  # the worker's own error
    assert 'if __name__ == "__main__":' in r.stderr.splitlines()[-1]  # the parent's, last
    guarded = tmp_path / "guarded.py"
    guarded.write_text(script.read_text().replace("print(", "if __name__ == '__main__':\n    print("))
    r = subprocess.run([sys.executable, str(guarded)], capture_output=True, text=True, timeout=300,
                       env=os.environ | {"PYTHONPATH": str(root)})
    assert r.returncode == 0 and "[[4, " in r.stdout
