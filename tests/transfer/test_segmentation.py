import torch

from evonorm.compile.layer import GraphLayer
from evonorm.space import KNOWN_LAYERS
from evonorm.transfer.segmentation import SEGMENTATION, build_mask_rcnn, run_segmentation

SMOKE = SEGMENTATION["smoke"]


def test_the_backbone_norm_acts_are_the_layer_and_the_model_detects():
    model = build_mask_rcnn(KNOWN_LAYERS["evonorm_s0"], SMOKE)
    layers = [m for m in model.backbone.body.modules() if isinstance(m, GraphLayer)]
    assert len(layers) >= 5  # stem + two per basic block
    assert not [
        m
        for m in model.backbone.body.modules()
        if isinstance(m, torch.nn.BatchNorm2d) and type(m) is torch.nn.BatchNorm2d
    ]
    model.eval()
    with torch.no_grad():
        out = model([torch.rand(1, 64, 64)])[0]
    assert set(out) == {"boxes", "labels", "scores", "masks"}


def test_layers_are_scored_on_the_same_canvases_and_a_nan_layer_is_reported(smoke_data, nan_layer):
    layers = {"bn_relu": KNOWN_LAYERS["bn_relu"], "nan": nan_layer}
    lines = []
    result = run_segmentation(layers, smoke_data, SMOKE, seed=0, echo=lines.append)
    good, bad = result["layers"]["bn_relu"], result["layers"]["nan"]
    for key in ("box_ap", "box_ap50", "mask_ap", "mask_ap50"):
        assert 0.0 <= good[key] <= 1.0
        assert bad[key] == -1.0
    assert not good["diverged"] and good["reason"] == ""
    assert bad["diverged"] and "non-finite" in bad["reason"]
    assert result["settings"]["steps"] == SMOKE.steps and len(lines) == 2
    again = run_segmentation(
        {"bn_relu": KNOWN_LAYERS["bn_relu"]}, smoke_data, SMOKE, seed=0, echo=lambda _: None
    )
    assert again["layers"]["bn_relu"]["final_loss"] == good["final_loss"]  # seeded, repeatable
