"""Task functions for tests/integration/test_distributed.py and test_ray.py (local workers import
them by name; the Ray tests ship them by value)."""

import os
import signal
import time
from pathlib import Path


def square(task):
    """``[x**2, the worker's pid, its Ray node (None outside Ray)]``; kills its own worker when told."""
    if task.get("always_kill"):
        os.kill(os.getpid(), signal.SIGKILL)
    marker = task.get("kill_once")
    if marker and not Path(marker).exists():
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(task.get("sleep", 0.0))
    import sys

    ray = sys.modules.get("ray")  # only in a Ray worker: local workers need not import it
    node = ray.get_runtime_context().get_node_id() if ray is not None and ray.is_initialized() else None
    return [task["x"] ** 2, os.getpid(), node]
