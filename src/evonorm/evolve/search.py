"""A search = one multi-objective Optuna study holding its population.

- one ``maximize`` direction per anchor architecture of the preset, named after it;
- the search's settings (:class:`SearchConfig`) in the study's user attributes: re-opening a study
  with other settings is an error naming them, so a resumed search is the same search;
- every candidate is one trial whose user attributes hold the candidate (:class:`Candidate`
  .attrs) and, once recorded, its outcome: ``status`` (accepted | rejected | duplicate | error),
  ``stage``, ``reason``, ``fingerprint``, ``seconds``, ``duplicate_of``;
- states: accepted and duplicates of accepted layers COMPLETE with one score per anchor;
  rejected PRUNED; errors FAIL; a candidate whose worker died FAILs *without* a ``status`` and is
  re-queued (WAITING) with ``retry_of`` (:mod:`evonorm.evolve.recovery`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import time
from dataclasses import asdict, dataclass, fields

import numpy as np
import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from evonorm.evolve import optuna_internals as internals
from evonorm.evolve.candidate import Candidate, Outcome, Status
from evonorm.evolve.selection import (
    STRATEGIES,
    Evolution,
    Member,
    RandomSearch,
    near_miss_child,
    structure,
)
from evonorm.evolve.storage import quiet_optuna
from evonorm.proxy.presets import PRESETS, get_preset
from evonorm.reject.fingerprint import FINGERPRINT_VERSION, fingerprint, scale_free_digest
from evonorm.reject.protocol import json_safe
from evonorm.space import KNOWN_LAYERS, SPACES, GraphError, LayerGraph
from evonorm.space.mutations import DEFAULT_MIX, check_mix

__all__ = ["Census", "Record", "Search", "SearchConfig", "SearchError", "quiet_optuna"]

CONFIG_ATTR = "evonorm.config"
REFERENCES_ATTR = "evonorm.quality_references"
RECORDED = tuple(Status)
REVISION_KEY = "preset_revision"
FINGERPRINT_KEY = "fingerprint_version"
REGISTRY_URI = re.compile(r"models:/[\w.-]+(@[\w-]+|/\d+)")
NEAR_MISS_STREAM = 1  # third seed word of the near-miss draws' generator


def settings_diff(stored: dict, asked: dict) -> str:
    """``"key: stored X, asked Y"`` for every setting of ``asked`` that ``stored`` differs on."""
    changed = (k for k, v in asked.items() if stored.get(k) != v)
    return ", ".join(f"{k}: stored {stored.get(k)!r}, asked {asked[k]!r}" for k in changed)


class SearchError(ValueError):
    """A search that cannot be opened as asked (e.g. resumed with other settings)."""


def _fingerprint_version(stored: dict) -> int:
    """The fingerprint version of a study's stored settings; none stored: made before versions
    were, i.e. version 1."""
    return stored.get(FINGERPRINT_KEY, 1)


def _refuse_stale(name: str, stored: dict) -> None:
    """Raise :class:`SearchError` unless a study's stored settings were scored under today's
    preset revision and fingerprinted by today's fingerprint: new candidates would not compare
    with its old ones (scores; duplicates, rejections and distinct-children keys)."""
    preset = stored.get("preset", SearchConfig.preset)
    if preset not in PRESETS:
        raise SearchError(
            f"search {name!r} was scored under preset {preset!r}, which this code does not "
            "know: resume it with the evonorm release that started it"
        )
    revision = PRESETS[preset].revision
    if stored.get(REVISION_KEY) != revision:
        was = stored.get(REVISION_KEY) or "not recorded"
        raise SearchError(
            f"search {name!r} was scored under preset {preset!r} revision {was}; the preset is "
            f"now revision {revision} and its scores do not compare: start a new search (another "
            "study name, storage or ablation root)"
        )
    version = _fingerprint_version(stored)
    if version != FINGERPRINT_VERSION:
        raise SearchError(
            f"search {name!r} was fingerprinted by version {version} of evonorm's layer "
            f"fingerprint; this code fingerprints by version {FINGERPRINT_VERSION}, so its "
            "duplicate checks and rejections would not match the study's: resume it with the "
            "evonorm release that started it, or start a new search (another study name, "
            "storage or ablation root)"
        )


@dataclass(frozen=True)
class SearchConfig:
    """Everything that defines a search; stored in the study and checked on resume."""

    preset: str = "local"
    space: str = "B"
    strategy: str = "evolution"
    population: int = 16
    tournament: int | float = 4
    selection: str = "pareto"
    seed: int = 0
    warmup: int | None = None  # evolution: members before mutation starts (None: population)
    novel: bool = False  # redraw children whose structure the search already evaluated
    mutations: dict[str, float] | None = None  # evolution's mutation mix (None: the paper's)
    seed_layers: tuple[str, ...] = ()  # known layers proposed first (a warm start)
    keep_seeds: bool = False  # evolution: accepted seed layers never age out of the population
    distinct: bool = False  # children compute a function no earlier candidate computed
    up_to_scale: bool = False  # distinct: ... not even up to a per-channel factor (sign too)
    repeats: int = 1  # training seeds of an accepted layer; its scores are their mean
    near_misses: float = 0.0  # evolution: share of children bred from rejected normalisers
    seed_graphs: dict[str, dict] = dataclasses.field(default_factory=dict)  # registry URI ->
    # the graph it named when the search was created (tracking resolves them)

    def __post_init__(self) -> None:
        get_preset(self.preset)  # raises with the known names
        if self.space not in SPACES:
            raise ValueError(f"space must be one of {sorted(SPACES)}, got {self.space!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {sorted(STRATEGIES)}, got {self.strategy!r}")
        object.__setattr__(self, "seed_layers", tuple(self.seed_layers))
        object.__setattr__(self, "seed_graphs", dict(self.seed_graphs))
        for name in self.seed_layers:
            if name.startswith("models:/"):
                if not REGISTRY_URI.fullmatch(name):
                    raise ValueError(
                        f"seed layer {name!r} is not a registry URI: models:/NAME@ALIAS or "
                        "models:/NAME/VERSION"
                    )
            elif name not in KNOWN_LAYERS:
                raise ValueError(
                    f"unknown seed layer {name!r}; known: {', '.join(KNOWN_LAYERS)}, or a "
                    "registry URI models:/NAME@ALIAS"
                )
            graph = self.seed_graph(name)
            if graph is not None and self.space == "S" and graph.uses_batch:
                raise ValueError(f"seed layer {name!r} uses batch statistics: not in space S")
        stray = sorted(set(self.seed_graphs) - set(self.seed_layers))
        if stray:
            raise ValueError(f"seed graphs for URIs that are not seed layers: {stray}")
        if len(set(self.seed_layers)) != len(self.seed_layers):
            raise ValueError(f"seed layers repeat: {', '.join(self.seed_layers)}")
        repeats = self.repeats
        if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 5:
            raise ValueError(f"repeats must be a whole number in [1, 5], got {repeats!r}")
        near = self.near_misses
        if isinstance(near, bool) or not isinstance(near, int | float) or not 0 <= near <= 1:
            raise ValueError(f"near_misses must be a probability in [0, 1], got {near!r}")
        if near and self.strategy != "evolution":
            raise ValueError("near_misses apply to evolution only, not to random search")
        object.__setattr__(self, "near_misses", float(near))
        if not isinstance(self.up_to_scale, bool):
            raise ValueError(f"up_to_scale must be true or false, got {self.up_to_scale!r}")
        if not isinstance(self.keep_seeds, bool):
            raise ValueError(f"keep_seeds must be true or false, got {self.keep_seeds!r}")
        if self.keep_seeds and not self.seed_layers:
            raise ValueError("keep_seeds keeps seed layers in the population: name seed layers")
        if self.keep_seeds and self.strategy != "evolution":
            raise ValueError("keep_seeds applies to evolution only, not to random search")
        if self.up_to_scale and not self.distinct:
            raise ValueError("up_to_scale refines distinct: set distinct as well")
        if self.mutations is not None:
            if self.strategy != "evolution":
                raise ValueError("mutations apply to evolution only, not to random search")
            mix = check_mix(self.mutations)
            object.__setattr__(self, "mutations", None if mix == DEFAULT_MIX else mix)
        self.make_strategy()  # validates population / tournament / selection

    def seed_graph(self, name: str) -> LayerGraph | None:
        """The graph of seed layer ``name``: a known layer's, or the one a registry URI named
        (None while the URI is not resolved)."""
        if name in KNOWN_LAYERS:
            return KNOWN_LAYERS[name]
        if name not in self.seed_graphs:
            return None
        try:
            return LayerGraph.from_dict(self.seed_graphs[name])
        except GraphError as error:
            raise ValueError(f"seed layer {name!r}: {error}") from None

    @property
    def unresolved(self) -> tuple[str, ...]:
        """Registry URIs among the seed layers whose graphs are not here yet."""
        return tuple(n for n in self.seed_layers if self.seed_graph(n) is None)

    def make_strategy(self) -> Evolution | RandomSearch:
        if self.strategy == "random":
            return RandomSearch()
        return Evolution(
            self.population,
            self.tournament,
            self.selection,
            self.warmup,
            self.mutations,
            self.keep_seeds,
        )

    @property
    def anchors(self) -> tuple[str, ...]:
        return get_preset(self.preset).anchor_names

    @property
    def preset_revision(self) -> str:
        """The preset's settings hash: scores taken under two revisions never compare."""
        return get_preset(self.preset).revision

    def to_attrs(self) -> dict:
        return {
            **asdict(self),
            REVISION_KEY: self.preset_revision,
            FINGERPRINT_KEY: FINGERPRINT_VERSION,
        }

    @classmethod
    def from_attrs(cls, attrs: dict) -> SearchConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in attrs.items() if k in known})


