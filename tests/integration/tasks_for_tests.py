"""Task functions for tests/integration/test_distributed.py (workers import them by name)."""

import os
import signal
from pathlib import Path


def square(task):
    if task.get("always_kill"):
        os.kill(os.getpid(), signal.SIGKILL)
    marker = task.get("kill_once")
    if marker and not Path(marker).exists():
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return [task["x"] ** 2, os.getpid()]
