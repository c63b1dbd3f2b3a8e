"""Operating the Kubeflow pipelines: compile, run on the KFP local runner, submit, schedule.

The pipeline *definitions* live in the repository's top-level ``pipelines/`` (built from the
components in ``components/``); their compiled IR, ``pipelines/compiled/*.yaml``, ships inside
this package as ``evonorm/workflow/compiled/`` (a link to that folder in a checkout). So:

- ``submit`` / ``schedule`` and the parameter checks read only the compiled IR: a pip-installed
  evonorm with no checkout can start and schedule runs;
- ``compile`` and ``run_local`` need the definitions, so they need a checkout
  (:func:`evonorm.workflow.definitions.pipeline` finds it).

Besides ``components/`` and ``pipelines/``, this is the only place that imports kfp.
"""
