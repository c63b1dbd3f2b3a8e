"""An S3 cache for dataset files, so that a cluster's workers do not each download a dataset.

Set ``EVONORM_DATASET_CACHE=s3://bucket/prefix`` (credentials and ``AWS_ENDPOINT_URL`` for an
S3-compatible store come from boto3's usual environment). Objects are keyed by dataset, version
and file name: ``<prefix>/<dataset>/<version>/<file>``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

ENV = "EVONORM_DATASET_CACHE"


class DatasetCache:
    def __init__(self, uri: str, *, client=None) -> None:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"dataset cache must be an s3://bucket[/prefix] URI, got {uri!r}")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client

    def key(self, dataset: str, version: str, filename: str) -> str:
        return "/".join(p for p in (self.prefix, dataset, version, filename) if p)

    def fetch(self, dataset: str, version: str, dest: Path) -> bool:
        """Download the cached copy of ``dest.name`` to ``dest``; False when there is none.
        The file appears whole or not at all."""
        from botocore.exceptions import ClientError

        key = self.key(dataset, version, dest.name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".part")
        try:
            self.client.download_file(self.bucket, key, str(partial))
        except ClientError as exc:
            partial.unlink(missing_ok=True)
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return False
            raise
        partial.replace(dest)
        return True

    def store(self, dataset: str, version: str, path: Path) -> str:
        """Upload ``path``; returns its key."""
        key = self.key(dataset, version, path.name)
        self.client.upload_file(str(path), self.bucket, key)
        return key


def cache_from_env() -> DatasetCache | None:
    uri = os.environ.get(ENV)
    return DatasetCache(uri) if uri else None
