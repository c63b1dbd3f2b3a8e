"""Kubeflow pipelines built from :mod:`evonorm.components`; compiled IR YAML in ``compiled/``."""

from evonorm.pipelines.search import PIPELINES, evonorm_search

__all__ = ["PIPELINES", "evonorm_search"]
