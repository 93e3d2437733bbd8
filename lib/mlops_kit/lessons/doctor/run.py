"""Which checks exist, which prove each setup route, and running them: :func:`run_checks`.

:data:`CHECKS` names every check in the order of the report, with one line saying what it
looks at; :data:`ROUTES` says which of them prove that each of the course's three setup
routes worked. :func:`run_checks` runs the ones asked for, each through :func:`safe_check`,
so one check that crashes becomes a WARN saying what happened instead of stopping the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from ...errors import KitError
from .data import check_data
from .docker import check_compose, check_docker
from .kernel import check_kernel
from .packages import check_packages, check_python
from .remote import check_codespaces, check_network, check_ssh
from .resources import MIN_CPUS, MIN_DISK_GB, MIN_MEMORY_GB, check_cpus, check_disk, check_memory
from .stack import check_imports
from .verdict import FAIL, OK, WARN, Check, Runner, counts, run_command

logger = logging.getLogger(__name__)


class UnknownCheckError(KitError):
    """A check name that :func:`run_checks` does not know."""


#: check name -> one line saying what it looks at (the order of the report)
CHECKS = {
    "python": "Python 3.10 or newer",
    "packages": "every package of environment.yml at a compatible version",
    "imports": "numpy, scipy, pandas, pyarrow, sklearn, matplotlib import",
    "kernel": "the python3 Jupyter kernel the notebooks use",
    "docker": "Docker CLI, daemon reachable, no permission error",
    "compose": "Docker Compose v2 (docker compose) or v1 (docker-compose)",
    "disk": f"free disk ({MIN_DISK_GB:g} GB asked for on a VM)",
    "memory": f"memory ({MIN_MEMORY_GB:g} GB or more)",
    "cpus": f"CPUs ({MIN_CPUS} or more)",
    "codespaces": "GitHub Codespaces and its port 8888",
    "ssh": "~/.ssh/config Host entries and private keys (cloud-VM route)",
    "network": "the TLC download host",
    "data": "the MLOPS_KIT_DATA_DIR folder and its TLC months",
}

#: what every route needs of the machine's software, in report order
ENVIRONMENT_CHECKS = ("python", "packages", "imports", "kernel", "docker", "compose")

#: the three setup routes of the module and the checks that prove each worked
ROUTES = {
    "codespaces": ("codespaces", *ENVIRONMENT_CHECKS),
    "cloud-vm": ("ssh", *ENVIRONMENT_CHECKS, "disk", "memory"),
    "local": (*ENVIRONMENT_CHECKS, "disk", "memory", "cpus"),
}


def run_checks(
    *,
    environment_file: str | Path | None = None,
    ssh_config: str | Path | None = None,
    network: bool = True,
    timeout: float = 2.0,
    only: Iterable[str] | None = None,
    env: Mapping[str, str] | None = None,
    runner: Runner = run_command,
    data_path: str | Path | None = None,
) -> list[Check]:
    """Run the environment checks and return one :class:`Check` each, in report order.

    Args:
        environment_file: the conda file listing the packages (default: the checkout's
            ``environment.yml``, else mlops-kit's own requirements).
        ssh_config: the SSH config to inspect (default ``~/.ssh/config``).
        network: False to skip reaching the TLC host (reported as a WARN).
        timeout: seconds to wait for Docker and for the network.
        only: names of the checks to run (default all, see :data:`CHECKS`).
        env: environment variables (default ``os.environ``).
        runner: runs a command with a timeout (tests pass a fake).
        data_path: where free disk is measured (default the kit's cache folder).

    Raises:
        UnknownCheckError: when ``only`` names a check that does not exist.
    """
    names = list(CHECKS) if only is None else list(only)
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        raise UnknownCheckError(
            f"Unknown check(s): {', '.join(unknown)}.",
            f"Use some of: {', '.join(CHECKS)}.",
        )
    calls: dict[str, Callable[[], Check]] = {
        "python": lambda: check_python(),
        "packages": lambda: check_packages(environment_file=environment_file),
        "imports": lambda: check_imports(runner=runner),
        "kernel": lambda: check_kernel(runner=runner),
        "docker": lambda: check_docker(runner=runner, timeout=timeout),
        "compose": lambda: check_compose(runner=runner, timeout=timeout),
        "disk": lambda: check_disk(path=data_path),
        "memory": lambda: check_memory(),
        "cpus": lambda: check_cpus(),
        "codespaces": lambda: check_codespaces(env=env),
        "ssh": lambda: check_ssh(ssh_config=ssh_config, env=env),
        "network": lambda: check_network(network=network, timeout=timeout, env=env),
        "data": lambda: check_data(),
    }
    return [safe_check(name, calls[name]) for name in CHECKS if name in names]


def safe_check(name: str, func: Callable[[], Check]) -> Check:
    """Run one check; a crash becomes a WARN that says what happened (never raises)."""
    try:
        return func()
    except Exception as exc:  # noqa: BLE001 - the doctor reports, it does not crash
        logger.debug("check %s crashed", name, exc_info=True)
        return Check(
            name,
            WARN,
            f"the check could not run: {type(exc).__name__}: {exc}",
            "Look at the error above; if it is a bug of mlops-kit, report it with this line.",
        )


def route_checks(checks: Sequence[Check], route: str) -> list[Check]:
    """Return the checks (among those that ran) that prove a setup route worked.

    Raises:
        UnknownCheckError: when ``route`` is not one of :data:`ROUTES`.
    """
    if route not in ROUTES:
        raise UnknownCheckError(f"Unknown route {route!r}.", f"Use one of: {', '.join(ROUTES)}.")
    by_name = {check.name: check for check in checks}
    return [by_name[name] for name in ROUTES[route] if name in by_name]


def route_summary(checks: Sequence[Check], route: str) -> str:
    """Return one line saying how far a route's checks got (stable text, no measurements)."""
    chosen = route_checks(checks, route)
    if not chosen:
        return f"{route}: none of its checks ran"
    found = counts(chosen)
    line = f"{route}: {found[OK]} of {len(chosen)} checks OK"
    for status in (WARN, FAIL):
        names = [check.name for check in chosen if check.status == status]
        if names:
            line += f", {status} {', '.join(names)}"
    return line
