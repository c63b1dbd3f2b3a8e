"""The proxy trainer: train one network on one dataset for a fixed number of steps.

SGD with Nesterov momentum, linear warm-up then cosine decay to zero, weight decay on conv and
linear weights only (no decay on norm-layer parameters, as in the paper), batch 128 by default.
On CUDA it trains in bf16 autocast with channels_last; on CPU in float32, deterministically for a
given seed. ``compile=True`` runs the network through ``torch.compile`` (a one-off cost of
seconds that pays back over long runs, see docs/benchmarks.md).

A bad layer never raises here: a NaN/Inf loss, an error inside the network or a timeout stops
training and is reported in the result (``diverged`` and ``reason``). Running out of memory
inside a candidate's budget is the exception: it propagates to
:func:`evonorm.proxy.limits.within`, which rejects the layer for its budget.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from evonorm.proxy.data import ProxyData
from evonorm.proxy.limits import over_budget


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 300
    batch_size: int = 128
    lr: float = 0.1  # peak learning rate, after warm-up
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_fraction: float = 0.05  # of steps
    augment: bool = True
    compile: bool = False
    timeout_s: float | None = None  # wall-clock cap on the training loop
    clip_grad_norm: float | None = None  # clip the global gradient norm to this (None: never)
    eval_split: str = "search"  # held-out split scored at the end

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.clip_grad_norm is not None and self.clip_grad_norm <= 0:
            raise ValueError(f"clip_grad_norm must be > 0, got {self.clip_grad_norm}")


@dataclass(frozen=True)
class TrainResult:
    accuracy: float  # on config.eval_split, in [0, 1]; 0 when training failed
    final_loss: float
    steps: int  # steps completed
    seconds: float  # wall time of training and evaluation
    diverged: bool  # a non-finite loss or an error inside the network
    timed_out: bool = False
    reason: str = ""  # why training stopped early, if it did
    accuracies: tuple[float, ...] = ()  # per training seed, when this is a mean over seeds


def mean_result(results: list[TrainResult]) -> TrainResult:
    """One result for the same training under several seeds: mean accuracy and loss, summed
    steps and seconds, diverged or timed out if any run was; the per-seed accuracies kept."""
    if len(results) == 1:
        return results[0]
    return TrainResult(
        accuracy=statistics.fmean(r.accuracy for r in results),
        final_loss=statistics.fmean(r.final_loss for r in results),
        steps=sum(r.steps for r in results),
        seconds=sum(r.seconds for r in results),
        diverged=any(r.diverged for r in results),
        timed_out=any(r.timed_out for r in results),
        reason="; ".join(r.reason for r in results if r.reason),
        accuracies=tuple(r.accuracy for r in results),
    )


def _schedule(step: int, total: int, warmup: int) -> float:
    """Learning-rate factor: linear warm-up to 1, then cosine to 0."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.ndim > 1]  # conv and linear weights
    rest = [p for p in model.parameters() if p.ndim <= 1]  # biases and norm-layer vectors
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=True)


@torch.no_grad()
def accuracy(model: nn.Module, data: ProxyData, split: str) -> float:
    """Top-1 accuracy on ``split``; a sample whose logits are not finite counts as wrong."""
    model.eval()
    correct = total = 0
    for x, y in data.held_out(split):
        with _autocast(data.device):
            logits = model(_layout(x))
        ok = torch.isfinite(logits).all(dim=1) & (logits.argmax(dim=1) == y)
        correct += int(ok.sum())
        total += len(y)
    return correct / max(total, 1)


def _autocast(device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def _layout(x: torch.Tensor) -> torch.Tensor:
    return x.to(memory_format=torch.channels_last) if x.is_cuda else x


def train(model: nn.Module, data: ProxyData, config: TrainConfig, *, seed: int) -> TrainResult:
    """Train ``model`` (already initialised; moved to ``data.device`` here) and score it."""
    start = time.perf_counter()
    model = model.to(data.device)
    if data.device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if config.compile else model
    optimizer = _optimizer(model, config)
    warmup = int(config.warmup_fraction * config.steps)
    generator = torch.Generator().manual_seed(seed)
    loss_value, done, reason, timed_out = float("nan"), 0, "", False
    model.train()
    try:
        for step in range(config.steps):
            if config.timeout_s is not None and time.perf_counter() - start > config.timeout_s:
                reason = f"timeout after {step} steps ({config.timeout_s:g} s)"
                timed_out = True
                break
            for group in optimizer.param_groups:
                group["lr"] = config.lr * _schedule(step, config.steps, warmup)
            x, y = data.batch(config.batch_size, generator, augment=config.augment)
            with _autocast(data.device):
                loss = nn.functional.cross_entropy(net(_layout(x)), y)
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                reason = f"non-finite loss ({loss_value}) at step {step}"
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
            optimizer.step()
            done = step + 1
        # Scored with the eager module (same weights): eval mode would recompile the network.
        acc = 0.0 if reason else accuracy(model, data, config.eval_split)
    except (RuntimeError, ValueError, ArithmeticError) as exc:  # a layer that breaks the network
        if over_budget(exc):  # over its budget: the caller decides (proxy.limits)
            raise
        reason = f"error at step {done}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        acc = 0.0
    return TrainResult(
        accuracy=acc,
        final_loss=loss_value,
        steps=done,
        seconds=time.perf_counter() - start,
        diverged=bool(reason) and not timed_out,
        timed_out=timed_out,
        reason=reason,
    )
