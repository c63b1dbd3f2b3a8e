"""A synthetic instance-segmentation dataset: Fashion-MNIST items placed on larger canvases.

Each canvas holds ``per_canvas`` items (uniform between the two bounds) at seeded random
positions where their boxes do not overlap. An item's mask is its pixels brighter than
``threshold`` (the items sit on a black background), its box the mask's extent, its label the
Fashion-MNIST class + 1 (0 is the detector's background). Everything derives from the seed, so
two runs — and every layer of one run — see the same canvases.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["Canvases", "make_canvases"]


@dataclass(frozen=True)
class Canvases:
    """Images with instance targets; also what :mod:`evonorm.transfer.coco` returns."""

    images: torch.Tensor  # (N, C, S, S) float in [0, 1]
    targets: list[dict[str, torch.Tensor]]  # boxes (k, 4) xyxy float, labels (k,), masks (k, S, S)
    num_classes: int = 11  # with the background: ten Fashion-MNIST classes + 1
    mean: tuple[float, ...] = (0.2860,)  # per channel, for the detector's input normalisation
    std: tuple[float, ...] = (0.3530,)

    def __len__(self) -> int:
        return len(self.images)


def _overlaps(box: tuple[int, int, int, int], others) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in others)


def make_canvases(
    items: torch.Tensor,
    labels: torch.Tensor,
    *,
    count: int,
    size: int = 64,
    per_canvas: tuple[int, int] = (1, 3),
    threshold: int = 25,
    seed: int = 0,
) -> Canvases:
    """``count`` canvases of ``size``² pixels built from ``items`` (uint8, (N, 1, h, w))."""
    if items.ndim != 4 or items.shape[1] != 1:
        raise ValueError(f"items must be grey images (N, 1, h, w), got shape {tuple(items.shape)}")
    h, w = items.shape[-2:]
    if size < max(h, w):
        raise ValueError(f"canvas size {size} is smaller than an item ({h}x{w})")
    low, high = per_canvas
    if not 1 <= low <= high:
        raise ValueError(f"per_canvas must be 1 <= low <= high, got {per_canvas}")
    generator = torch.Generator().manual_seed(seed)
    items, labels = items.cpu(), labels.cpu()
    images = torch.zeros(count, 1, size, size)
    targets = []
    for n in range(count):
        wanted = int(torch.randint(low, high + 1, (1,), generator=generator))
        boxes, classes, masks = [], [], []
        for _ in range(20 * wanted):
            if len(boxes) == wanted:
                break
            index = int(torch.randint(len(items), (1,), generator=generator))
            item = items[index, 0]
            mask = item > threshold
            if not mask.any():
                continue
            y = int(torch.randint(size - h + 1, (1,), generator=generator))
            x = int(torch.randint(size - w + 1, (1,), generator=generator))
            rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
            box = (x + int(cols[0]), y + int(rows[0]), x + int(cols[-1]) + 1, y + int(rows[-1]) + 1)
            if _overlaps(box, boxes):
                continue
            canvas_mask = torch.zeros(size, size, dtype=torch.uint8)
            canvas_mask[y : y + h, x : x + w] = mask.to(torch.uint8)
            region = images[n, 0, y : y + h, x : x + w]
            images[n, 0, y : y + h, x : x + w] = torch.maximum(region, item.float() / 255.0)
            boxes.append(box)
            classes.append(int(labels[index]) + 1)
            masks.append(canvas_mask)
        targets.append(
            {
                "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                "labels": torch.tensor(classes, dtype=torch.int64),
                "masks": torch.stack(masks)
                if masks
                else torch.zeros(0, size, size, dtype=torch.uint8),
            }
        )
    return Canvases(images, targets)
