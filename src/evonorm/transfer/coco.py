"""COCO instance annotations as the segmentation transfer's data, for users who have COCO.

:func:`load_coco` reads an ``instances_*.json`` file and its image folder with pycocotools and
returns :class:`~evonorm.transfer.canvases.Canvases`, so Mask R-CNN trains and scores on COCO
exactly as on the synthetic canvases:

- images are decoded with Pillow, made RGB and resized to ``size``² (boxes and masks
  scaled with them; masks by nearest neighbour), so proxy-scale runs stay cheap;
- crowd annotations are skipped, as are boxes under one pixel after resizing and images left
  without annotations;
- categories are renumbered 1..K by category id (0 is the background); ``categories`` (names)
  restricts them, and train and validation files must then agree on the names;
- ``limit`` takes a seeded sample of the images, so every layer of a run sees the same ones.

:func:`coco_splits` finds the usual layout: ``ROOT/annotations/instances_train2017.json`` with
``ROOT/train2017/`` and the ``val2017`` counterparts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pycocotools.coco import COCO

from evonorm.transfer.canvases import Canvases

__all__ = ["CocoError", "CocoSplit", "coco_splits", "load_coco"]


class CocoError(ValueError):
    """A COCO folder or file that cannot be used (names the path and what is wrong)."""


@dataclass(frozen=True)
class CocoSplit:
    annotations: Path  # instances_*.json
    images: Path  # the folder its file_name entries are relative to


def coco_splits(root: Path | str, year: str = "2017") -> tuple[CocoSplit, CocoSplit]:
    """(train, val) of a COCO folder in the usual layout; a missing piece is a CocoError."""
    root = Path(root)
    splits = tuple(
        CocoSplit(root / "annotations" / f"instances_{name}{year}.json", root / f"{name}{year}")
        for name in ("train", "val")
    )
    for split in splits:
        for path in (split.annotations, split.images):
            if not path.exists():
                raise CocoError(
                    f"COCO folder {root} has no {path.relative_to(root)}; expected "
                    f"annotations/instances_{{train,val}}{year}.json and {{train,val}}{year}/"
                )
    return splits  # type: ignore[return-value]


def _open(split: CocoSplit) -> COCO:
    try:
        return COCO(str(split.annotations))
    except (OSError, ValueError, KeyError, TypeError) as exc:  # json errors are ValueErrors
        raise CocoError(f"cannot read COCO annotations {split.annotations}: {exc}") from None


def load_coco(
    split: CocoSplit,
    *,
    size: int,
    limit: int | None = None,
    categories: Sequence[str] | None = None,
    seed: int = 0,
) -> Canvases:
    """The images of ``split`` with their instances as :class:`Canvases` (RGB, ``size``²)."""
    coco = _open(split)
    cats = sorted(coco.loadCats(coco.getCatIds()), key=lambda c: c["id"])
    if categories is not None:
        unknown = sorted(set(categories) - {c["name"] for c in cats})
        if unknown:
            raise CocoError(f"{split.annotations} has no categories {unknown}")
        cats = [c for c in cats if c["name"] in set(categories)]
    label = {c["id"]: i + 1 for i, c in enumerate(cats)}
    ids = sorted({i for cid in label for i in coco.getImgIds(catIds=[cid])})
    if limit is not None and limit < len(ids):
        pick = np.random.default_rng(seed).choice(len(ids), size=limit, replace=False)
        ids = [ids[i] for i in sorted(pick)]
    images, targets = [], []
    for image_id in ids:
        info = coco.loadImgs(image_id)[0]
        path = split.images / info["file_name"]
        try:
            with Image.open(path) as picture:
                pixels = np.asarray(picture.convert("RGB"))
        except OSError as exc:
            raise CocoError(f"cannot read image {path}: {exc}") from None
        image = torch.from_numpy(pixels.copy()).permute(2, 0, 1)
        h, w = image.shape[-2:]
        sx, sy = size / w, size / h
        boxes, labels, masks = [], [], []
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False)):
            if ann["category_id"] not in label:
                continue
            x, y, bw, bh = ann["bbox"]
            box = [x * sx, y * sy, (x + bw) * sx, (y + bh) * sy]
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue
            mask = torch.from_numpy(coco.annToMask(ann)).float()[None, None]
            masks.append(F.interpolate(mask, size=(size, size), mode="nearest")[0, 0])
            boxes.append(box)
            labels.append(label[ann["category_id"]])
        if not boxes:
            continue
        resized = F.interpolate(
            image[None].float() / 255.0,
            size=(size, size),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        images.append(resized[0].clamp(0, 1))
        targets.append(
            {
                "boxes": torch.tensor(boxes, dtype=torch.float32),
                "labels": torch.tensor(labels, dtype=torch.int64),
                "masks": torch.stack(masks).to(torch.uint8),
            }
        )
    if not images:
        raise CocoError(f"{split.annotations}: no image with a usable instance annotation")
    stacked = torch.stack(images)
    return Canvases(
        stacked,
        targets,
        num_classes=len(cats) + 1,
        mean=tuple(stacked.mean(dim=(0, 2, 3)).tolist()),
        std=tuple(stacked.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist()),
    )
