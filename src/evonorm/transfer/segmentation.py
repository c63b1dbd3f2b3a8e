"""Transfer to instance segmentation: torchvision's Mask R-CNN whose backbone's norm-act layers
are the layer under test, on Fashion-MNIST canvases (:mod:`evonorm.transfer.canvases`).

The backbone is the project's basic-block ResNet (stride-2 stem, four stages) with the paper's
substitution rule applied, under torchvision's FPN (stages 2–4 + a max-pool level); region
proposal, box and mask heads are torchvision's, narrowed for 64-pixel canvases. Training: SGD
with momentum, linear warm-up then cosine decay, gradient-norm clipping; a non-finite loss
stops the run and is reported (``diverged``), never raised. Scores: COCO box AP and mask AP
(mAP over IoU 0.50:0.95, plus AP at 0.50) on held-out canvases, via torchmetrics'
``MeanAveragePrecision`` (pycocotools backend). With ``coco=`` the same model trains and scores
on COCO instead (:mod:`evonorm.transfer.coco`): RGB input, COCO's categories, anchors scaled
to the image size.
"""

from __future__ import annotations

import functools
import math
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torchmetrics.detection import MeanAveragePrecision
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from evonorm.compile import build_layer
from evonorm.proxy.architectures import ArchConfig, build_model
from evonorm.proxy.data import ProxyData
from evonorm.space import LayerGraph
from evonorm.transfer.canvases import Canvases, make_canvases
from evonorm.transfer.coco import CocoSplit, load_coco

__all__ = ["SEGMENTATION", "SegmentationConfig", "build_mask_rcnn", "run_segmentation"]

NUM_CLASSES = 11  # ten Fashion-MNIST classes + background


@dataclass(frozen=True)
class SegmentationConfig:
    canvas: int = 64
    per_canvas: tuple[int, int] = (1, 3)
    train_canvases: int = 2000
    eval_canvases: int = 200
    width: float = 0.25  # of the ResNet-18 stage widths 64..512
    fpn_channels: int = 32
    head_channels: int = 64
    steps: int = 300
    batch_size: int = 8
    lr: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup: int = 30
    clip: float = 10.0
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("train_canvases", "eval_canvases", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"segmentation {name} must be >= 1, got {getattr(self, name)}")


SEGMENTATION = {
    "smoke": SegmentationConfig(
        train_canvases=32,
        eval_canvases=8,
        width=0.125,
        fpn_channels=16,
        head_channels=32,
        steps=4,
        batch_size=2,
        warmup=1,
    ),
    "local": SegmentationConfig(),
    "ablation": SegmentationConfig(),
    "paper": SegmentationConfig(
        train_canvases=10000,
        eval_canvases=1000,
        width=0.5,
        fpn_channels=64,
        head_channels=128,
        steps=3000,
        batch_size=16,
        warmup=200,
    ),
}


