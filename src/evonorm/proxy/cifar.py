"""CIFAR-10, the cluster's proxy dataset, through torchvision.

Files live under ``$EVONORM_DATA_DIR`` (default ``~/.cache/evonorm/data``); torchvision downloads
them there when they are missing and the machine is online.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch


def data_root() -> Path:
    return Path(os.environ.get("EVONORM_DATA_DIR", Path.home() / ".cache" / "evonorm" / "data"))


def load_cifar10(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of the ``train`` or ``test`` split."""
    from torchvision.datasets import CIFAR10

    from evonorm.proxy.data import DataError

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = data_root()
    try:
        dataset = CIFAR10(str(root), train=split == "train", download=True)
    except (RuntimeError, OSError) as exc:
        raise DataError(
            f"CIFAR-10 not found under {root / 'cifar-10-batches-py'} and not downloadable "
            f"({exc}); put torchvision's cifar-10-python files there or set EVONORM_DATA_DIR"
        ) from None
    images = torch.from_numpy(np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2)))
    return images, torch.tensor(dataset.targets, dtype=torch.int64)
