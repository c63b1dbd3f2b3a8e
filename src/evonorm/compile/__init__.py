"""The compiler: layer graphs to fast PyTorch modules (and standalone source files)."""

from evonorm.compile.codegen import standalone_source
from evonorm.compile.layer import GraphLayer, build_layer, group_count

__all__ = ["GraphLayer", "build_layer", "group_count", "standalone_source"]
