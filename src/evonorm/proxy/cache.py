"""An S3 cache for dataset files, so that a cluster's workers do not each download a dataset.

Set ``EVONORM_DATASET_CACHE=s3://bucket/prefix`` (credentials and ``AWS_ENDPOINT_URL`` for an
S3-compatible store come from boto3's usual environment). Objects are keyed by dataset, version
and file name: ``<prefix>/<dataset>/<version>/<file>``.

The cache is only asked for files that are not on local disk. A store that cannot be reached or
refuses access (after boto3's bounded retries: ``CONNECT_TIMEOUT``, ``MAX_ATTEMPTS``) is one
:class:`~evonorm.proxy.data.DataError` line when fetching — there is no local copy to fall back
on then — and only a warning when storing a file that is already here.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from urllib.parse import urlparse

from evonorm.errors import first_line
from evonorm.proxy.data import DataError

ENV = "EVONORM_DATASET_CACHE"
CONNECT_TIMEOUT = 5  # seconds
MAX_ATTEMPTS = 3  # boto3's own retries of a request


class DatasetCache:
    def __init__(self, uri: str, *, client=None) -> None:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"dataset cache must be an s3://bucket[/prefix] URI, got {uri!r}")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        if client is None:
            import boto3
            from botocore.config import Config

            bounded = Config(
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=60,
                retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            )
            client = boto3.client("s3", config=bounded)
        self.client = client
        self.uri = uri

    def key(self, dataset: str, version: str, filename: str) -> str:
        return "/".join(p for p in (self.prefix, dataset, version, filename) if p)

    def fetch(self, dataset: str, version: str, dest: Path) -> bool:
        """Download the cached copy of ``dest.name`` to ``dest``; False when there is none.
        The file appears whole or not at all."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.key(dataset, version, dest.name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".part")
        try:
            self.client.download_file(self.bucket, key, str(partial))
        except (BotoCoreError, ClientError) as exc:
            partial.unlink(missing_ok=True)
            if _code(exc) in ("404", "NoSuchKey"):
                return False
            raise DataError(
                f"{dataset} is not under {dest.parent} and the dataset cache {self.uri} cannot "
                f"be read ({first_line(exc)}); put the files there, or fix {ENV} / "
                "AWS_ENDPOINT_URL and the S3 credentials"
            ) from None
        partial.replace(dest)
        return True

    def store(self, dataset: str, version: str, path: Path) -> str | None:
        """Upload ``path``; returns its key, or None (with a warning) when the store refuses:
        the file is here already, so the search goes on without sharing it."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.key(dataset, version, path.name)
        try:
            self.client.upload_file(str(path), self.bucket, key)
        except (BotoCoreError, ClientError) as exc:
            warnings.warn(f"dataset cache {self.uri}: not stored ({first_line(exc)})", stacklevel=2)
            return None
        return key


def _code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code")


def cache_from_env() -> DatasetCache | None:
    uri = os.environ.get(ENV)
    return DatasetCache(uri) if uri else None
