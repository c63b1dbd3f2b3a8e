"""MLflow tracking of a search: one parent run per search, one child run per candidate.

- parent run (tags ``evonorm.study``, ``evonorm.role=search``): the search settings as params;
  the census as metrics; artifacts ``pareto_front.png``, ``best_so_far.png``,
  ``rejection_funnel.png``, refreshed as the search runs;
- child run per recorded candidate (tag ``evonorm.trial``): params formula, hash, parent, space,
  generation, origin, cid; metrics accuracy per architecture, ``accepted``, ``seconds`` and the
  rejection chain's numbers; tags status, stage and reason; artifacts ``graph.json`` and
  ``graph.png``.

Logging is idempotent: :meth:`SearchTracker.sync` logs the recorded trials that have no
finished child run yet, so a resumed search continues its parent run and never logs a candidate
twice. A child run left unfinished (the tracking server went away while it was logged) is
completed by the next ``sync``, in the same run. Only the process that calls ``sync`` talks to
MLflow (the launcher), so a SQLite tracking store has one writer.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from mlflow.entities import Metric, Param, RunStatus
from mlflow.tracking import MlflowClient

from evonorm.evolve import Record, Search
from evonorm.space import LayerGraph
from evonorm.tracking.plots import funnel, graph_figure, search_figures
from evonorm.tracking.reach import make_store_folder

__all__ = ["DEFAULT_EXPERIMENT", "SearchTracker", "default_tracking_uri", "experiment_id"]

DEFAULT_EXPERIMENT = "evonorm"
_PARAM_LIMIT = 6000  # MLflow's maximum param value length


def experiment_id(client: MlflowClient, name: str, artifact_location: str | None = None) -> str:
    """The id of experiment ``name``, created if missing. With a SQLite store, artifacts go to
    ``mlartifacts/`` beside the database (MLflow's default would be ``./mlruns`` under
    whatever folder the process runs in)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    uri = client.tracking_uri
    if artifact_location is None and uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        artifact_location = (db.parent / "mlartifacts").resolve().as_uri()
    return client.create_experiment(name, artifact_location=artifact_location)


def default_tracking_uri(run_dir: str | Path) -> str:
    """The local default: a SQLite store in the run folder (made when the store is first
    written, see :func:`~evonorm.tracking.reach.make_store_folder`)."""
    return f"sqlite:///{Path(run_dir).resolve() / 'mlflow.db'}"


