"""The `finalize` component (see README.md)."""

from kfp import dsl

from evonorm.workflow.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def finalize(
    study: str,
    storage: str,
    tracking_uri: str,
    report_dir: str,
    status: dsl.PipelineTaskFinalStatus,
) -> str:
    """The exit handler: write the report, log it to the search's MLflow run and close that
    run with the pipeline's final status — also when the pipeline failed."""
    from evonorm.tasks import finalize as run

    return run(study, storage, tracking_uri, status.state, report_dir)