def build_mask_rcnn(
    graph: LayerGraph,
    config: SegmentationConfig,
    *,
    in_channels: int = 1,
    size: int | None = None,
    num_classes: int = NUM_CLASSES,
    mean: tuple[float, ...] = (0.2860,),
    std: tuple[float, ...] = (0.3530,),
) -> MaskRCNN:
    """Mask R-CNN for ``size``² images (default: ``config.canvas``) of ``in_channels`` channels
    with ``graph`` in the backbone's norm-act slots."""
    size = size or config.canvas
    scale = size / 64  # anchors were sized for 64-pixel canvases
    resnet = build_model(
        "resnet_basic",
        ArchConfig(width=config.width, stem_stride=2, in_channels=in_channels),
        functools.partial(build_layer, graph),
    )
    body = nn.Sequential(
        OrderedDict(
            [("stem", resnet.stem)]
            + [(f"stage{i}", stage) for i, stage in enumerate(resnet.stages, 1)]
        )
    )
    widths = [stage[-1].conv2.out_channels for stage in resnet.stages]
    backbone = BackboneWithFPN(
        body,
        return_layers={"stage2": "0", "stage3": "1", "stage4": "2"},
        in_channels_list=widths[1:],
        out_channels=config.fpn_channels,
        extra_blocks=LastLevelMaxPool(),
    )
    c, d = config.fpn_channels, config.head_channels
    levels = ["0", "1", "2"]
    return MaskRCNN(
        backbone,
        min_size=size,
        max_size=size,
        image_mean=list(mean),
        image_std=list(std),
        rpn_anchor_generator=AnchorGenerator(
            tuple((round(a * scale),) for a in (8, 16, 32, 64)), ((0.5, 1.0, 2.0),) * 4
        ),
        rpn_pre_nms_top_n_train=300,
        rpn_post_nms_top_n_train=150,
        rpn_pre_nms_top_n_test=150,
        rpn_post_nms_top_n_test=75,
        rpn_batch_size_per_image=128,
        box_roi_pool=MultiScaleRoIAlign(levels, output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(c * 7 * 7, 4 * d),
        box_predictor=FastRCNNPredictor(4 * d, num_classes),
        box_batch_size_per_image=128,
        box_detections_per_img=20,
        mask_roi_pool=MultiScaleRoIAlign(levels, output_size=14, sampling_ratio=2),
        mask_head=MaskRCNNHeads(c, [d, d], 1),
        mask_predictor=MaskRCNNPredictor(d, d, num_classes),
    )


def _lr(step: int, config: SegmentationConfig) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def _score(model: MaskRCNN, canvases: Canvases, batch: int) -> dict[str, float]:
    model.eval()
    metric = MeanAveragePrecision(iou_type=("bbox", "segm"), backend="pycocotools")
    for start in range(0, len(canvases), batch):
        images = list(canvases.images[start : start + batch])
        outputs = model(images)
        preds = [
            {
                "boxes": o["boxes"],
                "scores": o["scores"],
                "labels": o["labels"],
                "masks": (o["masks"][:, 0] > 0.5),
            }
            for o in outputs
        ]
        truth = [{**t, "masks": t["masks"].bool()} for t in canvases.targets[start : start + batch]]
        metric.update(preds, truth)
    result = metric.compute()
    return {
        "box_ap": float(result["bbox_map"]),
        "box_ap50": float(result["bbox_map_50"]),
        "mask_ap": float(result["segm_map"]),
        "mask_ap50": float(result["segm_map_50"]),
    }


def train_and_score(
    graph: LayerGraph, train: Canvases, held_out: Canvases, config: SegmentationConfig, seed: int
) -> dict:
    """Train Mask R-CNN with ``graph`` and score it: box/mask AP (fractions; -1 when failed),
    ``final_loss``, ``seconds``, ``diverged``, ``reason``."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = build_mask_rcnn(
        graph,
        config,
        in_channels=train.images.shape[1],
        size=train.images.shape[-1],
        num_classes=train.num_classes,
        mean=train.mean,
        std=train.std,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    generator = torch.Generator().manual_seed(seed)
    reason, loss_value = "", math.nan
    model.train()
    for step in range(config.steps):
        if config.timeout_s is not None and time.perf_counter() - start > config.timeout_s:
            reason = f"timed out after {step} steps"
            break
        index = torch.randint(len(train), (config.batch_size,), generator=generator).tolist()
        images = [train.images[i] for i in index]
        targets = [train.targets[i] for i in index]
        for group in optimizer.param_groups:
            group["lr"] = _lr(step, config)
        try:
            losses = model(images, targets)
            loss = sum(losses.values())
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                reason = f"non-finite loss at step {step}"
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, config.clip)
            optimizer.step()
        except (RuntimeError, ValueError, FloatingPointError) as exc:  # a bad layer, not a bug
            reason = f"error at step {step}: {str(exc).splitlines()[0][:200]}"
            break
    scores = {"box_ap": -1.0, "box_ap50": -1.0, "mask_ap": -1.0, "mask_ap50": -1.0}
    if not reason.startswith(("non-finite", "error")):
        try:
            scores = _score(model, held_out, config.batch_size)
        except (RuntimeError, ValueError) as exc:
            reason = f"error while scoring: {str(exc).splitlines()[0][:200]}"
    return {
        **scores,
        "final_loss": loss_value if math.isfinite(loss_value) else None,
        "seconds": time.perf_counter() - start,
        "diverged": reason.startswith(("non-finite", "error")),
        "reason": reason,
    }


def run_segmentation(
    layers: dict[str, LayerGraph],
    data: ProxyData,
    config: SegmentationConfig,
    *,
    seed: int = 0,
    coco: tuple[CocoSplit, CocoSplit] | None = None,
    coco_limit: int | None = None,
    echo=print,
) -> dict:
    """Score every layer on the same images: canvases built from ``data``'s ``fit`` split
    (training) and ``rerank`` split (scoring), or — with ``coco`` (train, val) — COCO images
    resized to ``config.canvas``² (at most ``coco_limit`` of each, seeded).
    ``{"settings": ..., "layers": {name: scores}}``."""
    if coco is not None:
        load = functools.partial(load_coco, size=config.canvas, limit=coco_limit, seed=seed)
        train, held_out = load(coco[0]), load(coco[1])
        source = {
            "dataset": "coco",
            "annotations": [str(s.annotations) for s in coco],
            "train_images": len(train),
            "eval_images": len(held_out),
        }
    else:
        if tuple(data.images["fit"].shape[1:]) != (1, 28, 28):
            raise ValueError(
                "segmentation transfer builds its canvases from Fashion-MNIST items; "
                f"got dataset {data.spec.name!r}"
            )
        build = functools.partial(make_canvases, size=config.canvas, per_canvas=config.per_canvas)
        train = build(
            data.images["fit"], data.labels["fit"], count=config.train_canvases, seed=seed
        )
        held_out = build(
            data.images["rerank"], data.labels["rerank"], count=config.eval_canvases, seed=seed + 1
        )
        source = {"dataset": "fashion_mnist_canvases"}
    results = {}
    for name, graph in layers.items():
        results[name] = train_and_score(graph, train, held_out, config, seed)
        r = results[name]
        echo(
            f"segmentation {name:24} box AP {r['box_ap']:.3f} mask AP {r['mask_ap']:.3f} "
            f"in {r['seconds']:.1f} s {r['reason']}"
        )
    return {"settings": {**asdict(config), "seed": seed, **source}, "layers": results}
