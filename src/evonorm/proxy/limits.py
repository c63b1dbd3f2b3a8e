"""A candidate's resource budget: memory and wall-clock time for its whole evaluation.

A layer that needs more than its budget is not an error: :func:`within` turns it into
:class:`LimitExceeded`, which the search records as a rejection (stage ``budget``), and the
worker goes on with the next candidate.

- **Memory**: the process's ``RLIMIT_DATA`` (Linux counts private writable mappings, which is
  where torch's CPU tensors live) is lowered to what the process holds on entry plus
  ``memory_mb``. An allocation past it fails at once (torch raises ``RuntimeError``: "can't
  allocate memory", Python ``MemoryError``); the limit is restored on exit. Chosen over a
  subprocess per candidate, which would reload torch and the data every time (seconds a
  candidate), and over polling the RSS, which notices only after the machine is swapping.
  Out-of-memory errors on a GPU (``torch.OutOfMemoryError``) are turned into the same rejection.
- **Time**: a ``SIGALRM`` timer that raises in the main thread, so every stage (fingerprint,
  stability, quality and full training) counts, not only the training loops. A single long
  native operation finishes before the alarm is seen. Python drops an exception raised where
  it cannot propagate (a weakref callback or ``__del__``: torch's compiler runs such callbacks
  often), so the timer keeps firing every ``seconds`` until the body ends, and a body that
  ends normally after an alarm it never saw is still over its budget. An alarm can also land
  inside a context manager's own enter or exit (``torch.no_grad()``'s), so the grad mode of
  the entry is restored on the way out.

Both bounds are per process: each search worker, pipeline task or CLI command sets its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import resource
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["LimitExceeded", "Limits", "is_out_of_memory", "over_budget", "within"]

_INSIDE = contextvars.ContextVar("evonorm_limits_inside", default=False)


class LimitExceeded(Exception):
    """A candidate went past its memory or time budget; the message says which."""


@dataclass(frozen=True)
class Limits:
    memory_mb: int | None = None  # extra data memory a candidate may take, in MiB
    seconds: float | None = None  # wall-clock time for one candidate's whole evaluation

    def __post_init__(self) -> None:
        if self.memory_mb is not None and self.memory_mb < 1:
            raise ValueError(f"candidate memory must be >= 1 MiB, got {self.memory_mb}")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"candidate time must be > 0 s, got {self.seconds}")


def is_out_of_memory(error: BaseException) -> bool:
    """An allocation that failed: Python's, torch's CPU allocator or a GPU's."""
    if isinstance(error, MemoryError | torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)


def over_budget(error: BaseException) -> bool:
    """An out-of-memory error raised inside :func:`within`, which must reach it (the trainer and
    the stability check record other errors of a layer as a failed run; rerank and baselines,
    which run outside any budget, keep doing that for memory too)."""
    return _INSIDE.get() and is_out_of_memory(error)


def _data_bytes() -> int:
    """This process's data segment (``VmData``), what ``RLIMIT_DATA`` is checked against."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmData:\s+(\d+) kB", status).group(1)) * 1024


def _bound_memory(stack: contextlib.ExitStack, memory_mb: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = _data_bytes() + (memory_mb << 20)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    stack.callback(resource.setrlimit, resource.RLIMIT_DATA, (soft, hard))


class _Alarm:
    """The ``SIGALRM`` handler of one :func:`within`: it raises until the body has ended."""

    def __init__(self, seconds: float) -> None:
        self.message = f"over its time budget of {seconds:g} s"
        self.tripped = False  # fired at least once, seen by the body or not
        self.closed = False

    def __call__(self, signum, frame) -> None:
        if self.closed or isinstance(sys.exception(), LimitExceeded):
            return  # ended, or an earlier alarm is being handled: let its clean-up run
        self.tripped = True
        raise LimitExceeded(self.message)

    def close(self) -> None:
        self.closed = True
        signal.setitimer(signal.ITIMER_REAL, 0)


def _bound_time(stack: contextlib.ExitStack, seconds: float) -> _Alarm:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("a candidate time limit needs the main thread (it uses SIGALRM)")
    alarm = _Alarm(seconds)
    previous = signal.signal(signal.SIGALRM, alarm)
    stack.callback(signal.signal, signal.SIGALRM, previous)
    stack.callback(alarm.close)
    signal.setitimer(signal.ITIMER_REAL, seconds, seconds)  # again every `seconds` until closed
    return alarm


@contextlib.contextmanager
def within(limits: Limits | None) -> Iterator[None]:
    """Run the body under ``limits``; any out-of-memory error in it (a bound or not) leaves as
    :class:`LimitExceeded`."""
    limits = limits or Limits()
    token = _INSIDE.set(True)
    with contextlib.ExitStack() as stack:
        stack.callback(_INSIDE.reset, token)
        # an alarm can land inside torch.no_grad()'s own enter or exit, which then never
        # restores the grad mode: every later candidate of the process would train without
        # gradients (seen as an infinite gradient norm), so the mode is put back here
        stack.callback(torch.set_grad_enabled, torch.is_grad_enabled())
        if limits.memory_mb is not None:
            _bound_memory(stack, limits.memory_mb)
        alarm = _bound_time(stack, limits.seconds) if limits.seconds is not None else None
        try:
            try:
                yield
            finally:
                if alarm is not None:
                    alarm.close()  # first, so that no alarm lands in the clean-up below
        except LimitExceeded:
            raise
        except BaseException as error:
            if alarm is not None and alarm.tripped:  # e.g. torch wrapped the alarm's error
                raise LimitExceeded(alarm.message) from error
            if not is_out_of_memory(error):
                raise
            budget = f"its {limits.memory_mb} MiB budget" if limits.memory_mb else "the memory"
            raise LimitExceeded(f"out of memory: it needed more than {budget}") from None
        if alarm is not None and alarm.tripped:
            raise LimitExceeded(alarm.message)  # every alarm it saw was dropped by Python
