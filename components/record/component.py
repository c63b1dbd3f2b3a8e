"""The `record` component (see README.md)."""

from kfp import dsl

from evonorm.workflow.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def record(study: str, storage: str, outcomes: list, tracking_uri: str) -> str:
    """Tell the study the generation's outcomes and mirror them to MLflow."""
    from evonorm.tasks import record as run

    return run(study, storage, outcomes, tracking_uri)
