"""The paper's ablation at proxy scale: does evolution with rejection find layers that random
sampling and random search do not?

Per seed ``s`` two searches of ``budget`` candidates run with the same preset, space and
rejection chain, each in its own JournalFile under ``root``: ``random-s<s>`` (random search)
and ``evolution-s<s>``. Then every row of the table is trained on every column (the anchors and
the held-out networks) with the preset's rerank budget, scored on the ``rerank`` split (data
split with seed ``s``, so never the images seed ``s``'s search scored):

- baselines (BN-ReLU, BN-SiLU, GN-ReLU, EvoNorm-B0, EvoNorm-S0), one training per seed;
- *Random*: the first ``samples`` random graphs of each seed's generator (what the
  random-search arm draws first, before any rejection or duplicate check), trained as they are;
- *Random + rejection*: the first ``samples`` layers that arm accepted;
- *RS + rejection* and *Evolution*: each arm's best layer (highest mean search accuracy over
  the anchors) at the budget, one per seed — picked on search scores only, so the rerank split
  is not used for selection.

Each arm's best-so-far layers are then re-scored under one protocol (fresh training seeds
100, 101, ...), and so is its best at N *as the paper names it*: its ``rerank_top`` best layers
by search score retrained at the rerank budget with pick seeds 200, 201 and scored on the
``search`` split (the images the search already selected on; neither the rerank split nor the
held-out networks take part), the best mean over the anchors picked (docs/evolution.md,
"Naming an arm's best").

Everything is resumable: a search continues its study, and every training is appended to
``trainings.jsonl`` as it ends and never repeated. ``budget`` may grow between runs (pieces);
the other settings are fixed by ``config.json`` on the first run. Work runs in ``jobs``
processes of ``cpu_count // jobs`` torch threads each (small networks scale better across
processes than across threads).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, fields, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from evonorm.evolve.recovery import recover, requeue
from evonorm.evolve.search import Search, SearchConfig, SearchError, settings_diff
from evonorm.evolve.selection import RandomSearch
from evonorm.evolve.storage import open_storage, quiet_optuna
from evonorm.evolve.worker import WorkerSettings, work
from evonorm.proxy.presets import get_preset
from evonorm.proxy.rerank import result_to_dict
from evonorm.proxy.score import train_layer
from evonorm.space import KNOWN_LAYERS, LayerGraph

__all__ = [
    "ARMS",
    "RERANKED",
    "AblationConfig",
    "AblationResult",
    "Curve",
    "Row",
    "collect",
    "display_name",
    "finalists",
    "pick_seeds",
    "references",
    "rerank_pick",
    "rescore_seeds",
    "run_ablation",
]

ARMS = ("random", "evolution", "improved", "warm")
ROW_ORDER = (
    "Random",
    "Random + rejection",
    "RS + rejection",
    "Evolution",
    "Evolution, improved",
    "Evolution, warm start",
)
ARM_ROWS = {
    "random": "RS + rejection",
    "evolution": "Evolution",
    "improved": "Evolution, improved",
    "warm": "Evolution, warm start",
}
EQUAL_MIX = {"redraw": 0.2, "op": 0.2, "rewire": 0.2, "insert": 0.2, "remove": 0.2}  # A-D
# since ablation-E: insert and rewire made 3-5x the new bests per CPU-hour of the other three in
# ablation-D (bench/mutation_yield.py), and normalise makes the normalisers none of them can
IMPROVED_MIX = {
    "insert": 0.25,
    "rewire": 0.2,
    "normalise": 0.25,
    "op": 0.1,
    "redraw": 0.1,
    "remove": 0.1,
}
# what a setting added later meant for an ablation root written before it existed
BEFORE_ADDED = {"improved_up_to_scale": False, "warm_keep_seeds": False}
WARM_LAYERS = ("bn_relu", "bn_silu", "evonorm_b0", "evonorm_s0")
TRAININGS = "trainings.jsonl"
GROWING = ("budget", "seeds", "arms")  # settings a resumed ablation may raise
CONFIG = "config.json"
# seconds between wall-time writes: a search job lasts hours, and a sitting killed in the middle of
# one (SIGTERM or SIGKILL, no clean exit) must still count (ablation-G lost 94 min that way)
WALL_EVERY = 60.0


@dataclass(frozen=True)
class AblationConfig:
    """Fixed when ``root`` is first used, but for what may grow: ``budget``, ``seeds``, ``arms``
    and ``held_out`` (networks are added, never dropped)."""

    preset: str = "ablation"
    budget: int = 150
    seeds: int = 2
    space: str = "B"
    population: int = 8
    tournament: int = 3
    warmup: int = 1
    samples: int = 6
    novel: bool = False  # both arms redraw children whose structure was already evaluated
    held_out: tuple[str, ...] = ("resnet_basic", "vgg")
    baselines: tuple[str, ...] = ("bn_relu", "bn_silu", "gn_relu", "evonorm_b0", "evonorm_s0")
    arms: tuple[str, ...] = ("random", "evolution")  # may grow between runs, like the budget
    improved_mutations: dict[str, float] = field(default_factory=lambda: dict(IMPROVED_MIX))
    improved_repeats: int = 2  # the improved arms train an accepted layer under two seeds
    # accepted random layers before the improved arms mutate: 1 since the presets reject
    # affine layers (3 before; docs/evolution.md, "The warm-up under the affine check")
    improved_warmup: int = 1
    # share of the improved arms' children bred from rejected normalisers (near misses)
    improved_near_misses: float = 0.0
    # distinct up to a per-channel factor: 56-63 % of ablation-D's training went to rescaled
    # copies (bench/scale_repeats.py)
    improved_up_to_scale: bool = True
    rescore_seeds: int = 3  # fresh training seeds that re-score each arm's best-so-far layers
    # finalists per search the rerank pick retrains before naming the arm's best at N (the
    # paper reranked its top 10); 0: no pick
    rerank_top: int = 10
    rerank_seeds: int = 2  # training seeds per finalist in the rerank pick
    warm_layers: tuple[str, ...] = WARM_LAYERS  # the warm-started arm's first candidates
    # the warm arm's seed layers never age out (ablation-E-warm: they aged out after 8 newer
    # acceptances, and 52 of 58 accepted layers descended from the weakest seed)
    warm_keep_seeds: bool = False

    def __post_init__(self) -> None:
        preset = get_preset(self.preset)
        for arch in self.held_out:
            preset.arch(arch)
        if len(self.held_out) < 1:
            raise ValueError("the ablation needs at least one held-out architecture")
        odd = [a for a in self.held_out if a not in preset.held_out_names]
        if odd or len(set(self.held_out)) < len(self.held_out):
            raise ValueError(
                f"held-out networks must be distinct ones among "
                f"{', '.join(preset.held_out_names)} (preset {self.preset}), got "
                f"{' '.join(self.held_out)}"
            )
        unknown = [b for b in self.baselines if b not in KNOWN_LAYERS]
        if unknown:
            raise ValueError(f"unknown baselines {unknown}; known: {', '.join(KNOWN_LAYERS)}")
        for name in ("budget", "seeds", "samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.rerank_top < 0:
            raise ValueError(f"rerank_top must be >= 0, got {self.rerank_top}")
        if self.rerank_seeds < 1:
            raise ValueError(f"rerank_seeds must be >= 1, got {self.rerank_seeds}")
        object.__setattr__(self, "arms", tuple(self.arms))
        unknown = [a for a in self.arms if a not in ARMS]
        if unknown or not self.arms:
            raise ValueError(f"arms must be some of {', '.join(ARMS)}, got {list(self.arms)}")
        for arm in ARMS:
            self.search_config(arm, 0)  # validates space / population / mutations / layers

    @property
    def archs(self) -> tuple[str, ...]:
        return get_preset(self.preset).anchor_names + tuple(self.held_out)

    def search_config(self, arm: str, seed: int) -> SearchConfig:
        """The search of ``arm``: random search; the paper's evolution; the improved evolution
        (mutation catalogue, distinct functions, up to scale with ``improved_up_to_scale``,
        accepted layers trained under ``improved_repeats`` seeds) from the same random start;
        the same warm-started from ``warm_layers`` (kept in the population with
        ``warm_keep_seeds``)."""
        improved = arm in ("improved", "warm")  # docs/evolution.md says why each setting
        return SearchConfig(
            preset=self.preset,
            space=self.space,
            strategy="random" if arm == "random" else "evolution",
            population=self.population,
            tournament=self.tournament,
            selection="pareto",
            seed=seed,
            warmup={"random": None, "evolution": self.warmup}.get(
                arm, min(self.improved_warmup, self.population)
            ),
            novel=self.novel,
            mutations=self.improved_mutations if improved else None,
            distinct=improved,
            repeats=self.improved_repeats if improved else 1,
            near_misses=self.improved_near_misses if improved else 0.0,
            up_to_scale=self.improved_up_to_scale and improved,
            seed_layers=self.warm_layers if arm == "warm" else (),
            keep_seeds=self.warm_keep_seeds and arm == "warm",
        )

    def fixed(self) -> dict:
        """The settings a resumed ablation must share (all but the budget, seeds and arms,
        which may grow; its held-out networks may grow too, never shrink)."""
        data = asdict(self)
        for growing in GROWING:
            data.pop(growing)
        data["held_out"] = list(self.held_out)
        data["baselines"] = list(self.baselines)
        data["warm_layers"] = list(self.warm_layers)
        data["preset_revision"] = get_preset(self.preset).revision
        return data


@dataclass(frozen=True)
class Row:
    """One line of the table: accuracies (fractions) per column over seeds or samples."""

    name: str
    kind: str  # baseline | random | search
    cells: dict[str, list[float]]
    over: str  # "seeds" | "samples"
    layers: list[str] = field(default_factory=list)  # formulas behind the row

    def mean(self, arch: str) -> float:
        return statistics.fmean(self.cells[arch]) if self.cells[arch] else float("nan")

    def std(self, arch: str) -> float:
        """The sample std over seeds or samples (the champion gate's definition)."""
        values = self.cells[arch]
        return statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class Curve:
    """Best mean search accuracy after each recorded candidate of one arm and seed."""

    arm: str
    seed: int
    best: list[float]  # NaN until the first accepted layer
    accepted: int
    rejected: int
    duplicates: int  # same structure or function as an evaluated layer: its result reused
    seconds: float  # the candidates' evaluation (and proposal) CPU time, summed
    spent: list[float] = field(default_factory=list)  # that sum after each candidate


@dataclass(frozen=True)
class AblationResult:
    config: AblationConfig
    rows: list[Row]
    curves: list[Curve]
    wall_seconds: float  # summed over all runs of this ablation
    rescored: list[Rescored] = field(default_factory=list)

    def efficiency(self) -> list[dict]:
        """Per seed and evolution arm: random search's best at N, the arm's best at N, and the
        candidates and CPU-seconds the arm needed to reach random search's best (None: never)
        next to random search's N candidates and CPU-seconds."""
        out = []
        for seed in range(self.config.seeds):
            rs = _curve(self.curves, "random", seed)
            for arm in self.config.arms:
                ev = _curve(self.curves, arm, seed)
                if arm == "random" or rs is None or ev is None:
                    continue
                target = _last_finite(rs.best)
                reached = next(
                    (i for i, b in enumerate(ev.best) if np.isfinite(b) and b >= target), None
                )
                out.append(
                    {
                        "seed": seed,
                        "arm": arm,
                        "budget": len(rs.best),
                        "random_best": target,
                        "random_seconds": rs.seconds,
                        "best": _last_finite(ev.best),
                        "needed": None if reached is None else reached + 1,
                        "needed_seconds": None if reached is None else ev.spent[reached],
                    }
                )
        return out


def _curve(curves: Iterable[Curve], arm: str, seed: int) -> Curve | None:
    return next((c for c in curves if c.arm == arm and c.seed == seed), None)


def _last_finite(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return finite[-1] if finite else float("nan")


# -- storage of an ablation ------------------------------------------------------------------


def storage_url(root: Path, arm: str, seed: int) -> str:
    return f"journal:{root / f'{arm}-s{seed}.log'}"


def study_name(arm: str, seed: int) -> str:
    return f"{arm}-s{seed}"


def stored_settings(root: Path) -> dict | None:
    """The fixed settings (:meth:`AblationConfig.fixed`) ``root``'s ablation was started
    with, as they ran: a setting added since reads as ``BEFORE_ADDED`` says, else as its
    default; ``preset_revision`` only as recorded. None for a root not started yet."""
    path = root / CONFIG
    if not path.exists():
        return None
    defaults = AblationConfig().fixed()
    defaults.pop("preset_revision")
    stored = {**defaults, **BEFORE_ADDED, **json.loads(path.read_text())}
    for growing in GROWING:  # the first run's seeds (and arms) may have grown since
        stored.pop(growing, None)
    return stored


def _check_config(root: Path, config: AblationConfig) -> bool:
    """Refuse settings ``root``'s ablation cannot continue with; True when its config file is to
    be written (a new root, or held-out networks added)."""
    stored = stored_settings(root)
    if stored is not None:
        if stored.get("preset_revision") != config.fixed()["preset_revision"]:
            raise SearchError(
                f"ablation in {root} was run under preset {config.preset!r} revision "
                f"{stored.get('preset_revision') or 'not recorded'}; the preset is now revision "
                f"{config.fixed()['preset_revision']} and its scores do not compare: move that "
                "folder aside (it is history) or use another --root"
            )
        asked = config.fixed()
        scored, wanted = stored.pop("held_out"), asked.pop("held_out")
        if stored != asked:
            diff = settings_diff(stored, asked)
            raise SearchError(
                f"ablation in {root} was started with other settings ({diff}); use the same "
                "settings (only --budget, --seeds, --arms and --held-out may grow) or another "
                "--root"
            )
        dropped = [arch for arch in scored if arch not in wanted]
        if dropped:
            raise SearchError(
                f"ablation in {root} scores the held-out networks {' '.join(scored)}; "
                f"--held-out may add networks but not drop {' '.join(dropped)}: name them all "
                f"(--held-out {' '.join(dict.fromkeys([*scored, *wanted]))})"
            )
        return set(wanted) != set(scored)
    return True


def _write_config(root: Path, config: AblationConfig) -> None:
    """A new root's fixed settings; a grown root's held-out networks (nothing else rewritten:
    settings it predates keep reading as ``BEFORE_ADDED`` says)."""
    path = root / CONFIG
    data = json.loads(path.read_text()) if path.exists() else config.fixed()
    data["held_out"] = list(config.held_out)
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")


def _key(row: dict) -> tuple[str, str, int, int]:
    """A training's identity: layer, network, data seed (the split), training seed (rows
    written before re-scoring existed trained with the data seed). The training seed also
    names the split scored: the pick seeds (``PICK_SEED`` on) score the ``search`` split, every
    other row the ``rerank`` split."""
    return row["hash"], row["arch"], row["seed"], row.get("train_seed", row["seed"])


def _load_trainings(root: Path) -> dict[tuple[str, str, int, int], dict]:
    done = {}
    path = root / TRAININGS
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                done[_key(row)] = row
    return done


def _wall(root: Path, add: float = 0.0) -> float:
    path = root / "wall_seconds"
    total = (float(path.read_text()) if path.exists() else 0.0) + add
    if add:
        path.write_text(f"{total:.1f}\n")
    return total


# -- the jobs (each runs in a pool process) ----------------------------------------------------

_DATA: dict = {}


def _init(threads: int) -> None:
    torch.set_num_threads(threads)
    quiet_optuna()


def _search_job(root: str, config: AblationConfig, arm: str, seed: int, threads: int) -> str:
    storage = storage_url(Path(root), arm, seed)
    Search.open(study_name(arm, seed), open_storage(storage), config.search_config(arm, seed))
    work(
        WorkerSettings(
            study=study_name(arm, seed), storage=storage, budget=config.budget, threads=threads
        )
    )
    return f"search {arm} seed {seed}: {config.budget} candidates"


def _train_job(
    preset_name: str, graph: dict, arch: str, seed: int, train_seed: int, split: str = "rerank"
) -> dict:
    """One rerank-budget training, scored on ``split`` of the data drawn with ``seed``."""
    preset = get_preset(preset_name)
    if (preset_name, seed) not in _DATA:
        _DATA[(preset_name, seed)] = preset.load_data(seed=seed)
    layer = LayerGraph.from_dict(graph)
    data = _DATA[(preset_name, seed)]
    train = replace(preset.rerank_train, eval_split=split)
    result = train_layer(layer, arch, preset, data, train, train_seed)
    row = {"hash": layer.structural_hash(), "arch": arch, "seed": seed}
    if train_seed != seed:
        row["train_seed"] = train_seed
    if split != "rerank":
        row["split"] = split
    return {**row, "formula": layer.formula(), "result": result_to_dict(result)}


# -- which layers each row trains --------------------------------------------------------------


def _open(root: Path, arm: str, seed: int) -> Search | None:
    path = root / f"{arm}-s{seed}.log"
    if not path.exists():
        return None
    storage = open_storage(storage_url(root, arm, seed), on_stale=requeue)
    try:
        return Search.open(study_name(arm, seed), storage)
    except SearchError:
        return None


def random_samples(config: AblationConfig, seed: int) -> list[LayerGraph]:
    """The first ``samples`` graphs the random-search arm of ``seed`` draws (same generator as
    :meth:`Search.bind`: trial ``n`` draws from ``default_rng([seed, n])``)."""
    return [
        RandomSearch().child([], np.random.default_rng([seed, n]), config.space).graph
        for n in range(config.samples)
    ]


def _recorded(search: Search) -> list:
    return [r for r in search.records() if r.status is not None]


def _accepted(recorded: list) -> list[tuple[float, LayerGraph]]:
    """(mean search accuracy, graph) of the accepted layers among ``recorded``, in order."""
    return [
        (float(np.mean(r.values)), LayerGraph.from_dict(r.attrs["graph"]))
        for r in recorded
        if r.status == "accepted" and r.values
    ]


def plan_rows(config: AblationConfig, records: dict) -> list[tuple[str, str, str, list]]:
    """``(row, kind, over, [(seed, graph), ...])`` for every row whose layers are known now
    (``records``: :func:`_records`)."""
    seeds = range(config.seeds)
    rows = [
        (name, "baseline", "seeds", [(s, KNOWN_LAYERS[name]) for s in seeds])
        for name in config.baselines
    ]
    rows.append(
        ("Random", "random", "samples", [(s, g) for s in seeds for g in random_samples(config, s)])
    )
    with_rejection, best = {"random": []}, {arm: [] for arm in config.arms}
    for seed in seeds:
        for arm in config.arms:
            recorded = records.get((seed, arm), [])
            if len(recorded) < config.budget:
                continue
            accepted = _accepted(recorded)
            if accepted:  # the best layer among the first `budget` candidates
                best[arm].append((seed, max(accepted, key=lambda pair: pair[0])[1]))
            if arm == "random":
                with_rejection[arm] += [(seed, g) for _, g in accepted[: config.samples]]
    rows.append(("Random + rejection", "random", "samples", with_rejection["random"]))
    rows += [(ARM_ROWS[arm], "search", "seeds", best[arm]) for arm in config.arms]
    return rows


# -- re-scoring each arm's best-so-far layers under one protocol --------------------------------

RESCORE_SEED = 100  # first training seed of re-scoring: no search trains with 100..199
PICK_SEED = 200  # first training seed of the rerank pick (scored on the search split)
RERANKED = "N, reranked"  # the checkpoint of an arm's best at N as the rerank pick names it


def rescore_seeds(config: AblationConfig) -> range:
    return range(RESCORE_SEED, RESCORE_SEED + config.rescore_seeds)


def pick_seeds(config: AblationConfig) -> range:
    return range(PICK_SEED, PICK_SEED + config.rerank_seeds)


@dataclass(frozen=True)
class Point:
    """A layer to re-score: an arm's best-so-far layer of seed ``seed`` at a checkpoint (``N/3``
    and ``N`` candidates; ``half CPU``: within half of random search's CPU-seconds at N), or
    BN-ReLU (``arm="bn_relu"``, ``at="reference"``)."""

    seed: int
    arm: str
    at: str
    graph: LayerGraph
    candidates: int  # candidates the arm had spent at the checkpoint
    search_score: float  # the mean search score the arm selected it on


def finalists(recorded: list, top: int) -> list[tuple[float, LayerGraph]]:
    """``(mean search score, graph)`` of the ``top`` best accepted layers of ``recorded``, one
    per distinct score vector (a score-identical repeat is one function trained twice and would
    only take a place); ties keep the order they were found in."""
    seen, out = set(), []
    for r in recorded:
        if r.status == "accepted" and r.values and tuple(r.values) not in seen:
            seen.add(tuple(r.values))
            out.append((float(np.mean(r.values)), LayerGraph.from_dict(r.attrs["graph"])))
    return sorted(out, key=lambda pair: -pair[0])[:top]


def rerank_pick(
    config: AblationConfig, seed: int, arm: str, recorded: list, done: dict
) -> Point | None:
    """The arm's best at N as the paper names it (its top layers retrained, the best mean over
    the anchors and pick seeds on the ``search`` split), once every pick training is done."""
    if not config.rerank_top or len(recorded) < config.budget:
        return None
    anchors = get_preset(config.preset).anchor_names
    scored = []
    for score, graph in finalists(recorded[: config.budget], config.rerank_top):
        keys = [(graph.structural_hash(), a, seed, t) for a in anchors for t in pick_seeds(config)]
        if any(key not in done for key in keys):
            return None
        accuracy = statistics.fmean(done[key]["result"]["accuracy"] for key in keys)
        scored.append((accuracy, score, graph))
    if not scored:
        return None
    _, score, graph = max(scored, key=lambda item: item[0])  # first of equals: higher search
    return Point(seed, arm, RERANKED, graph, config.budget, score)


def _records(config: AblationConfig, root: Path) -> dict[tuple[int, str], list]:
    """Each search's recorded candidates up to the budget, by ``(seed, arm)`` (each study read
    once)."""
    out = {}
    for seed in range(config.seeds):
        for arm in config.arms:
            search = _open(root, arm, seed)
            out[(seed, arm)] = _recorded(search)[: config.budget] if search is not None else []
    return out


def pick_plan(config: AblationConfig, records: dict) -> list[tuple[int, LayerGraph]]:
    """``(seed, graph)`` of every finalist of every search that has reached the budget: what the
    rerank pick trains on the anchors with :func:`pick_seeds`."""
    if not config.rerank_top:
        return []
    return [
        (seed, graph)
        for (seed, _), recorded in records.items()
        if len(recorded) >= config.budget
        for _, graph in finalists(recorded, config.rerank_top)
    ]


def _best_of(recorded: list) -> tuple[float, LayerGraph] | None:
    accepted = _accepted(recorded)
    return max(accepted, key=lambda pair: pair[0]) if accepted else None


def _spent(recorded: list) -> list[float]:
    total, out = 0.0, []
    for r in recorded:
        total += float(r.attrs.get("seconds") or 0.0) + float(r.attrs.get("propose_seconds", 0))
        out.append(total)
    return out


def references(config: AblationConfig) -> tuple[str, ...]:
    """The known layers re-scored beside the arms: BN-ReLU; with the warm-started arm also every
    baseline and warm layer (its target is the best known layer)."""
    names = ("bn_relu",)
    if "warm" in config.arms:
        names += config.baselines + config.warm_layers
    return tuple(dict.fromkeys(names))


def rescore_plan(
    config: AblationConfig, root: Path, done: dict | None = None, records: dict | None = None
) -> list[Point]:
    """Every checkpoint layer the searches have reached so far, with the known layers of
    :func:`references` per seed; with ``done`` (the trainings so far) also each arm's rerank
    pick at N once its pick trainings are all there."""
    records = _records(config, root) if records is None else records
    points = []
    for seed in range(config.seeds):
        for name in references(config):
            points.append(Point(seed, name, "reference", KNOWN_LAYERS[name], 0, math.nan))
        by_arm = {arm: records.get((seed, arm), []) for arm in config.arms}
        random_full = len(by_arm.get("random", [])) >= config.budget
        half = _spent(by_arm["random"])[-1] / 2 if random_full else None
        for arm, recorded in by_arm.items():
            checks = [("N/3", config.budget // 3), ("N", config.budget)]
            if arm != "random" and half is not None and len(recorded) >= config.budget:
                within = sum(1 for spent in _spent(recorded) if spent <= half)
                checks.append(("half CPU", within))
            for at, count in checks:
                if len(recorded) < count or count == 0:
                    continue
                best = _best_of(recorded[:count])
                if best is not None:
                    points.append(Point(seed, arm, at, best[1], count, best[0]))
            picked = rerank_pick(config, seed, arm, recorded, done) if done is not None else None
            if picked is not None:
                points.append(picked)
    return points


@dataclass(frozen=True)
class Rescored:
    """A :class:`Point` with its accuracies under the common protocol: arch -> one accuracy per
    re-scoring seed (the rerank budget, the ``rerank`` split of the point's seed)."""

    point: Point
    cells: dict[str, list[float]]

    def mean(self, archs: Iterable[str]) -> float:
        """Over ``archs`` and seeds; NaN until every one of ``archs`` has a training (a mean
        over some of them would compare unlike things)."""
        cells = [self.cells.get(a, []) for a in archs]
        if not cells or not all(cells):
            return float("nan")
        return statistics.fmean(v for values in cells for v in values)

    def seed_std(self, archs: Iterable[str]) -> float:
        """Spread over the re-scoring seeds of the mean over ``archs``: the sample std, as the
        champion gate takes BN-ReLU's (NaN below two seeds trained on every arch)."""
        archs = list(archs)
        n = min((len(self.cells.get(a, [])) for a in archs), default=0)
        if n < 2:
            return float("nan")
        return statistics.stdev(statistics.fmean(self.cells[a][i] for a in archs) for i in range(n))


def rescored(
    config: AblationConfig, root: Path, done: dict, records: dict | None = None
) -> list[Rescored]:
    out = []
    for point in rescore_plan(config, root, done, records):
        cells = {}
        for arch in config.archs:
            rows = [
                done.get((point.graph.structural_hash(), arch, point.seed, t))
                for t in rescore_seeds(config)
            ]
            cells[arch] = [r["result"]["accuracy"] for r in rows if r is not None]
        out.append(Rescored(point, cells))
    return out


# -- running -----------------------------------------------------------------------------------


def _unfinished(config: AblationConfig, root: Path) -> list[tuple[str, int]]:
    """The (arm, seed) searches short of the budget, longest first. When there are any, the
    root grows, so every study already in it must be one this code may add to (same preset
    revision and fingerprint version: its rows are compared with the new ones), else
    :class:`SearchError` before anything is written. A finished root of older code can still be
    collected and re-scored."""
    opened = {  # each study read once: a JournalFile is replayed whole on every open
        (arm, seed): _open(root, arm, seed)
        for seed in range(config.seeds)
        for arm in reversed(config.arms)  # evolution first: the longest searches
    }
    searches = [
        key
        for key, search in opened.items()
        if search is None or len(_recorded(search)) < config.budget
    ]
    if searches:
        for path in sorted(root.glob("*-s*.log")):
            arm, _, seed = path.stem.rpartition("-s")
            if arm in ARMS and seed.isdigit():
                key = (arm, int(seed))
                search = opened[key] if key in opened else _open(root, *key)
                if search is not None:
                    search.refuse_stale()
    for key in searches:
        if opened[key] is not None:
            recover(opened[key].study)  # trials a killed sitting left RUNNING are queued again
    return searches


def run_ablation(
    config: AblationConfig,
    root: Path,
    *,
    jobs: int = 1,
    echo: Callable[[str], None] = print,
) -> AblationResult:
    """Run (or resume) the searches and trainings, then collect the result."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    root = Path(root)
    write = _check_config(root, config)
    searches = _unfinished(config, root)  # refused before anything is written
    if write:
        _write_config(root, config)
    mark = time.perf_counter()  # wall time is added every WALL_EVERY s: a killed sitting counts
    threads = max(1, (os.cpu_count() or 1) // jobs)
    log = root / TRAININGS
    done = _load_trainings(root)
    context = get_context("spawn")  # torch and fork do not mix
    try:
        with ProcessPoolExecutor(
            jobs, mp_context=context, initializer=_init, initargs=(threads,)
        ) as pool:
            pending = {}
            for arm, seed in searches:
                future = pool.submit(_search_job, str(root), config, arm, seed, threads)
                pending[future] = ("search", arm, seed)
            queued: set = set()

            def queue_trainings() -> None:
                everyone, records = config.archs, _records(config, root)
                wanted = [
                    (seed, graph, seed, everyone, "rerank")
                    for _, _, _, layers in plan_rows(config, records)
                    for seed, graph in layers
                ]
                wanted += [
                    (point.seed, point.graph, train_seed, everyone, "rerank")
                    for point in rescore_plan(config, root, done, records)
                    for train_seed in rescore_seeds(config)
                ]
                anchors = get_preset(config.preset).anchor_names
                wanted += [
                    (seed, graph, train_seed, anchors, "search")
                    for seed, graph in pick_plan(config, records)
                    for train_seed in pick_seeds(config)
                ]
                for seed, graph, train_seed, archs, split in wanted:
                    for arch in archs:
                        key = (graph.structural_hash(), arch, seed, train_seed)
                        if key in done or key in queued:
                            continue
                        queued.add(key)
                        future = pool.submit(
                            _train_job,
                            config.preset,
                            graph.to_dict(),
                            arch,
                            seed,
                            train_seed,
                            split,
                        )
                        pending[future] = ("train", graph.formula(), arch, seed)

            queue_trainings()
            while pending:
                finished, _ = wait(pending, timeout=WALL_EVERY, return_when=FIRST_COMPLETED)
                now = time.perf_counter()
                _wall(root, now - mark)
                mark = now
                finished_what = [pending[future] for future in finished]
                for future in finished:
                    what = pending.pop(future)
                    if future.exception() is not None:  # a bug: stop, loudly, queue dropped
                        for other in pending:
                            other.cancel()
                        raise future.exception()
                    value = future.result()
                    if what[0] == "search":
                        echo(value)
                        queue_trainings()  # its best and accepted layers are now known
                        continue
                    done[_key(value)] = value
                    with log.open("a") as f:
                        f.write(json.dumps(value) + "\n")
                    r, formula = value["result"], value["formula"][:40]
                    echo(
                        f"trained {formula:40} {value['arch']:16} seed {value['seed']}: "
                        f"{r['accuracy']:.2%} in {r['seconds']:.0f} s"
                    )
                trained = any(w[0] == "train" for w in finished_what)
                if trained and not any(w[0] == "train" for w in pending.values()):
                    queue_trainings()  # finished picks name layers to re-score
    finally:
        _wall(root, time.perf_counter() - mark)
    return collect(config, root)


def collect(config: AblationConfig, root: Path) -> AblationResult:
    """The table and curves from what ``root`` holds (missing trainings leave cells short)."""
    root = Path(root)
    done, records = _load_trainings(root), _records(config, root)
    rows = []
    for name, kind, over, layers in plan_rows(config, records):
        cells: dict[str, list[float]] = {arch: [] for arch in config.archs}
        for seed, graph in layers:
            for arch in config.archs:
                row = done.get((graph.structural_hash(), arch, seed, seed))
                if row is not None:
                    cells[arch].append(row["result"]["accuracy"])
        formulas = list(dict.fromkeys(g.formula() for _, g in layers))
        rows.append(Row(display_name(name), kind, cells, over, formulas))
    curves = []
    for seed in range(config.seeds):
        for arm in config.arms:
            search = _open(root, arm, seed)
            if search is not None:
                curves.append(_curve_of(search, arm, seed, config.budget))
    return AblationResult(config, rows, curves, _wall(root), rescored(config, root, done, records))


def _curve_of(search: Search, arm: str, seed: int, budget: int) -> Curve:
    best, current, accepted, rejected, duplicates = [], float("nan"), 0, 0, 0
    recorded = _recorded(search)[:budget]
    spent = _spent(recorded)
    seconds = spent[-1] if spent else 0.0
    for r in recorded:
        rejected += r.status == "rejected"
        duplicates += r.status == "duplicate"
        if r.state == "COMPLETE" and r.values:
            accepted += r.status == "accepted"
            mean = float(np.mean(r.values))
            current = mean if not np.isfinite(current) else max(current, mean)
        best.append(current)
    return Curve(arm, seed, best, accepted, rejected, duplicates, seconds, spent)


_NAMES = {
    "bn_relu": "BN-ReLU",
    "bn_silu": "BN-SiLU",
    "gn_relu": "GN-ReLU",
    "evonorm_b0": "EvoNorm-B0",
    "evonorm_s0": "EvoNorm-S0",
}


def display_name(name: str) -> str:
    return _NAMES.get(name, name)


def config_from(**kwargs) -> AblationConfig:
    """An :class:`AblationConfig` from keyword arguments, ignoring ``None`` values."""
    known = {f.name for f in fields(AblationConfig)}
    return AblationConfig(**{k: v for k, v in kwargs.items() if k in known and v is not None})
