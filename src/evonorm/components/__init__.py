"""Kubeflow Pipelines components: one folder per component, each a thin typed KFP v2
lightweight component calling :mod:`evonorm.tasks`, with a README (inputs, outputs, resources).

They run in our image (:mod:`evonorm.components.images`) with no packages installed at run time;
the KFP local runner ignores the image and runs them in the current environment, which is how
the whole pipeline runs on a laptop. The only package besides ``pipelines`` that imports kfp.
"""
