"""MLflow tracking and the layer registry. The only package that imports mlflow."""

from evonorm.tracking.reach import TrackingError, check_tracking
from evonorm.tracking.registry import LayerNotFound, load_layer, publish_layer, pull_layer
from evonorm.tracking.tracker import DEFAULT_EXPERIMENT, SearchTracker, default_tracking_uri

__all__ = [
    "DEFAULT_EXPERIMENT",
    "LayerNotFound",
    "SearchTracker",
    "TrackingError",
    "check_tracking",
    "default_tracking_uri",
    "load_layer",
    "publish_layer",
    "pull_layer",
]
