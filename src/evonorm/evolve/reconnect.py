"""An Optuna RDB storage that rides out a database server restart.

A PostgreSQL restart (a failover, an upgrade, a pod moved) closes every connection, and for a
second or more refuses new ones. Optuna's ``RDBStorage`` turns the first failed call into an
exception, which would kill a worker after hours of training the candidate it was about to
record. :class:`ReconnectingRDBStorage` retries each storage call that failed because the
connection was lost or refused, for up to ``RECONNECT_SECONDS`` with growing pauses, and
``pool_pre_ping`` replaces pooled connections the restart left dead before they are used.
Any other error (a constraint, bad data, a refused password) is raised at once.

A write is retried only when the database reported the connection gone, so its transaction
was rolled back; the one case left is a commit that reached the server and lost its answer,
which a retry repeats (a second RUNNING trial or attribute write: rare, and crash recovery
fails a stray trial when its owner exits).
"""

from __future__ import annotations

import functools
import time

from optuna.exceptions import StorageInternalError
from optuna.storages import RDBStorage
from sqlalchemy import exc as sa

from evonorm.evolve.optuna_internals import RDB_CALLS_FROM_OPTUNA

__all__ = ["RECONNECT_SECONDS", "ReconnectingRDBStorage", "disconnected"]

RECONNECT_SECONDS = 30.0
_FIRST_PAUSE, _LONGEST_PAUSE = 0.25, 4.0


# Operational errors that are answers, not a lost connection: retrying cannot help.
_REFUSALS = ("authentication failed", "does not exist", "no pg_hba.conf entry", "permission denied")


def disconnected(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is a lost or refused database connection, not a
    refusal such as a bad password."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, sa.DisconnectionError):
            return True
        if isinstance(error, sa.OperationalError):
            return not any(words in str(error).lower() for words in _REFUSALS)
        if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
            return True
        error = error.__cause__ or error.__context__
    return False


def _retried(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        deadline = time.monotonic() + RECONNECT_SECONDS
        pause = _FIRST_PAUSE
        while True:
            try:
                return method(self, *args, **kwargs)
            except (StorageInternalError, sa.SQLAlchemyError) as error:
                if not disconnected(error) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(2 * pause, _LONGEST_PAUSE)

    return call


class ReconnectingRDBStorage(RDBStorage):
    """``RDBStorage`` whose calls are retried through a lost database connection."""

    def __init__(self, url: str, **kwargs) -> None:
        engine = {"pool_pre_ping": True, **(kwargs.pop("engine_kwargs", None) or {})}
        super().__init__(url, engine_kwargs=engine, **kwargs)


# Every storage call: the public API and the private ones Optuna itself makes on it.
for _name in [n for n in dir(RDBStorage) if not n.startswith("_")] + list(RDB_CALLS_FROM_OPTUNA):
    if callable(getattr(RDBStorage, _name)) and _name not in ("upgrade", "remove_session"):
        setattr(ReconnectingRDBStorage, _name, _retried(getattr(RDBStorage, _name)))
