"""The container images components run in: one place, no environment reads at import time.

``images/base`` (CPU) and ``images/cuda`` build them; the tag follows the package version. A
deployment pushing to another registry compiles with ``evonorm pipeline compile --image-registry
REG`` (the compiled YAML's images move to REG; nothing here changes).
"""

from evonorm import __version__

REGISTRY = "ghcr.io/evonorm"
BASE_IMAGE = f"{REGISTRY}/evonorm:{__version__}"  # CPU steps
CUDA_IMAGE = f"{REGISTRY}/evonorm-cuda:{__version__}"  # training steps on GPU nodes
