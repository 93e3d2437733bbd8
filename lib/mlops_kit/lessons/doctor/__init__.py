"""Environment checks: is this machine ready for module 1 of the MLOps Zoomcamp?

The course offers three routes to a working setup: a GitHub Codespace, a cloud VM
reached over SSH, or a local Anaconda with Docker and Docker Compose. Each check looks at
one thing a route needs and answers ``OK``, ``WARN`` or ``FAIL`` with the fix in one line.
``mlops-kit doctor`` prints them as a table and ``notebooks/02_environment_check.ipynb``
shows them next to the routes.

Where things live (each module imports only :mod:`.verdict` and the core, and
:mod:`.run` imports the checks):

- :mod:`.verdict`: the :class:`Check` type, its statuses, and the table, ``--json`` and
  notebook views of a list of checks;
- :mod:`.packages`: Python itself and the packages of ``environment.yml``;
- :mod:`.stack`: the scientific stack imported in a child Python (binary mismatches);
- :mod:`.kernel`: the ``python3`` Jupyter kernel the notebooks run on;
- :mod:`.docker`: Docker's CLI and daemon, and Docker Compose;
- :mod:`.resources`: disk, memory and CPUs;
- :mod:`.remote`: Codespaces, the cloud VM's SSH config, the TLC download host;
- :mod:`.data`: the folder ``MLOPS_KIT_DATA_DIR`` names and the TLC months in it;
- :mod:`.run`: the list of checks, the routes, and :func:`run_checks`.

Every check is a small function whose inputs (environment variables, the command runner,
the network connector, paths) are keyword arguments, so tests can fake each condition. A
check never raises: if one crashes, :func:`run_checks` reports the crash as a ``WARN`` that
says what happened.

Example:
    >>> from mlops_kit.lessons import doctor
    >>> checks = doctor.run_checks(network=False)
    >>> [c.status for c in checks if c.name == "python"]
    ['OK']
"""

from ..sshconfig import key_exposed
from .data import check_data
from .docker import check_compose, check_docker
from .kernel import check_kernel
from .packages import (
    MIN_PYTHON,
    Requirement,
    check_packages,
    check_python,
    installed_requirements,
    parse_conda_dependency,
    parse_pip_dependency,
    read_environment_file,
)
from .remote import TLC_HOST, TLC_PORT, check_codespaces, check_network, check_ssh
from .resources import (
    MIN_CPUS,
    MIN_DISK_GB,
    MIN_MEMORY_GB,
    available_cpus,
    check_cpus,
    check_disk,
    check_memory,
    total_memory_bytes,
)
from .run import (
    CHECKS,
    ROUTES,
    UnknownCheckError,
    route_checks,
    route_summary,
    run_checks,
    safe_check,
)
from .stack import STACK, check_imports
from .verdict import (
    FAIL,
    OK,
    STATUS_COLOURS,
    STATUSES,
    WARN,
    Check,
    counts,
    format_table,
    run_command,
    styled,
    summary,
    to_frame,
)

__all__ = [
    "CHECKS",
    "FAIL",
    "MIN_CPUS",
    "MIN_DISK_GB",
    "MIN_MEMORY_GB",
    "MIN_PYTHON",
    "OK",
    "ROUTES",
    "STACK",
    "STATUSES",
    "STATUS_COLOURS",
    "TLC_HOST",
    "TLC_PORT",
    "WARN",
    "Check",
    "Requirement",
    "UnknownCheckError",
    "available_cpus",
    "check_codespaces",
    "check_compose",
    "check_cpus",
    "check_data",
    "check_disk",
    "check_docker",
    "check_imports",
    "check_kernel",
    "check_memory",
    "check_network",
    "check_packages",
    "check_python",
    "check_ssh",
    "counts",
    "format_table",
    "installed_requirements",
    "key_exposed",
    "parse_conda_dependency",
    "parse_pip_dependency",
    "read_environment_file",
    "route_checks",
    "route_summary",
    "run_checks",
    "run_command",
    "safe_check",
    "styled",
    "summary",
    "to_frame",
    "total_memory_bytes",
]
