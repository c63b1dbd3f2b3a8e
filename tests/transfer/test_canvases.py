import pytest
import torch

from evonorm.transfer.canvases import make_canvases


def test_canvases_hold_non_overlapping_items_whose_boxes_match_their_masks(smoke_data):
    items, labels = smoke_data.images["fit"], smoke_data.labels["fit"]
    canvases = make_canvases(items, labels, count=24, size=64, per_canvas=(1, 3), seed=3)
    assert canvases.images.shape == (24, 1, 64, 64)
    assert float(canvases.images.min()) >= 0.0 and float(canvases.images.max()) <= 1.0
    counts = [len(t["labels"]) for t in canvases.targets]
    assert min(counts) >= 1 and max(counts) <= 3 and len(set(counts)) > 1
    for image, target in zip(canvases.images, canvases.targets, strict=True):
        assert target["labels"].min() >= 1 and target["labels"].max() <= 10  # 0 = background
        union = torch.zeros(64, 64, dtype=torch.int64)
        for box, mask in zip(target["boxes"], target["masks"], strict=True):
            ys, xs = mask.nonzero(as_tuple=True)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            assert (image[0][mask.bool()] > 0).all()  # a mask covers lit pixels only
            union += mask
        assert union.max() <= 1  # items never overlap
        assert (image[0][union == 0] <= 25 / 255).all()  # outside masks: only faint pixels


def test_canvases_are_seeded(smoke_data):
    items, labels = smoke_data.images["fit"], smoke_data.labels["fit"]
    a = make_canvases(items, labels, count=4, seed=1)
    b = make_canvases(items, labels, count=4, seed=1)
    c = make_canvases(items, labels, count=4, seed=2)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"size": 20}, "smaller than an item"), ({"per_canvas": (2, 1)}, "per_canvas")],
)
def test_bad_canvas_settings_are_refused(smoke_data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_canvases(smoke_data.images["fit"], smoke_data.labels["fit"], count=2, **kwargs)
