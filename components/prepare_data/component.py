"""The `prepare-data` component (see README.md)."""

from kfp import dsl

from evonorm.workflow.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def prepare_data(preset: str) -> str:
    """Load the preset's dataset once (fetching and caching it where it is downloadable); fail
    the run early when it is missing. Returns the split sizes as JSON."""
    from evonorm.tasks import prepare_data as run

    return run(preset)
