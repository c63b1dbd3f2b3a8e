"""Is the MLflow tracking store there? Asked before a command writes anything, so that a server
that is down, a store that does not exist or a path that cannot be written is one
:class:`TrackingError` line instead of minutes of MLflow's own retries and a traceback.

- ``http(s)://`` — ``GET /health``, ``ATTEMPTS`` tries 1 s then 2 s apart; HTTP 401/403 says
  which credentials MLflow reads;
- ``sqlite:///PATH`` and plain or ``file:`` paths — ``must_exist`` (read-only commands such as
  ``layer pull``) refuses a store that is not there rather than creating an empty one; otherwise
  the nearest existing folder must be writable;
- anything else (``databricks``, …) is left to MLflow.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import requests

from evonorm.errors import connection_reason

__all__ = ["ATTEMPTS", "TrackingError", "check_tracking", "make_store_folder"]

ATTEMPTS = 3
TIMEOUT = 5.0  # seconds per /health request


class TrackingError(ValueError):
    """An MLflow tracking URI that cannot be used now; the message says how to fix it."""


def check_tracking(uri: str | None, *, must_exist: bool = False) -> str:
    """``uri`` (None: MLflow's default) once it is usable; raises :class:`TrackingError`."""
    uri = uri or mlflow.get_tracking_uri()
    scheme = urlparse(uri).scheme
    if scheme in ("http", "https"):
        _check_server(uri)
    elif scheme == "sqlite":
        _check_path(uri, Path(uri.removeprefix("sqlite:///")), must_exist, is_store=Path.is_file)
    elif scheme in ("", "file"):
        path = Path(urlparse(uri).path if scheme else uri)
        _check_path(uri, path, must_exist, is_store=Path.is_dir)
    return uri


def make_store_folder(uri: str) -> str:
    """``uri``, once the folder of a SQLite store exists (MLflow creates the file, not its
    folder); called just before a store is first written, after every check passed."""
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return uri


def _check_path(uri: str, path: Path, must_exist: bool, *, is_store) -> None:
    if is_store(path):
        return
    if must_exist:
        raise TrackingError(
            f"no MLflow store at {uri}: pass --tracking-uri of the store the layers were "
            "published to"
        )
    folder = next(p for p in (path.parent, *path.parent.parents) if p.exists())
    if not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
        raise TrackingError(
            f"cannot create the MLflow store {uri}: {folder} is not a writable folder; pass "
            "--tracking-uri with a writable path or a server URL"
        )


def _check_server(uri: str) -> None:
    health = uri.rstrip("/") + "/health"
    auth, headers = None, {}
    if os.environ.get("MLFLOW_TRACKING_TOKEN"):
        headers["Authorization"] = f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"
    elif os.environ.get("MLFLOW_TRACKING_USERNAME"):
        auth = (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ.get("MLFLOW_TRACKING_PASSWORD"))
    for attempt in range(1, ATTEMPTS + 1):
        try:
            answer = requests.get(health, timeout=TIMEOUT, auth=auth, headers=headers)
        except requests.RequestException as error:
            if attempt == ATTEMPTS:
                raise TrackingError(
                    f"MLflow server {uri} cannot be reached after {ATTEMPTS} attempts "
                    f"({connection_reason(error)}); start it, or pass --tracking-uri of one that "
                    "runs"
                ) from None
            time.sleep(attempt)
            continue
        if answer.status_code in (401, 403):
            raise TrackingError(
                f"MLflow server {uri} refused authentication (HTTP {answer.status_code}): set "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"
            )
        if answer.status_code != 200:
            raise TrackingError(
                f"{health} answered HTTP {answer.status_code}: is {uri} an MLflow tracking server?"
            )
        return
