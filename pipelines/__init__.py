"""The Kubeflow pipelines, built from the components in ``components/``; their compiled IR is
``compiled/*.yaml`` (golden: tests/pipelines checks it is what the code compiles to). Operate
them with ``evonorm pipeline compile | run-local | submit | schedule`` (:mod:`evonorm.workflow`).
"""

from pipelines.search import PIPELINES, evonorm_search

__all__ = ["PIPELINES", "evonorm_search"]
