"""Transfer tasks at proxy scale: does a layer found on classification help elsewhere?

- ``segmentation`` (:mod:`evonorm.transfer.segmentation`): Mask R-CNN on Fashion-MNIST canvases;
  box and mask AP.
- ``gan`` (:mod:`evonorm.transfer.gan`): DCGAN on Fashion-MNIST; Fréchet distance in a
  project-trained classifier's features.

Each task scores several layers on identical data and seeds, so layers are compared in one run.
The task modules import torchvision's detection models and torchmetrics; this package module
stays light so that the command line can list the tasks cheaply.
"""

TASKS = ("segmentation", "gan")

__all__ = ["TASKS"]
