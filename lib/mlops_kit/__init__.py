"""mlops-kit: a teaching kit for Module 1 (Introduction) of the MLOps Zoomcamp.

Where things live (docs/ARCHITECTURE.md draws the same map with the allowed imports):

- core modules at the top: :mod:`~mlops_kit.errors` (every exception: a problem and its fix),
  :mod:`~mlops_kit.config` (where to read and write), :mod:`~mlops_kit.fileio` (atomic writes,
  file hashes), :mod:`~mlops_kit.records` (figures a notebook records for its readers),
  :mod:`~mlops_kit.pages` (the HTML page shell);
- :mod:`mlops_kit.tlc`: the NYC TLC trip records (ids, schemas, finding and reading a month,
  synthetic months);
- :mod:`mlops_kit.model`: the course's duration model (features, vectoriser, solver,
  training, the saved model, baselines);
- :mod:`mlops_kit.lessons`: the course map, the maturity model, the environment doctor, the
  SSH config of a cloud VM;
- :mod:`mlops_kit.execution`: running notebooks (one, sandboxed, in batches) and the site
  ``make run`` builds;
- :mod:`mlops_kit.homework`: answers, keys, self-check and grading of the module's homework;
- :mod:`mlops_kit.cli`: the ``mlops-kit`` command, a thin layer over all of the above.
"""

__version__ = "0.1.0"
