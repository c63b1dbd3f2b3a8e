"""A candidate's memory and time budget (proxy.limits) with real allocations and real timers."""

import resource
import sys
import time

import pytest
import torch

from evonorm.proxy.limits import LimitExceeded, Limits, is_out_of_memory, within


def test_an_allocation_past_the_memory_budget_is_stopped_and_the_limit_restored():
    before = resource.getrlimit(resource.RLIMIT_DATA)
    budget = pytest.raises(LimitExceeded, match="out of memory: it needed more than its 64 MiB")
    with budget, within(Limits(memory_mb=64)):
        small = torch.ones(1 << 20)  # 4 MiB: within the budget
        torch.ones(100_000_000)  # 400 MB: past it
    assert small.sum() == 1 << 20
    assert resource.getrlimit(resource.RLIMIT_DATA) == before
    assert torch.ones(100_000_000).numel() == 100_000_000  # allowed again outside


def test_a_body_past_its_time_budget_is_stopped_and_the_timer_cleared():
    start = time.perf_counter()
    budget = pytest.raises(LimitExceeded, match=r"over its time budget of 0\.2 s")
    with budget, within(Limits(seconds=0.2)):
        while True:
            torch.ones(1000).sum()
    assert 0.2 <= time.perf_counter() - start < 2
    with within(Limits(seconds=0.2)):
        pass
    time.sleep(0.3)  # a cancelled timer does not fire later


def test_other_errors_pass_through_and_out_of_memory_is_recognised():
    with pytest.raises(KeyError), within(Limits(memory_mb=64, seconds=5)):
        raise KeyError("a bug is not a budget")
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: 1 bytes"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    with pytest.raises(ValueError, match="candidate memory must be >= 1 MiB"):
        Limits(memory_mb=0)
    with pytest.raises(ValueError, match="candidate time must be > 0 s"):
        Limits(seconds=0)


class _SlowFinaliser:
    """Sleeps in ``__del__``, where Python drops any exception (as in torch's weakref callbacks)."""

    def __del__(self):
        time.sleep(0.3)


def test_an_alarm_python_drops_still_stops_the_body_and_still_counts_as_over_budget(monkeypatch):
    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", lambda raised: dropped.append(raised.exc_type))
    reached = []
    budget = pytest.raises(LimitExceeded, match=r"over its time budget of 0\.1 s")
    with budget, within(Limits(seconds=0.1)):
        _SlowFinaliser()  # the first alarm fires in its __del__ and is dropped
        time.sleep(3)  # the next one stops this
        reached.append("end of body")
    assert (dropped, reached) == ([LimitExceeded], [])

    with budget, within(Limits(seconds=0.1)):
        _SlowFinaliser()  # the only alarm is dropped and the body ends normally
    assert dropped == [LimitExceeded, LimitExceeded]
    with within(Limits(seconds=0.1)):
        pass
    time.sleep(0.3)  # a closed timer does not fire later


def test_an_alarm_another_error_wrapped_still_counts_as_over_budget():
    budget = pytest.raises(LimitExceeded, match=r"over its time budget of 0\.1 s")
    with budget, within(Limits(seconds=0.1)):
        try:
            time.sleep(3)
        except LimitExceeded as error:  # as torch turns a Python error into its own
            raise RuntimeError("wrapped by a library") from error


def test_an_alarm_inside_no_grad_s_own_enter_leaves_gradients_on_for_what_follows():
    """An alarm that lands between ``no_grad().__enter__`` and its ``with`` block (or inside
    ``__exit__``) skips the restore; the process's next candidate must still get gradients."""
    assert torch.is_grad_enabled()
    with pytest.raises(LimitExceeded), within(Limits(seconds=0.05)):
        torch.no_grad().__enter__()  # the enter ran, the block that would exit it never did
        time.sleep(3)
    assert torch.is_grad_enabled()
    w = torch.ones(2, requires_grad=True)
    (w * 3).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]