class SearchTracker:
    """Mirrors a search's trials into MLflow runs."""

    def __init__(
        self,
        search: Search,
        tracking_uri: str,
        *,
        experiment: str = DEFAULT_EXPERIMENT,
        artifact_location: str | None = None,
        plot_every: int = 10,
    ) -> None:
        self.search = search
        self.client = MlflowClient(make_store_folder(tracking_uri))
        self.plot_every = plot_every
        self.experiment_id = experiment_id(self.client, experiment, artifact_location)
        self.parent_id = self._parent_run()
        self._logged, self._partial = self._logged_trials()
        self._since_plots = 0

    # -- runs --------------------------------------------------------------------------------

    def _find(self, role: str, trial: int | None = None) -> list:
        query = f"tags.`evonorm.study` = '{self.search.name}' and tags.`evonorm.role` = '{role}'"
        if trial is not None:
            query += f" and tags.`evonorm.trial` = '{trial}'"
        return self.client.search_runs([self.experiment_id], filter_string=query, max_results=50000)

    def _parent_run(self) -> str:
        existing = self._find("search")
        if existing:
            run = existing[0]
            self.client.update_run(run.info.run_id, status="RUNNING")
        else:
            run = self.client.create_run(
                self.experiment_id,
                run_name=self.search.name,
                tags={"evonorm.study": self.search.name, "evonorm.role": "search"},
            )
        if not run.data.params:  # new, or made by a start whose next call failed
            config = self.search.stored_attrs()
            self.client.log_batch(
                run.info.run_id, params=[Param(k, str(v)) for k, v in sorted(config.items())]
            )
        return run.info.run_id

    def _one_per_trial(self, runs: list) -> dict[int, object]:
        """Each trial's run, its twins deleted. A create_run whose answer was lost (a server
        going down, a signal mid-request, MLflow's own retry of the POST) made a run the tracker
        never heard of; it would stay RUNNING beside the one the tracker finished."""
        kept = {}
        for run in sorted(runs, key=lambda r: r.info.status != "FINISHED"):  # finished first
            number = int(run.data.tags["evonorm.trial"])
            if number in kept:
                self.client.delete_run(run.info.run_id)
            else:
                kept[number] = run
        return kept

    def _logged_trials(self) -> tuple[set[int], dict[int, str]]:
        """Trials with a finished child run, and unfinished child runs by trial."""
        runs = self._one_per_trial(self._find("candidate"))
        logged = {n for n, run in runs.items() if run.info.status == "FINISHED"}
        return logged, {n: run.info.run_id for n, run in runs.items() if n not in logged}

    def sync(self, *, plots: bool | None = None) -> int:
        """Log every recorded trial without a child run; refresh the search plots every
        ``plot_every`` new candidates (or when ``plots`` is True). Returns the number logged."""
        new = [r for r in self.search.records() if r.status and r.number not in self._logged]
        for trial in new:
            self._log_candidate(trial)
        self._since_plots += len(new)
        if plots or (plots is None and self._since_plots >= self.plot_every):
            self.log_search_artifacts()
        return len(new)

    def _log_candidate(self, trial: Record) -> None:
        attrs = trial.attrs
        anchors = self.search.config.anchors
        tags = {
            "mlflow.parentRunId": self.parent_id,
            "evonorm.study": self.search.name,
            "evonorm.role": "candidate",
            "evonorm.trial": str(trial.number),
            "evonorm.status": attrs["status"],
            "evonorm.stage": attrs.get("stage", ""),
            "evonorm.reason": attrs.get("reason", "")[:5000],
        }
        run_id = self._partial.get(trial.number)
        if run_id is None:  # a failed earlier try may have made it without the tracker knowing
            found = self._one_per_trial(self._find("candidate", trial.number))
            run_id = found[trial.number].info.run_id if found else None
        if run_id is None:
            name = f"{self.search.name}-{trial.number:05d}"
            run_id = self.client.create_run(
                self.experiment_id, run_name=name, tags=tags
            ).info.run_id
        self._partial[trial.number] = run_id  # until finished: a retry logs into this run
        params = {
            k: attrs.get(k) for k in ("formula", "hash", "parent", "space", "generation", "origin")
        }
        params["cid"] = attrs.get("cid")
        params["retry_of"] = attrs.get("retry_of")
        metrics = {
            "accepted": float(trial.state == "COMPLETE"),
            "seconds": float(attrs.get("seconds", 0.0)),
            "cache_hit": float(attrs["status"] == "duplicate"),
        }
        if trial.state == "COMPLETE" and trial.values:
            for arch, value in zip(anchors, trial.values, strict=True):
                metrics[f"accuracy/{arch}"] = value
            metrics["accuracy/mean"] = float(np.mean(trial.values))
        for key, value in (attrs.get("metrics") or {}).items():
            number = _number(value)
            if number is not None:
                metrics[key] = number
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()],
            params=[Param(k, str(v)[:_PARAM_LIMIT]) for k, v in params.items() if v is not None],
        )
        if "graph" in attrs:
            graph = LayerGraph.from_dict(attrs["graph"])
            self.client.log_dict(run_id, attrs["graph"], "graph.json")
            figure = graph_figure(graph, title=f"trial {trial.number}: {graph.formula()}"[:120])
            self.client.log_figure(run_id, figure, "graph.png")
            plt.close(figure)
        self.client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
        self._logged.add(trial.number)
        del self._partial[trial.number]

    # -- search-level artifacts --------------------------------------------------------------

    def log_search_artifacts(self) -> None:
        records = self.search.records()
        figures = search_figures(records, self.search.config.anchors, self.search.config.strategy)
        for filename, figure in figures.items():
            self.client.log_figure(self.parent_id, figure, filename)
            plt.close(figure)
        census = self.search.census()
        values = {
            "done": census.done,
            "accepted": census.accepted,
            "rejected": census.rejected,
            "duplicates": census.duplicates,
            "errors": census.errors,
            "lost": census.lost,
        }
        if not math.isnan(census.best):
            values["best_mean_accuracy"] = census.best
        self.client.log_batch(
            self.parent_id, metrics=[Metric(k, float(v), 0, census.done) for k, v in values.items()]
        )
        self._since_plots = 0

    def funnel(self) -> dict[str, int]:
        """Recorded candidates by the stage they ended at (duplicates under ``duplicate``)."""
        return funnel(self.search.records())

    def update(self, census=None) -> None:
        """The launcher's hook: log what is new."""
        self.sync()

    def close(self, status: str = "FINISHED") -> None:
        """Final plots and the parent run's status (FINISHED, FAILED or KILLED)."""
        self.sync(plots=True)
        self._one_per_trial(self._find("candidate"))  # twins of a retried POST no lookup saw
        self.client.set_terminated(self.parent_id, status)


def _number(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if value in ("inf", "-inf", "nan"):
        return float(value)
    return None
