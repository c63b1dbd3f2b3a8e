"""CIFAR-10, the cluster's proxy dataset, through torchvision.

Files live under ``$EVONORM_DATA_DIR`` (default ``~/.cache/evonorm/data``). When they are
missing, the archive comes from the S3 dataset cache if one is configured
(:mod:`evonorm.proxy.cache`), else torchvision downloads it (online machines only) and it is
then stored in the cache for the next worker. torchvision checks the archive's MD5 either way.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch


def data_root() -> Path:
    return Path(os.environ.get("EVONORM_DATA_DIR", Path.home() / ".cache" / "evonorm" / "data"))


ARCHIVE = "cifar-10-python.tar.gz"  # torchvision's file name for the archive
VERSION = "v1"


def ensure_archive(root: Path, cache) -> bool:
    """Put the cached archive under ``root`` when neither it nor the extracted files are there.
    Returns True when the archive came from the cache."""
    from torchvision.datasets import CIFAR10

    extracted = root / CIFAR10.base_folder
    if extracted.is_dir() or (root / ARCHIVE).is_file() or cache is None:
        return False
    return cache.fetch("cifar10", VERSION, root / ARCHIVE)


def load_cifar10(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of the ``train`` or ``test`` split."""
    from torchvision.datasets import CIFAR10

    from evonorm.proxy.data import DataError

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    from evonorm.proxy.cache import cache_from_env

    root = data_root()
    cache = cache_from_env()
    from_cache = ensure_archive(root, cache)
    try:
        dataset = CIFAR10(str(root), train=split == "train", download=True)
    except (RuntimeError, OSError) as exc:
        raise DataError(
            f"CIFAR-10 not found under {root / 'cifar-10-batches-py'} and not downloadable "
            f"({exc}); put torchvision's cifar-10-python files there or set EVONORM_DATA_DIR"
        ) from None
    if cache is not None and not from_cache and (root / ARCHIVE).is_file():
        cache.store("cifar10", VERSION, root / ARCHIVE)  # downloaded here: share it
    images = torch.from_numpy(np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2)))
    return images, torch.tensor(dataset.targets, dtype=torch.int64)
