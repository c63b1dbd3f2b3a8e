"""Where a search's population lives: one ``--storage`` string → one Optuna storage.

- ``journal:PATH`` — an append-only JournalFile (the local default; safe for several processes
  on one machine);
- ``sqlite:///PATH`` — an Optuna RDB on SQLite: one writer only, refused for more workers
  (SQLite hands the same queued trial to two processes, see docs/evolution.md);
- ``postgresql+psycopg2://…`` (any SQLAlchemy URL) — the cluster's storage, with Optuna
  heartbeats so that trials of dead workers are noticed from any host, and every call retried
  through a server restart (:mod:`evonorm.evolve.reconnect`).

Heartbeats (RDB only) call ``on_stale`` for every trial they fail, from whichever process
noticed; :mod:`evonorm.evolve.recovery` passes the function that re-queues its candidate.

Opening fails with one :class:`StorageError` line (what, where, how to fix) and leaves nothing
behind: a journal whose folder cannot be written removes the folders it made; a server that
does not answer is tried ``CONNECT_ATTEMPTS`` times first. ``must_exist=True`` (read-only
commands) refuses a journal or SQLite file that is not there instead of creating it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

from evonorm.errors import first_line
from evonorm.evolve.reconnect import ReconnectingRDBStorage, disconnected

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

CONNECT_ATTEMPTS = 3  # tries of a storage server before giving up, 1 s then 2 s apart

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
    def local_path(self) -> Path:
        """The file of a journal or SQLite storage."""
        return Path(self.url.removeprefix("journal:").removeprefix("sqlite:///"))

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
    must_exist: bool = False,
) -> BaseStorage:
    """The Optuna storage for ``spec``. Journal files and their folders are created unless
    ``must_exist``; any failure is one :class:`StorageError`."""
    quiet_optuna()
    spec = StorageSpec.parse(spec) if isinstance(spec, str) else spec
    if must_exist and spec.kind in ("journal", "sqlite") and not spec.local_path.is_file():
        raise StorageError(f"no study storage at {spec.url}: pass --storage URL of a search")
    if spec.kind == "journal":
        path = _writable(spec)
        _drop_cut_line(path)
        return JournalStorage(JournalFileBackend(str(path)))
    if spec.kind == "sqlite":
        _writable(spec)
        return _connect(spec, lambda: RDBStorage(spec.url))
    heartbeats = {
        "heartbeat_interval": heartbeat_interval,
        "grace_period": grace_period,
        "heartbeat_stale_trial_callback": on_stale,
    }
    return _connect(spec, lambda: ReconnectingRDBStorage(spec.url, **heartbeats))


def _writable(spec: StorageSpec) -> Path:
    """The storage file's path once its folder exists and the file can be appended to; on
    failure the folders made here are removed again."""
    path = spec.local_path
    made = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):
            pass
    except OSError as exc:
        for folder in made:  # innermost first
            if folder.is_dir():
                folder.rmdir()
        where = exc.filename or path
        raise StorageError(
            f"cannot write study storage {spec.url}: {exc.strerror} ({where}); "
            "pass --storage with a writable path"
        ) from None
    return path


def _drop_cut_line(path: Path) -> None:
    """Remove a last line that a writer killed mid-append left without its newline. Optuna
    skips such a line when reading, but the next append would be glued to it, and the study
    could no longer be read. Checked under the journal's own lock (the one Optuna writes
    under), so a write in progress is never mistaken for a cut one."""
    if not _ends_cut(path):
        return
    lock = JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        if not _ends_cut(path):
            return
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as journal:
            journal.truncate(keep)
        warnings.warn(
            f"{path}: dropped a cut last line ({len(data) - keep} bytes) left by a writer that "
            "was killed mid-append; every complete line is kept",
            stacklevel=3,
        )
    finally:
        lock.release()


def _ends_cut(path: Path) -> bool:
    with open(path, "rb") as journal:
        journal.seek(0, 2)
        if journal.tell() == 0:
            return False
        journal.seek(-1, 2)
        return journal.read(1) != b"\n"


def _connect(spec: StorageSpec, make: Callable[[], BaseStorage]) -> BaseStorage:
    """``make()``, retried while the server does not answer; one line when it never does."""
    attempt = 1
    while True:
        try:
            return make()
        except Exception as error:  # SQLAlchemy/driver errors: say which storage and why
            if attempt == CONNECT_ATTEMPTS or not (_unreachable(error) or disconnected(error)):
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                raise StorageError(
                    f"cannot open storage {_redacted(spec.url)}{tries}: {first_line(error)}; "
                    "check that the server runs and the URL, user and password are right"
                ) from None
        time.sleep(attempt)
        attempt += 1


_TRANSIENT = (
    "connection refused",
    "could not connect",
    "timeout",
    "timed out",
    "could not translate host",
    "starting up",
    "shutting down",
)


def _unreachable(error: Exception) -> bool:
    """A server that did not answer (worth retrying), not a refusal such as a bad password."""
    text = str(error).lower()
    return any(words in text for words in _TRANSIENT)


def _redacted(url: str) -> str:
    """``url`` without its password."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, credentials = head.partition("//")
    user = credentials.split(":", 1)[0]
    return f"{scheme}//{user}:***@{tail}"
