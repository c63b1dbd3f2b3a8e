"""MLflow tracking and the layer registry. The only package that imports mlflow."""

from evonorm.tracking.tracker import DEFAULT_EXPERIMENT, SearchTracker, default_tracking_uri

__all__ = ["DEFAULT_EXPERIMENT", "SearchTracker", "default_tracking_uri"]