@dataclass(frozen=True)
class Record:
    """A plain view of one trial for readers outside this package (tracking, reports)."""

    number: int
    state: str  # COMPLETE | PRUNED | FAIL | RUNNING | WAITING
    values: tuple[float, ...] | None
    attrs: dict
    completed: dt.datetime | None

    @property
    def status(self) -> str | None:
        """accepted | rejected | duplicate | error once recorded; None while pending or lost."""
        return self.attrs.get("status")


@dataclass(frozen=True)
class Census:
    """Counts over a search's trials. ``done`` counts candidates with a recorded outcome."""

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0  # same structure or function as an evaluated layer: its result reused
    errors: int = 0
    lost: int = 0  # trials of dead workers (their candidates were re-queued)
    running: int = 0
    waiting: int = 0
    best: float = math.nan  # best average score so far

    @property
    def done(self) -> int:
        return self.accepted + self.rejected + self.duplicates + self.errors


class Search:
    """A search's study with the operations the steps need."""

    def __init__(self, study: optuna.Study, config: SearchConfig) -> None:
        self.study = study
        self.config = config
        self.strategy = config.make_strategy()

    @property
    def name(self) -> str:
        return self.study.study_name

    @classmethod
    def open(cls, name: str, storage: BaseStorage, config: SearchConfig | None = None) -> Search:
        """Create the study for ``config``, or load it; ``config=None`` loads an existing one."""
        quiet_optuna()
        if config is None:
            try:
                study = optuna.load_study(study_name=name, storage=storage)
            except KeyError:
                raise SearchError(
                    f"no search named {name!r} in this storage: start it with evonorm evolve "
                    f"--study {name} …"
                ) from None
            stored = study.user_attrs.get(CONFIG_ATTR)
            if stored is None:
                raise SearchError(f"study {name!r} was not created by evonorm")
            return cls(study, SearchConfig.from_attrs(stored))
        if config.unresolved:
            raise SearchError(
                f"seed layers {', '.join(config.unresolved)} are registry URIs not read yet: "
                "evonorm evolve and the pipeline read them from the tracking server"
            )
        try:  # loaded first: a resume that is refused must not write (create_study appends a
            study = optuna.load_study(study_name=name, storage=storage)  # journal entry)
        except KeyError:
            study = optuna.create_study(
                study_name=name,
                storage=storage,
                directions=["maximize"] * len(config.anchors),
                load_if_exists=True,  # another worker may create it first
            )
        stored = study.user_attrs.get(CONFIG_ATTR)
        if stored is None:
            study.set_metric_names(list(config.anchors))
            study.set_user_attr(CONFIG_ATTR, config.to_attrs())
            return cls(study, config)
        _refuse_stale(name, stored)
        kept = SearchConfig.from_attrs(stored)  # a field added later reads as its default
        if kept.seed_layers == config.seed_layers:  # the warm start read its registry URIs
            config = dataclasses.replace(config, seed_graphs=kept.seed_graphs)  # when it began:
            # an alias that moved since does not change this search
        if kept != config:
            diff = settings_diff(kept.to_attrs(), config.to_attrs())
            raise SearchError(
                f"search {name!r} exists with other settings ({diff}); resume it with the same "
                "settings or pick another --study name"
            )
        return cls(study, config)

    def stored_attrs(self) -> dict:
        """The settings with the preset revision and fingerprint version the study was made
        under (``config.to_attrs()`` gives today's); a study that stores no version is 1."""
        stored = self.study.user_attrs.get(CONFIG_ATTR, {})
        return {
            **self.config.to_attrs(),
            REVISION_KEY: stored.get(REVISION_KEY),
            FINGERPRINT_KEY: _fingerprint_version(stored),
        }

    def refuse_stale(self) -> None:
        """Raise :class:`SearchError` if this code must not add candidates to the study: it was
        scored under another preset revision or fingerprinted by another fingerprint version.
        Loading a study to read it needs no such check; every writer makes it."""
        _refuse_stale(self.name, self.study.user_attrs[CONFIG_ATTR])

    # -- reading -----------------------------------------------------------------------------

    def trials(self, states: tuple[TrialState, ...] | None = None) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False, states=states)

    def records(self) -> list[Record]:
        """Every trial as a :class:`Record`, by trial number."""
        return [
            Record(
                t.number,
                t.state.name,
                tuple(t.values) if t.values else None,
                dict(t.user_attrs),
                t.datetime_complete,
            )
            for t in sorted(self.trials(), key=_number)
        ]

    def census(self) -> Census:
        counts = dict.fromkeys(("accepted", "rejected", "duplicates", "errors", "lost"), 0)
        running = waiting = 0
        best = math.nan
        for t in self.trials():
            status = t.user_attrs.get("status")
            if t.state == TrialState.RUNNING:
                running += 1
            elif t.state == TrialState.WAITING:
                waiting += 1
            elif t.state == TrialState.FAIL and status is None:
                counts["lost"] += 1
            elif status in RECORDED:
                key = {"duplicate": "duplicates", "error": "errors"}.get(status, status)
                counts[key] += 1
            if t.state == TrialState.COMPLETE and t.values:
                avg = float(np.mean(t.values))
                best = avg if math.isnan(best) else max(best, avg)
        return Census(**counts, running=running, waiting=waiting, best=best)

    def population(self) -> list[Member]:
        """Accepted layers (COMPLETE trials), newest first by completion time. A ``distinct``
        search leaves duplicates out: each function is a member once, at its first
        evaluation, so copies of one good layer cannot crowd the tournament."""
        done = [t for t in self.trials((TrialState.COMPLETE,)) if "graph" in t.user_attrs]
        if self.config.distinct:
            done = [t for t in done if t.user_attrs.get("status") != Status.DUPLICATE]
        done.sort(key=lambda t: (t.datetime_complete, t.number), reverse=True)
        return [
            Member(
                t.number,
                tuple(t.values),
                Candidate.from_attrs(t.user_attrs).graph,
                int(t.user_attrs.get("generation", 0)),
                seed=t.user_attrs.get("origin") == "seed",
            )
            for t in done
        ]

    def near_misses(self) -> list[Member]:
        """The newest ``population`` candidates the chain rejected as normalisers without an
        activation (:attr:`~evonorm.reject.fingerprint.Fingerprint.normaliser`), newest first."""
        rejected = [
            t
            for t in self.trials((TrialState.PRUNED,))
            if t.user_attrs.get("status") == Status.REJECTED
            and (t.user_attrs.get("metrics") or {}).get("normaliser")
        ]
        rejected.sort(key=_number, reverse=True)
        return [
            Member(
                t.number, (), Candidate.from_attrs(t.user_attrs).graph, t.user_attrs["generation"]
            )
            for t in rejected[: self.config.population]
        ]

    def seen(self) -> tuple[dict[str, int], dict[str, int]]:
        """Structural hashes and fingerprints of recorded (not errored) candidates → the trial
        that first evaluated each, for the rejection chain's duplicate checks."""
        hashes: dict[str, int] = {}
        prints: dict[str, int] = {}
        for t in sorted(self.trials((TrialState.COMPLETE, TrialState.PRUNED)), key=_number):
            if t.user_attrs.get("status") in (Status.ACCEPTED, Status.REJECTED):
                hashes.setdefault(t.user_attrs.get("hash", ""), t.number)
                if t.user_attrs.get("fingerprint"):
                    prints.setdefault(t.user_attrs["fingerprint"], t.number)
        hashes.pop("", None)
        return hashes, prints

    def proposed(self) -> frozenset[str]:
        """Structural hashes of every candidate bound so far (pending ones included)."""
        return frozenset(t.user_attrs["hash"] for t in self.trials() if "hash" in t.user_attrs)

    def proposed_functions(self) -> frozenset[str]:
        """The function keys (:meth:`function_key`) of every candidate bound so far: the one
        kept in the trial (``function`` for ``up_to_scale``, else the chain's recorded
        fingerprint), else computed here (pending candidates, structural duplicates)."""
        kept = "function" if self.config.up_to_scale else "fingerprint"
        keys = set()
        for t in self.trials():
            if "cid" not in t.user_attrs:
                continue
            known = t.user_attrs.get(kept)
            keys.add(known or self.function_key(Candidate.from_attrs(t.user_attrs).graph))
        return frozenset(keys)

    def function_key(self, graph: LayerGraph) -> str:
        """What a ``distinct`` search counts as one function: the fingerprint, or with
        ``up_to_scale`` the fingerprint up to a per-channel factor."""
        return function_of(graph, up_to_scale=self.config.up_to_scale)

    def quality_references(self) -> dict[str, float]:
        return dict(self.study.user_attrs.get(REFERENCES_ATTR, {}))

    def save_quality_references(self, references: dict[str, float]) -> None:
        if references and references != self.quality_references():
            self.study.set_user_attr(REFERENCES_ATTR, dict(references))

    def notes(self, prefix: str) -> dict:
        """The study attributes under ``prefix`` (results kept after the search), key ->
        value."""
        return {k: v for k, v in self.study.user_attrs.items() if k.startswith(prefix)}

    def save_note(self, key: str, value) -> None:
        """Keep a JSON-safe ``value`` in the study under ``key`` (overwrites)."""
        self.study.set_user_attr(key, json_safe(value))

    # -- writing -----------------------------------------------------------------------------

    def claim(self, owner: dict) -> optuna.Trial:
        """A RUNNING trial for ``owner``: a queued (re-queued) one if any is waiting, popped
        atomically, else a new trial created *with* its owner stamp — so a worker killed right
        after claiming never leaves an unowned trial behind. (``study.ask`` does the same in two
        steps, create then stamp.)"""
        trial_id = internals.pop_waiting_trial(self.study)
        if trial_id is None:
            template = optuna.trial.create_trial(
                state=TrialState.RUNNING, user_attrs={"owner": owner}
            )
            trial_id = internals.create_trial(self.study, template)
        trial = optuna.Trial(self.study, trial_id)
        if trial.user_attrs.get("owner") != owner:
            trial.set_user_attr("owner", owner)
        return trial

    def bind(self, trial: optuna.Trial, owner: dict) -> Candidate:
        """The candidate ``trial`` evaluates: the queued one it carries (a re-queued candidate)
        or a new child of the current population, drawn with a generator seeded by the search
        seed and the trial number."""
        if trial.user_attrs.get("owner") != owner:
            trial.set_user_attr("owner", owner)
        if "cid" in trial.user_attrs:
            return Candidate.from_attrs(trial.user_attrs, trial.number)
        candidate, start = self._next_seed_layer(), time.process_time()
        if candidate is None:
            rng = np.random.default_rng([self.config.seed, trial.number])
            avoid, key = frozenset(), structure
            if self.config.distinct:
                avoid, key = self.proposed_functions(), self.function_key
            elif self.config.novel:
                avoid = self.proposed()
            if self.config.near_misses:  # its own stream: without a near miss to breed from,
                # the child and the random population are those of near_misses = 0
                near = np.random.default_rng([self.config.seed, trial.number, NEAR_MISS_STREAM])
                if near.random() < self.config.near_misses:
                    candidate = near_miss_child(
                        self.near_misses(), near, self.config.space, avoid, key
                    )
            if candidate is None:
                candidate = self.strategy.child(
                    self.population(), rng, self.config.space, avoid, key
                )
        if self.config.up_to_scale:  # kept, so later proposals need not recompute it
            trial.set_user_attr("function", self.function_key(candidate.graph))
        if self.config.distinct:  # drawing against fingerprints costs CPU: count it
            trial.set_user_attr("propose_seconds", round(time.process_time() - start, 3))
        attrs = candidate.attrs()
        cid = attrs.pop("cid")
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        trial.set_user_attr("cid", cid)  # last: a trial with a cid holds its whole candidate
        return dataclasses.replace(candidate, trial=trial.number)

    def _next_seed_layer(self) -> Candidate | None:
        """The first seed layer no trial carries yet (a warm start), else None."""
        if not self.config.seed_layers:
            return None
        carried = [t.user_attrs.get("graph") for t in self.trials() if "cid" in t.user_attrs]
        for name in self.config.seed_layers:
            graph = self.config.seed_graph(name)
            if graph.to_dict() not in carried:
                return Candidate(graph, self.config.space, generation=0, origin="seed")
        return None

    def record(self, outcome: Outcome) -> FrozenTrial:
        """Tell the study ``outcome``: attributes first (a finished trial is read-only)."""
        storage = internals.storage_of(self.study)
        trial_id = internals.trial_id(self.study, outcome.trial)
        attrs = {
            "status": outcome.status,
            "stage": outcome.stage,
            "reason": outcome.reason,
            "fingerprint": outcome.fingerprint,
            "seconds": round(outcome.seconds, 3),
            "duplicate_of": outcome.duplicate_of,
            "metrics": json_safe(outcome.metrics),
        }
        values = None
        state = {Status.ACCEPTED: TrialState.COMPLETE, Status.REJECTED: TrialState.PRUNED}.get(
            outcome.status, TrialState.FAIL
        )
        if outcome.status == Status.ACCEPTED:
            values = [outcome.scores[a] for a in self.config.anchors]
        elif outcome.status == Status.DUPLICATE:
            original = storage.get_trial(internals.trial_id(self.study, outcome.duplicate_of))
            if original.state == TrialState.COMPLETE:
                state, values = TrialState.COMPLETE, list(original.values)
            else:
                state = TrialState.PRUNED
                attrs["stage"] = original.user_attrs.get("stage", outcome.stage)
                attrs["reason"] = (
                    f"{outcome.reason} (rejected at {attrs['stage']}: "
                    f"{original.user_attrs.get('reason', '')})"
                )
        for key, value in attrs.items():
            storage.set_trial_user_attr(trial_id, key, value)
        return self.study.tell(outcome.trial, values=values, state=state)


def _number(t: FrozenTrial) -> int:
    return t.number


def function_of(graph, up_to_scale: bool = False) -> str:
    """The graph's functional fingerprint (the rejection chain's), or with ``up_to_scale`` its
    :func:`~evonorm.reject.fingerprint.scale_free_digest`; its structural hash when neither can
    be computed (the chain then rejects the layer itself)."""
    try:
        return scale_free_digest(graph) if up_to_scale else fingerprint(graph).digest
    except Exception:  # a bad candidate is the chain's to reject, not the generator's
        return structure(graph)
