"""The `generate` component (see README.md)."""

from kfp import dsl

from evonorm.workflow.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def generate(
    study: str, storage: str, count: int, per_task: int, pipeline_run: str, after: list
) -> list:
    """Claim ``count`` trials for this run: re-queued candidates first, then children of the
    population; in groups of at most ``per_task``, one group per reject and train task.
    ``after`` (the generation plan) only makes the loop wait for the plan task: KFP does not
    count a loop's iterator source as a dependency of the loop."""
    from evonorm.tasks import generate as run

    return run(study, storage, count, pipeline_run, per_task)
