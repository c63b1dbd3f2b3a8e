"""The `register` component (see README.md)."""

from kfp import dsl

from evonorm.workflow.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def register(study: str, storage: str, tracking_uri: str, after: str) -> str:
    """Publish the kept layers to the MLflow Model Registry (champion only when beaten)."""
    from evonorm.tasks import register as run

    return run(study, storage, tracking_uri)
