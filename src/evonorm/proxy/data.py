"""Fashion-MNIST, offline, from the Debian package ``dataset-fashion-mnist``.

The four gzipped IDX files are read straight into uint8 tensors (no torchvision download, no
per-sample PIL). Where they live: ``$EVONORM_FASHION_MNIST_DIR`` if set, else the Debian
package's folder.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
INSTALL_HINT = "install them with `make data` (runs: apt-get install -y dataset-fashion-mnist)"


class DataError(RuntimeError):
    """Missing or corrupt dataset files; the message names the files and how to get them."""


def fashion_mnist_dir() -> Path:
    return Path(os.environ.get("EVONORM_FASHION_MNIST_DIR", DEBIAN_DIR))


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}; {INSTALL_HINT}") from None
    header = 4 * (1 + ndim)
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise DataError(f"{path} is not an IDX file (bad magic number); {INSTALL_HINT}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: {data.size} values for shape {shape}")
    return data.reshape(shape)


def load_fashion_mnist(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 28, 28), labels int64 (N,)) of the ``train`` or ``test`` split."""
    if split not in FILES:
        raise ValueError(f"split must be one of {sorted(FILES)}, got {split!r}")
    folder = fashion_mnist_dir()
    paths = [folder / name for name in FILES[split]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"Fashion-MNIST files not found: {', '.join(missing)}; {INSTALL_HINT}")
    images = _read_idx(paths[0], 2051, 3)
    labels = _read_idx(paths[1], 2049, 1)
    if len(images) != len(labels):
        raise DataError(f"{folder}: {len(images)} images but {len(labels)} labels")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))
