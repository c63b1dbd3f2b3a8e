"""Where a search's population lives: one ``--storage`` string → one Optuna storage.

- ``journal:PATH`` — an append-only JournalFile (the local default; safe for several processes
  on one machine);
- ``sqlite:///PATH`` — an Optuna RDB on SQLite: one writer only, refused for more workers
  (SQLite hands the same queued trial to two processes, see docs/evolution.md);
- ``postgresql+psycopg2://…`` (any SQLAlchemy URL) — the cluster's storage, with Optuna
  heartbeats so that trials of dead workers are noticed from any host.

Heartbeats (RDB only) call ``on_stale`` for every trial they fail, from whichever process
noticed; :mod:`evonorm.evolve.recovery` passes the function that re-queues its candidate.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

__all__ = [
    "HEARTBEAT_GRACE",
    "HEARTBEAT_INTERVAL",
    "StorageError",
    "StorageSpec",
    "open_storage",
    "quiet_optuna",
]

HEARTBEAT_INTERVAL = 20  # seconds between a worker's heartbeats (RDB storages)
HEARTBEAT_GRACE = 120  # a RUNNING trial without a heartbeat for this long is stale

_RDB_PREFIXES = ("sqlite:", "postgresql", "mysql")


def quiet_optuna() -> None:
    """Optuna's per-trial INFO lines and its warnings about the experimental APIs and ask/tell
    heartbeats used on purpose here would drown the progress bar."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")


class StorageError(ValueError):
    """A ``--storage`` value that cannot be used; the message says how to fix it."""


@dataclass(frozen=True)
class StorageSpec:
    """A parsed ``--storage`` value."""

    url: str

    @property
    def kind(self) -> str:
        if self.url.startswith("journal:"):
            return "journal"
        if self.url.startswith("sqlite:"):
            return "sqlite"
        return "rdb"

    @property
    def journal_path(self) -> Path:
        return Path(self.url.removeprefix("journal:"))

    @classmethod
    def parse(cls, url: str) -> StorageSpec:
        url = url.strip()
        if url.startswith("journal:"):
            if not url.removeprefix("journal:"):
                raise StorageError("storage 'journal:' needs a file path, e.g. journal:runs/x.log")
            return cls(url)
        if url.startswith(_RDB_PREFIXES):
            return cls(url)
        raise StorageError(
            f"storage {url!r} is not supported: use journal:PATH (a JournalFile), "
            "sqlite:///PATH (one worker) or postgresql+psycopg2://USER:PASS@HOST/DB"
        )

    def check_workers(self, workers: int) -> None:
        if self.kind == "sqlite" and workers > 1:
            raise StorageError(
                f"storage {self.url!r} is SQLite, which hands one queued trial to several "
                f"processes: with --workers {workers} use journal:PATH or PostgreSQL instead"
            )


def open_storage(
    spec: StorageSpec | str,
    *,
    on_stale: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    grace_period: int = HEARTBEAT_GRACE,
) -> BaseStorage:
    """The Optuna storage for ``spec`` (journal files and their folders are created)."""
    quiet_optuna()
    spec = StorageSpec.parse(spec) if isinstance(spec, str) else spec
    if spec.kind == "journal":
        path = spec.journal_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if spec.kind == "sqlite":
        return RDBStorage(spec.url)
    try:
        return RDBStorage(
            spec.url,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=on_stale,
        )
    except Exception as error:  # SQLAlchemy/driver errors: say which storage and why
        raise StorageError(f"cannot open storage {_redacted(spec.url)}: {error}") from error


def _redacted(url: str) -> str:
    """``url`` without its password."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, credentials = head.partition("//")
    user = credentials.split(":", 1)[0]
    return f"{scheme}//{user}:***@{tail}"
