"""COCO as segmentation data: a small COCO-layout folder written here (real PNG files, real
annotation JSON with polygons and a crowd RLE), read by pycocotools, trained on by Mask R-CNN."""

import json

import pytest
import torch
from PIL import Image
from pycocotools import mask as mask_utils

from evonorm.cli import main
from evonorm.space import KNOWN_LAYERS
from evonorm.transfer.coco import CocoError, coco_splits, load_coco
from evonorm.transfer.segmentation import SEGMENTATION, run_segmentation

CATEGORIES = [{"id": 3, "name": "car"}, {"id": 7, "name": "kite"}, {"id": 9, "name": "boat"}]


def write_split(root, name, count, seed):
    """``count`` 40x48 RGB images with one or two filled rectangles (polygon annotations) and
    a crowd region; returns the annotations written."""
    folder = root / f"{name}2017"
    folder.mkdir(parents=True)
    g = torch.Generator().manual_seed(seed)
    images, annotations = [], []
    for i in range(count):
        image = torch.zeros(3, 40, 48, dtype=torch.uint8)
        for k in range(1 + i % 2):
            x, y = 4 + 22 * k, 6 + int(torch.randint(0, 10, (1,), generator=g))
            w, h = 16, 14
            image[:, y : y + h, x : x + w] = torch.tensor([200, 60 + 80 * k, 30])[:, None, None]
            polygon = [x, y, x + w, y, x + w, y + h, x, y + h]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": (3, 7)[k],
                    "segmentation": [polygon],
                    "area": w * h,
                    "bbox": [x, y, w, h],
                    "iscrowd": 0,
                }
            )
        crowd = torch.zeros(40, 48, dtype=torch.uint8)
        crowd[30:38, 2:10] = 1
        rle = mask_utils.encode(crowd.numpy().copy(order="F"))
        rle["counts"] = rle["counts"].decode()
        annotations.append(
            {
                "id": len(annotations) + 1,
                "image_id": i + 1,
                "category_id": 9,
                "segmentation": rle,
                "area": 64,
                "bbox": [2, 30, 8, 8],
                "iscrowd": 1,
            }
        )
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i + 1:012d}.png")
        images.append({"id": i + 1, "file_name": f"{i + 1:012d}.png", "width": 48, "height": 40})
    (root / "annotations").mkdir(exist_ok=True)
    data = {"images": images, "annotations": annotations, "categories": CATEGORIES}
    (root / "annotations" / f"instances_{name}2017.json").write_text(json.dumps(data))
    return annotations


@pytest.fixture(scope="module")
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    write_split(root, "train", 8, seed=0)
    write_split(root, "val", 4, seed=1)
    return root


def test_instances_are_read_scaled_and_renumbered(coco_root):
    train, _ = coco_splits(coco_root)
    data = load_coco(train, size=32)
    assert data.images.shape == (8, 3, 32, 32)
    assert float(data.images.min()) >= 0.0 and float(data.images.max()) <= 1.0
    assert data.num_classes == 4 and len(data.mean) == 3  # three categories + background
    first = data.targets[0]  # one rectangle, the crowd region skipped
    assert first["labels"].tolist() == [1]
    assert data.targets[1]["labels"].tolist() == [1, 2]
    box, mask = first["boxes"][0], first["masks"][0]
    assert box[0] == pytest.approx(4 * 32 / 48) and box[2] == pytest.approx(20 * 32 / 48)
    rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
    assert abs(int(cols[0]) - float(box[0])) <= 1 and abs(int(cols[-1]) + 1 - float(box[2])) <= 1
    assert abs(int(rows[0]) - float(box[1])) <= 1 and abs(int(rows[-1]) + 1 - float(box[3])) <= 1


def test_categories_and_limit_select_images_reproducibly(coco_root):
    train, _ = coco_splits(coco_root)
    kites = load_coco(train, size=32, categories=["kite"])
    assert len(kites) == 4 and kites.num_classes == 2
    assert all(t["labels"].tolist() == [1] for t in kites.targets)
    a, b = load_coco(train, size=32, limit=3, seed=5), load_coco(train, size=32, limit=3, seed=5)
    assert len(a) == 3 and torch.equal(a.images, b.images)
    with pytest.raises(CocoError, match="no categories \\['zebra'\\]"):
        load_coco(train, size=32, categories=["zebra"])


def test_missing_pieces_are_named(tmp_path, coco_root):
    with pytest.raises(CocoError, match=r"has no annotations/instances_train2017\.json"):
        coco_splits(tmp_path)
    broken = tmp_path / "broken"
    (broken / "annotations").mkdir(parents=True)
    for name in ("train", "val"):
        (broken / f"{name}2017").mkdir()
        (broken / "annotations" / f"instances_{name}2017.json").write_text("{not json")
    with pytest.raises(CocoError, match="cannot read COCO annotations"):
        load_coco(coco_splits(broken)[0], size=32)


def test_mask_rcnn_trains_and_scores_on_coco(coco_root, smoke_data):
    config = SEGMENTATION["smoke"]
    result = run_segmentation(
        {"bn_relu": KNOWN_LAYERS["bn_relu"]},
        smoke_data,
        config,
        coco=coco_splits(coco_root),
        echo=lambda _: None,
    )
    scores = result["layers"]["bn_relu"]
    assert not scores["diverged"], scores["reason"]
    for key in ("box_ap", "box_ap50", "mask_ap", "mask_ap50"):
        assert 0.0 <= scores[key] <= 1.0
    assert result["settings"]["dataset"] == "coco"
    assert (result["settings"]["train_images"], result["settings"]["eval_images"]) == (8, 4)


def test_transfer_command_names_a_bad_coco_folder(tmp_path, capsys):
    args = [
        "transfer",
        "demo",
        "--runs",
        str(tmp_path),
        "--storage",
        f"journal:{tmp_path / 'missing.log'}",
        "--coco",
        str(tmp_path),
    ]
    assert main(args) == 2
    assert capsys.readouterr().err.startswith("evonorm: error:")
