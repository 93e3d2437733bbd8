"""The module's lessons as code: the course map, the maturity model, the environment checks.

One module per lesson, each imported on its own (``from mlops_kit.lessons import doctor``)
so a light command such as ``mlops-kit doctor`` loads only what it needs:

- :mod:`~mlops_kit.lessons.course`: the course map (notebook -> pipeline -> tracking ->
  registry -> deployment -> monitoring) and the MLOps principles and components as data;
- :mod:`~mlops_kit.lessons.maturity`: maturity levels 0-4, the self-assessment and the
  scan of a repository;
- :mod:`~mlops_kit.lessons.doctor`: is this machine ready (Python, packages, kernel, Docker,
  disk, SSH)?
- :mod:`~mlops_kit.lessons.sshconfig`: the cloud VM's Host block in ``~/.ssh/config``.

Lessons import the core modules, each other, and the data layer (the doctor asks it what a
folder of TLC files holds); never the model or execution layers.
"""
