"""Ctrl-C and SIGTERM that stop long work promptly and leave nothing half-done.

Keras converts each training step's logs inside a bare ``except:``, and the main thread
spends most of a step there, so a ``KeyboardInterrupt`` raised by Python's default handler
is usually swallowed and training runs on (JAX's garbage-collection callback swallows it
too, printing a traceback). :class:`Interruptible` installs its own handler for SIGINT and
SIGTERM while long work runs, and the handler records the signal. What else it does depends
on the region the main thread is in:

* a **polling** region (:meth:`Interruptible.polling`: training, the normaliser's fit, loops
  that call :func:`poll` or read :func:`requested` between steps): the first signal only
  records, and the loop stops at its next step; a second signal raises at once (a way out of
  a long compilation before the first step);
* a **critical** region (:meth:`Interruptible.critical`: publishing a cache entry, which
  takes milliseconds and must finish whole): signals are only recorded;
* anywhere else (waiting for simulation workers): the first signal raises
  ``KeyboardInterrupt`` at once; later ones are only recorded, so the clean-up that follows
  (terminating workers, removing temporary folders) cannot be cut short.

Leaving the block with a recorded signal raises :class:`TrainingInterrupted`, a
``KeyboardInterrupt`` whose message says what was running and what was kept; the CLI prints
that one line and exits 130. Handlers can only be installed from the main thread; elsewhere
the block changes nothing and Python's own handling applies.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

__all__ = ["Interruptible", "TrainingInterrupted", "ignore_in_worker", "poll", "requested"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_ACTIVE: list[Interruptible] = []
_RAISE, _POLLING, _CRITICAL = "raise", "polling", "critical"


class TrainingInterrupted(KeyboardInterrupt):
    """Long work stopped by Ctrl-C (SIGINT) or SIGTERM.

    ``str()`` says what stopped and what was kept. A ``KeyboardInterrupt``, so
    ``except KeyboardInterrupt`` catches it; raised by :func:`hssm_nre.train` and
    :func:`hssm_nre.validation.validate` (via :class:`Interruptible`).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "interrupted"


class Interruptible:
    """Context manager: SIGINT/SIGTERM stop the block with :class:`TrainingInterrupted`.

    While the block runs, its own handler for SIGINT and SIGTERM records the signal; what else
    happens depends on the region the main thread is in (see :mod:`hssm_nre.interrupt`):
    :meth:`polling` regions stop at their next step, :meth:`critical` ones finish whole, and
    elsewhere the first signal raises at once. Handlers can only be installed from the main
    thread; elsewhere the block changes nothing.

    Parameters
    ----------
    what
        What the block does, for the message (e.g. ``"training 'ddm'"``).
    kept
        What is left behind when the block is interrupted (default: nothing cached).

    Attributes
    ----------
    what
        As given.
    kept
        As given; may be updated as work moves on (e.g. once a cache entry is published).
    phase
        Set by the caller as work moves on (``"simulating"``, ``"training"``, ...); named in
        the message.
    signum
        The first signal received, or ``None``.

    Raises
    ------
    TrainingInterrupted
        On leaving the block after a signal (or with a ``KeyboardInterrupt`` raised inside it).
    """

    def __init__(self, what: str, kept: str = "nothing was cached"):
        self.what = what
        self.kept = kept
        self.phase = ""
        self.signum: int | None = None
        self._count = 0
        self._mode = [_RAISE]
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        """True once a signal arrived."""
        return self.signum is not None

    def _handler(self, signum, frame):
        self._count += 1
        if self.signum is None:
            self.signum = signum
        mode = self._mode[-1]
        if (mode == _RAISE and self._count == 1) or (mode == _POLLING and self._count == 2):
            raise KeyboardInterrupt

    def __enter__(self) -> Interruptible:
        if threading.current_thread() is threading.main_thread():
            for s in _SIGNALS:
                self._previous[s] = signal.getsignal(s)
                signal.signal(s, self._handler)
            _ACTIVE.append(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        for s, h in self._previous.items():
            # None: a handler not installed from Python, which cannot be put back; the default
            signal.signal(s, signal.SIG_DFL if h is None else h)
        if self._previous:
            _ACTIVE.remove(self)
        self._previous.clear()
        if isinstance(exc, TrainingInterrupted):
            return False
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            raise self.error() from None
        if exc_type is None and self.requested:
            raise self.error()
        return False

    def check(self) -> None:
        """Raise if a signal arrived (one that a library swallowed, say).

        Raises
        ------
        TrainingInterrupted
            A signal was recorded.
        """
        if self.requested:
            raise self.error()

    @contextmanager
    def _region(self, mode: str):
        self._mode.append(mode)
        try:
            yield
        finally:
            self._mode.pop()

    def polling(self):
        """A region whose loop stops between steps.

        Its loop asks :func:`requested` or calls :func:`poll` between steps: the first signal is
        only recorded, a second raises at once (a way out of a long compilation before the first
        step).

        Returns
        -------
        contextlib.AbstractContextManager
            The region, for a ``with`` statement.
        """
        return self._region(_POLLING)

    def critical(self):
        """A short region that must finish whole (publishing a cache entry).

        Signals are only recorded; :meth:`check` or leaving the block acts on them afterwards.

        Returns
        -------
        contextlib.AbstractContextManager
            The region, for a ``with`` statement.
        """
        return self._region(_CRITICAL)

    def error(self) -> TrainingInterrupted:
        """The :class:`TrainingInterrupted` for the signal received (Ctrl-C when none was).

        Returns
        -------
        TrainingInterrupted
            Its message names the signal, the phase, what was stopped and what was kept.
        """
        signum = signal.SIGINT if self.signum is None else self.signum
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        during = f" while {self.phase}" if self.phase else ""
        return TrainingInterrupted(f"Interrupted ({name}){during}: stopped {self.what}; {self.kept}.")


def requested() -> bool:
    """Whether the innermost active :class:`Interruptible` got a signal (False outside any):
    what a training callback asks after each step."""
    return bool(_ACTIVE) and _ACTIVE[-1].requested


def poll() -> None:
    """Raise :class:`TrainingInterrupted` if the innermost active :class:`Interruptible` got a
    signal: called between the steps of long loops (cheap; a no-op outside any block)."""
    if _ACTIVE:
        _ACTIVE[-1].check()


def ignore_in_worker() -> None:
    """Initializer for simulation worker processes: the parent handles Ctrl-C (and stops the
    workers itself), so a worker ignores SIGINT and dies on SIGTERM as a process should, not
    through the parent's inherited Python handlers. Signals the parent blocked while forking
    are unblocked here, once these dispositions are in place."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


@contextmanager
def signals_blocked():
    """Block SIGINT and SIGTERM in this thread (and in processes forked meanwhile, which
    inherit the mask) for the block; a signal that arrives meanwhile is delivered after it."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
