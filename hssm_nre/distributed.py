"""Run independent tasks on this machine's cores, or on a Ray cluster.

    results = run_tasks(fn, tasks)                            # local: one process per core
    results = run_tasks(fn, tasks, address="10.0.0.5:6379")   # join a running Ray cluster

``fn`` is a module-level function (workers import it by name) taking one task dict and
returning a picklable result. Every result is handed to ``on_result`` the moment it arrives
(the caller checkpoints it) and one progress bar counts the work done.

* **Locally** (the default) tasks run in ``workers`` spawned processes (default: one per core;
  ``workers=0`` runs them here, one by one). A worker that dies (killed, out of memory) breaks
  the pool; the tasks that had not finished are resubmitted to a fresh pool, up to
  ``max_retries`` times.
* **On a cluster** (``address``: its head, e.g. one started on a SLURM allocation with ``ray
  start --head`` on the first node and ``ray start --address=HEAD:6379`` on the others, all in
  the same Python environment with hssm-nre installed) tasks are Ray tasks, retried by Ray when
  their worker dies. Ray is an optional dependency (``pip install "hssm-nre[cluster]"``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

__all__ = ["run_tasks", "chunks", "WorkerLostError"]

#: Environment of the workers: one thread each for XLA and BLAS (one task per core already).
WORKER_ENV = {
    "KERAS_BACKEND": "jax",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


class WorkerLostError(RuntimeError):
    """Workers kept dying: a task failed more than ``max_retries`` times."""


def chunks(items: Iterable, size: int) -> list[list]:
    """``items`` in lists of at most ``size``."""
    items = list(items)
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_tasks(
    fn: Callable[[dict], object],
    tasks: list[dict],
    *,
    address: str | None = None,
    workers: int | None = None,
    max_retries: int = 3,
    on_result: Callable[[dict, object], None] | None = None,
    units: Callable[[dict], int] = lambda t: 1,
    desc: str = "tasks",
    progress: bool = True,
) -> list:
    """Run ``fn(task)`` for every task; returns the results in task order (see the module)."""
    from tqdm.auto import tqdm

    if _called_while_reimporting_main():
        raise RuntimeError(f"hssm_nre started workers from a worker: {MAIN_GUARD_HINT}.")
    results: list = [None] * len(tasks)
    bar = tqdm(total=sum(units(t) for t in tasks), desc=desc, unit="fit", disable=not progress)

    def done(i, result):
        results[i] = result
        if on_result is not None:
            on_result(tasks[i], result)
        bar.update(units(tasks[i]))

    try:
        if not tasks:
            return results
        if address is not None:
            _run_on_ray(fn, tasks, address, max_retries, done)
        elif workers == 0:
            for i, task in enumerate(tasks):
                done(i, fn(task))
        else:
            _run_in_processes(fn, tasks, workers or os.cpu_count() or 1, max_retries, done)
        return results
    finally:
        bar.close()


#: Why a pool whose workers all die at once may do so: the caller's script has no main guard.
MAIN_GUARD_HINT = (
    "worker processes are started with 'spawn' and import the calling script again; a script "
    "that starts workers (hssm_nre.validate, hssm_nre.distributed.run_tasks, training several "
    "models) must make that call under `if __name__ == \"__main__\":`"
)


def _called_while_reimporting_main() -> bool:
    """True in a spawned worker that is importing the caller's script again (as ``__mp_main__``):
    a call to ``run_tasks`` at that script's top level, with no main guard."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "__mp_main__" and frame.f_code.co_name == "<module>":
            return True
        frame = frame.f_back
    return False


def _init_worker(env: dict) -> None:
    import signal

    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool on Ctrl-C


def _run_in_processes(fn, tasks, workers: int, max_retries: int, done) -> None:
    left = list(range(len(tasks)))
    failures = {i: 0 for i in left}
    # spawn, not fork: the parent has JAX (and its threads) loaded
    ctx = mp.get_context("spawn")
    while left:
        ex = ProcessPoolExecutor(max_workers=min(workers, len(left)), mp_context=ctx,
                                 initializer=_init_worker, initargs=(WORKER_ENV,))
        try:
            futures = {ex.submit(fn, tasks[i]): i for i in left}
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    i = futures[fut]
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        continue  # resubmitted below
                    done(i, result)
                    left.remove(i)
        except BrokenProcessPool:
            pass
        except BaseException:
            for proc in list(getattr(ex, "_processes", {}).values()):  # no public terminate before 3.14
                proc.terminate()
            ex.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            ex.shutdown(wait=True, cancel_futures=True)
        for i in left:  # the pool broke: a worker died with these unfinished
            failures[i] += 1
            if failures[i] > max_retries:
                raise WorkerLostError(
                    f"a worker died {failures[i]} times running task {i} ({tasks[i]!r:.200}). "
                    f"Out of memory? Try fewer workers. Or, if this ran from a script: {MAIN_GUARD_HINT}."
                )


def _in_worker_env(fn, task):
    """A Ray task: ``fn(task)`` with the workers' environment set first (before the task imports
    JAX, which a fresh worker has not). Not a Ray runtime_env: that needs each node's runtime-env
    agent, which was seen to fail under load and leave the tasks pending for good."""
    os.environ.update(WORKER_ENV)
    return fn(task)


def _run_on_ray(fn, tasks, address: str, max_retries: int, done) -> None:
    try:
        import ray
    except ImportError as e:
        raise ImportError(
            f"address={address!r} asks for a Ray cluster, and Ray is not installed: "
            'pip install "hssm-nre[cluster]" (or ray) in this environment and on the cluster.'
        ) from e
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, log_to_driver=False)
    pending: dict = {}
    try:
        remote = ray.remote(num_cpus=1, max_retries=max_retries)(_in_worker_env)
        pending = {remote.remote(fn, task): i for i, task in enumerate(tasks)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(ready[0])
            done(i, ray.get(ready[0]))
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()
