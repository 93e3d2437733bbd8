"""Executing notebooks: one at a time, in a sandbox, in batches, and the site ``make run`` builds.

- :mod:`~mlops_kit.execution.runner`: the one place a notebook is executed (papermill under
  the hood): :func:`~mlops_kit.execution.runner.run_notebook` and its ``RunResult``;
  it stands on
  :mod:`~mlops_kit.execution.parameters` (the one parser of a notebook's ``parameters``
  cell; values checked before a kernel starts),
  :mod:`~mlops_kit.execution.kernel` (one kernel start and execution, private sockets,
  the kernel's environment),
  :mod:`~mlops_kit.execution.outcome` (the status and the one-paragraph error) and
  :mod:`~mlops_kit.execution.limits` (``Limits`` for untrusted notebooks);
- :mod:`~mlops_kit.execution.sandbox`: the launcher that puts a kernel nobody trusts in a
  bubblewrap sandbox, as a fresh unprivileged uid under root, and says whether this machine
  can (``isolation_available``); it stands on :mod:`~mlops_kit.execution.bwrap` (the
  allow-list of what a kernel sees, as bubblewrap's options) and
  :mod:`~mlops_kit.execution.monitor` (PID 1 inside: the limits, a memory watch, an honest
  account of how the kernel ended);
- :mod:`~mlops_kit.execution.batch`: many executions on a worker pool, resumable, from a
  parameter grid, with tables and a report (one module per concern, see its docstring);
- :mod:`~mlops_kit.execution.notebook_site`: every course notebook executed and rendered to
  ``build/index.html``.

Import the module you need: this package's ``__init__`` stays empty so the sandbox launcher
starts without loading papermill.
"""
