"""Kubeflow Pipelines components: one folder per component, each a thin typed KFP v2
lightweight component calling :mod:`evonorm.tasks`, with a README (inputs, outputs, resources).

They run in our images (:mod:`evonorm.workflow.images`) with no packages installed at run time:
KFP puts each function's source in the compiled IR, so an image needs only the evonorm library.
The KFP local runner ignores the image and runs them in the current environment, which is how
the whole pipeline runs on a laptop. Used by ``pipelines/``; not installed with the package.
"""
