"""Executing notebooks: one at a time, in a sandbox, in batches, and the site ``make run`` builds.

- :mod:`~mlops_kit.execution.runner`: the one place a notebook is executed (papermill under
  the hood): parameters checked against the ``parameters`` cell, time limits, one-paragraph
  errors, figures recorded by the notebook read back;
- :mod:`~mlops_kit.execution.sandbox`: the launcher that puts a kernel in its sandbox
  (limits, namespaces) for notebooks nobody trusts;
- :mod:`~mlops_kit.execution.batch`: many executions on a worker pool, resumable, from a
  parameter grid, with tables and a report;
- :mod:`~mlops_kit.execution.notebook_site`: every course notebook executed and rendered to
  ``build/index.html``.

Import the module you need: this package's ``__init__`` stays empty so the sandbox launcher
starts without loading papermill.
"""
