import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["journal", "postgres"])
def storage_url(request, tmp_path) -> str:
    if request.param == "journal":
        return f"journal:{tmp_path / 'study.log'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def study_name() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def evolve_command(study: str, storage: str, *extra: str) -> list[str]:
    """`evonorm evolve` for crash tests: MLflow off (it would write runs/ into the working
    folder, and these tests are about the study)."""
    return [
        sys.executable,
        "-m",
        "evonorm",
        "evolve",
        "--preset",
        "smoke",
        "--study",
        study,
        "--storage",
        storage,
        "--quiet",
        "--no-tracking",
        *extra,
    ]


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own (``initdb`` in a temporary folder, its own port), for
    tests that stop or restart the server: the shared test cluster is never touched."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.data = folder, folder / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"postgresql+psycopg2://evonorm@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "evonorm", "--no-sync")
        self.start()

    def _run(self, *command: str) -> None:
        # PostgreSQL refuses to run as root: as root, run its tools as the postgres user.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def _ctl(self, *action: str) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.folder} -c fsync=off"
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", *action)

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        """Close every connection (fast shutdown), then start again; waits until it is up."""
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._ctl("stop", "-m", "immediate")


@pytest.fixture
def throwaway_postgres():
    folder = Path(tempfile.mkdtemp(prefix="evonorm-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = None
    try:
        server = ThrowawayPostgres(folder)
        yield server
    finally:
        if server is not None:
            with contextlib.suppress(subprocess.CalledProcessError):
                server.stop()
        shutil.rmtree(folder, ignore_errors=True)
