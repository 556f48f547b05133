"""How :class:`hssm_nre.interrupt.Interruptible` treats signals in each kind of region."""

import signal

import pytest

from hssm_nre.interrupt import Interruptible, TrainingInterrupted, poll, requested


def test_outside_any_region_the_first_signal_raises_and_later_ones_do_not_cut_clean_up():
    cleaned = []
    with pytest.raises(TrainingInterrupted, match=r"Interrupted \(Ctrl-C\) while simulating: stopped x; nothing"):
        with Interruptible("x") as stop:
            stop.phase = "simulating"
            try:
                signal.raise_signal(signal.SIGINT)
                pytest.fail("the first signal must raise at once")
            finally:
                signal.raise_signal(signal.SIGINT)  # a second Ctrl-C during clean-up ...
                cleaned.append(True)  # ... does not interrupt it
    assert cleaned == [True]


def test_a_polling_region_records_the_first_signal_and_raises_at_the_second():
    with pytest.raises(TrainingInterrupted, match="SIGTERM"):
        with Interruptible("x") as stop, stop.polling():
            signal.raise_signal(signal.SIGTERM)  # recorded: the loop stops at its next step
            assert requested() and stop.signum == signal.SIGTERM
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)  # a second one: out at once
            poll()
            pytest.fail("poll must raise")


def test_a_critical_region_finishes_whole_and_the_signal_is_honoured_after():
    done = []
    with pytest.raises(TrainingInterrupted, match="the entry was written"):
        with Interruptible("x") as stop:
            with stop.critical():
                signal.raise_signal(signal.SIGINT)
                signal.raise_signal(signal.SIGINT)
                done.append(True)
            stop.kept = "the entry was written"
    assert done == [True]


def test_handlers_are_restored_and_nothing_changes_outside_a_block():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with Interruptible("x"):
        assert signal.getsignal(signal.SIGINT) != before[0]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert not requested()
    poll()  # a no-op outside any block
