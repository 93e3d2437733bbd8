"""Environment checks: is this machine ready for module 1 of the MLOps Zoomcamp?

The course offers three routes to a working setup: a GitHub Codespace, a cloud VM
reached over SSH, or a local Anaconda with Docker and Docker Compose. Each check
below looks at one thing a route needs and answers ``OK``, ``WARN`` or ``FAIL``
with the fix in one line. ``mlops-kit doctor`` prints them as a table and
``notebooks/02_environment_check.ipynb`` shows them next to the routes.

Every check is a small function whose inputs (environment variables, the command
runner, the network connector, paths) are keyword arguments, so tests can fake
each condition. A check never raises: if one crashes, :func:`run_checks` reports
the crash as a ``WARN`` that says what happened.

Example:
    >>> from mlops_kit.lessons import doctor
    >>> checks = doctor.run_checks(network=False)
    >>> [c.status for c in checks if c.name == "python"]
    ['OK']
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import KitError

logger = logging.getLogger(__name__)

OK, WARN, FAIL = "OK", "WARN", "FAIL"
STATUSES = (OK, WARN, FAIL)

#: the host serving the TLC trip-record parquet files
TLC_HOST = "d37ci6vzurychx.cloudfront.net"
TLC_PORT = 443

DEFAULT_SSH_CONFIG = "~/.ssh/config"

MIN_PYTHON = (3, 10)
#: the course sizes its VM with a 30 GB disk
MIN_DISK_GB = 30.0
#: below this there is no room for an environment and a month of trips
CRITICAL_DISK_GB = 1.0
#: the homework month (3 M rows) peaks at about 4.2 GB with the course's code, plus Jupyter
MIN_MEMORY_GB = 6.0
MIN_CPUS = 2

DOCKER_PERMISSION_MARKER = "permission denied while trying to connect to the docker daemon"
DOCKER_INSTALL_FIX = (
    "Install Docker (Linux: https://docs.docker.com/engine/install/ ; macOS/Windows: "
    "Docker Desktop), then check with `docker run hello-world`."
)
DOCKER_PERMISSION_FIX = (
    "Run `sudo usermod -aG docker $USER`, then log out and in again (or `newgrp docker`) "
    "and check with `docker run hello-world`."
)
DOCKER_START_FIX = (
    "Start Docker Desktop (macOS/Windows) or run `sudo systemctl start docker` (Linux), "
    "then re-run `mlops-kit doctor`."
)

#: conda package names whose Python distribution is called differently
CONDA_TO_DIST = {
    "pytorch": "torch",
    "py-xgboost": "xgboost",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "pytables": "tables",
    "python-graphviz": "graphviz",
    "pytorch-cpu": "torch",
}
#: entries of an environment file that are not Python distributions (or are checked elsewhere)
NOT_DISTRIBUTIONS = {"python", "pip", "nodejs", "git", "make", "curl", "openssl", "cudatoolkit"}

Runner = Callable[[Sequence[str], float], "subprocess.CompletedProcess[str]"]


class UnknownCheckError(KitError):
    """A check name that :func:`run_checks` does not know."""


@dataclass(frozen=True)
class Check:
    """The verdict of one check.

    Attributes:
        name: the check's id (``python``, ``docker``, ``network`` ...).
        status: ``OK``, ``WARN`` (works, but something will bite later) or ``FAIL``
            (something the course needs is broken).
        detail: what was found, in one sentence (may contain measured numbers).
        fix: what to do, in one line; None when the status is OK.
        data: measured values (versions, GB, paths) for machines and ``--json``.
    """

    name: str
    status: str
    detail: str
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def ok(self) -> bool:
        """True unless the status is FAIL."""
        return self.status != FAIL

    def to_dict(self) -> dict[str, Any]:
        """Return the check as a plain JSON-able dict."""
        return asdict(self)


# --------------------------------------------------------------------------- helpers


def run_command(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; raises ``subprocess.TimeoutExpired``."""
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _first_line(text: str) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def counts(checks: Iterable[Check]) -> dict[str, int]:
    """Return how many checks ended OK, WARN and FAIL (all three keys, always)."""
    found = dict.fromkeys(STATUSES, 0)
    for check in checks:
        found[check.status] += 1
    return found


# --------------------------------------------------------------------------- python


def check_python(*, version_info: Sequence[int] | None = None) -> Check:
    """Python 3.10 or newer: the kit's type hints and the course's libraries need it."""
    info = tuple(version_info if version_info is not None else sys.version_info[:3])
    shown = ".".join(str(part) for part in info[:3])
    data = {"version": shown}
    if info[:2] >= MIN_PYTHON:
        return Check("python", OK, f"Python {shown} (3.10+ needed)", data=data)
    return Check(
        "python",
        FAIL,
        f"Python {shown} is too old: mlops-kit needs 3.10 or newer.",
        "Create an environment with a newer Python, e.g. "
        "`conda env create -f environment.yml` (Python 3.11).",
        data,
    )


# --------------------------------------------------------------------------- packages


@dataclass(frozen=True)
class Requirement:
    """One package an environment asks for: distribution name and version specifier."""

    name: str
    specifier: str = ""
    source: str = ""

    @property
    def pip_spec(self) -> str:
        """The requirement as pip writes it (``pandas>=2.2``)."""
        return f"{self.name}{self.specifier}"


def _conda_specifier(version: str) -> str:
    """Turn a conda version constraint (``>=1.2``, ``=1.2``, ``1.2.*``) into a pip one."""
    parts = []
    for piece in version.replace(" ", "").split(","):
        if not piece:
            continue
        if piece[0] in "<>!~" or piece.startswith("=="):
            parts.append(piece)
        elif piece.startswith("="):  # conda's fuzzy `=1.2` means 1.2.*
            parts.append(f"=={piece[1:].rstrip('.*')}.*")
        else:  # a bare version: `1.2` or `1.2.*`
            parts.append(f"=={piece}" if "*" in piece else f"=={piece.rstrip('.*')}.*")
    return ",".join(parts)


_CONDA_SPEC = re.compile(r"^(?:[\w.-]+::)?(?P<name>[A-Za-z0-9_.-]+)\s*(?P<version>[^\s\[#]*)")


def parse_conda_dependency(entry: str) -> Requirement | None:
    """Parse one conda ``dependencies`` entry; None for Python itself, pip and non-packages."""
    text = entry.split("#", 1)[0].strip()
    match = _CONDA_SPEC.match(text)
    if not match:
        return None
    name = match.group("name").lower()
    if name in NOT_DISTRIBUTIONS:
        return None
    version = match.group("version")
    rest = text[match.end() :].strip()
    if rest and not version and rest[0].isdigit():  # `name 1.2` (space-separated)
        version = rest.split()[0]
    return Requirement(CONDA_TO_DIST.get(name, name), _conda_specifier(version), "conda")


def parse_pip_dependency(entry: str) -> Requirement | None:
    """Parse one entry of the ``pip:`` list; None for ``-e .``, URLs and options."""
    text = entry.split("#", 1)[0].strip()
    if not text or text.startswith("-") or "://" in text or text.startswith((".", "/")):
        return None
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as PipRequirement

    try:
        req = PipRequirement(text)
    except InvalidRequirement:
        return None
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        return None
    if req.name.lower() in NOT_DISTRIBUTIONS:
        return None
    return Requirement(req.name, str(req.specifier), "pip")


def _dependency_entries(text: str) -> tuple[list[str], list[str]]:
    """Return the conda entries and the pip entries of an environment file's text."""
    try:
        import yaml
    except ImportError:  # the doctor must work even when pyyaml is what is missing
        return _dependency_entries_by_lines(text)
    doc = yaml.safe_load(text) or {}
    conda, pip = [], []
    for item in doc.get("dependencies") or []:
        if isinstance(item, dict):
            pip.extend(str(x) for x in item.get("pip") or [])
        else:
            conda.append(str(item))
    return conda, pip


def _dependency_entries_by_lines(text: str) -> tuple[list[str], list[str]]:
    """Read the block-style ``dependencies:`` list without a YAML library."""
    conda, pip = [], []
    in_deps = in_pip = False
    pip_indent = 0
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if indent == 0:
            in_deps = stripped.startswith("dependencies:")
            in_pip = False
            continue
        if not in_deps or not stripped.startswith("-"):
            continue
        value = stripped[1:].strip()
        if in_pip and indent > pip_indent:
            pip.append(value)
            continue
        in_pip = False
        if value.rstrip(":").strip() == "pip" and value.endswith(":"):
            in_pip, pip_indent = True, indent
        else:
            conda.append(value)
    return conda, pip


def read_environment_file(path: str | Path) -> list[Requirement]:
    """Return the Python packages a conda ``environment.yml`` asks for.

    Both the conda entries (``pandas>=2.2``, ``numpy=1.26``) and the ``pip:`` list are
    read; Python itself, pip, ``-e .`` and non-Python packages are skipped, and conda
    names are mapped to distribution names where they differ (``pytorch`` -> ``torch``).
    """
    text = Path(path).read_text(encoding="utf-8")
    conda, pip = _dependency_entries(text)
    found = [parse_conda_dependency(e) for e in conda] + [parse_pip_dependency(e) for e in pip]
    return [req for req in found if req is not None]


def installed_requirements(project: str = "mlops-kit") -> list[Requirement]:
    """Return the core requirements of an installed project (extras left out)."""
    from importlib import metadata

    found = [parse_pip_dependency(e) for e in metadata.requires(project) or []]
    return [req for req in found if req is not None]


def _installed_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_packages(
    *,
    environment_file: str | Path | None = None,
    requirements: Sequence[Requirement] | None = None,
    version_of: Callable[[str], str | None] = _installed_version,
) -> Check:
    """Every package of ``environment.yml`` installed at a compatible version.

    The file is the checkout's ``environment.yml`` (the one you run from, else the one
    an editable install lives in). Installed from a wheel (``pip install mlops-kit``),
    there is none, and the kit's own requirements are used.
    """
    if requirements is None:
        if environment_file is None:
            from ..config import repo_root

            # the checkout we are run from, else the one an editable install lives in
            root = repo_root() or repo_root(Path(__file__).resolve().parent)
            candidate = root / "environment.yml" if root else None
            if candidate is not None and candidate.is_file():
                environment_file = candidate
        if environment_file is not None:
            path = Path(environment_file).expanduser()
            if not path.is_file():
                return Check(
                    "packages",
                    WARN,
                    f"environment file {path} not found, so packages were not checked.",
                    "Pass the path of the repository's environment.yml (or run from the checkout).",
                )
            requirements = read_environment_file(path)
            source = path.name
        else:
            requirements = installed_requirements()
            source = "mlops-kit's requirements"
    else:
        source = "the given requirements"
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion

    missing, old = [], []
    for req in requirements:
        version = version_of(req.name)
        if version is None:
            missing.append(req)
            continue
        try:
            compatible = SpecifierSet(req.specifier).contains(version, prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            compatible = True  # a constraint we cannot read is not the learner's problem
        if not compatible:
            old.append((req, version))
    data = {
        "source": source,
        "required": len(requirements),
        "missing": [req.pip_spec for req in missing],
        "incompatible": {req.pip_spec: version for req, version in old},
    }
    if not missing and not old:
        return Check(
            "packages",
            OK,
            f"all {len(requirements)} packages of {source} at compatible versions",
            data=data,
        )
    problems = [f"{req.name} missing" for req in missing]
    problems += [f"{req.name} {version} (needs {req.specifier})" for req, version in old]
    specs = " ".join(f"'{req.pip_spec}'" for req in [*missing, *(r for r, _ in old)])
    return Check(
        "packages",
        FAIL,
        f"{len(problems)} of {len(requirements)} packages of {source} not usable: "
        + ", ".join(problems)
        + ".",
        f"pip install {specs} (conda: `conda env update -f environment.yml`)",
        data,
    )


# --------------------------------------------------------------------------- kernel


def _kernel_spec(name: str):
    from jupyter_client.kernelspec import KernelSpecManager

    return KernelSpecManager().get_kernel_spec(name)


def check_kernel(
    *,
    kernel_name: str = "python3",
    get_spec: Callable[[str], Any] = _kernel_spec,
    executable: str = sys.executable,
    runner: Runner = run_command,
    timeout: float = 20.0,
) -> Check:
    """The ``python3`` Jupyter kernel the notebooks use exists and can import the kit."""
    fix = (
        "From the environment where mlops-kit is installed run "
        f"`python -m ipykernel install --user --name {kernel_name}` "
        "(or set JUPYTER_PREFER_ENV_PATH=1)."
    )
    try:
        spec = get_spec(kernel_name)
    except Exception as exc:  # jupyter_client raises NoSuchKernel
        return Check(
            "kernel",
            FAIL,
            f"no Jupyter kernel named {kernel_name!r} ({type(exc).__name__}).",
            fix,
        )
    argv = list(getattr(spec, "argv", None) or [])
    program = argv[0] if argv else ""
    data = {"kernel": kernel_name, "argv0": program}
    # jupyter_client starts the current interpreter for a bare "python" (its native kernel)
    this_python = {
        "python",
        f"python{sys.version_info[0]}",
        "python{}.{}".format(*sys.version_info),
    }
    if program in this_python or _same_file(program, executable):
        return Check(
            "kernel", OK, f"kernel {kernel_name!r} runs this Python ({executable})", data=data
        )
    if not program:
        return Check("kernel", FAIL, f"kernel {kernel_name!r} has no command line.", fix, data)
    try:
        result = runner([program, "-c", "import mlops_kit"], timeout)
        importable = result.returncode == 0
        why = _first_line(result.stderr)
    except (OSError, subprocess.TimeoutExpired) as exc:
        importable, why = False, f"{type(exc).__name__}: {exc}"
    if importable:
        return Check(
            "kernel",
            OK,
            f"kernel {kernel_name!r} runs {program}, which can import mlops_kit",
            data=data,
        )
    return Check(
        "kernel",
        FAIL,
        f"kernel {kernel_name!r} runs {program}, which cannot import mlops_kit ({why}).",
        fix,
        data,
    )


def _same_file(a: str, b: str) -> bool:
    if not a or not b:
        return False
    a_path = shutil.which(a) or a
    try:
        return os.path.samefile(a_path, b)
    except OSError:
        return False


# --------------------------------------------------------------------------- docker


def check_docker(*, runner: Runner = run_command, timeout: float = 2.0) -> Check:
    """Docker CLI on PATH and its daemon reachable by this user.

    Module 1 runs without Docker; the course needs it from the deployment module on.
    So a missing Docker is a WARN, and a Docker this user may not use (the classic
    ``permission denied ... docker.sock``) is a FAIL: it is installed but broken.
    """
    path = shutil.which("docker")
    if path is None:
        return Check(
            "docker",
            WARN,
            "no `docker` command on PATH (module 1 runs without it; later modules need it).",
            DOCKER_INSTALL_FIX,
        )
    data = {"path": path}
    try:
        result = runner(["docker", "version", "--format", "{{.Server.Version}}"], timeout)
    except subprocess.TimeoutExpired:
        return Check(
            "docker",
            WARN,
            f"`docker version` did not answer within {timeout:g} s: the daemon seems stuck.",
            DOCKER_START_FIX,
            data,
        )
    output = f"{result.stdout}\n{result.stderr}"
    if DOCKER_PERMISSION_MARKER in output.lower():
        return Check(
            "docker",
            FAIL,
            "the Docker daemon refuses this user: permission denied on the Docker socket.",
            DOCKER_PERMISSION_FIX,
            data,
        )
    server = _first_line(result.stdout)
    if result.returncode == 0 and server and not server.startswith("<"):
        data["server_version"] = server
        return Check("docker", OK, f"Docker CLI and daemon (server {server})", data=data)
    reason = _first_line(result.stderr) or _first_line(result.stdout) or "no answer"
    return Check(
        "docker",
        WARN,
        f"Docker CLI found but the daemon is not reachable: {reason}",
        DOCKER_START_FIX,
        data,
    )


def check_compose(*, runner: Runner = run_command, timeout: float = 2.0) -> Check:
    """Docker Compose: v2 (the ``docker compose`` plugin) or v1 (``docker-compose``)."""
    tried = []
    if shutil.which("docker"):
        try:
            result = runner(["docker", "compose", "version", "--short"], timeout)
            if result.returncode == 0 and _first_line(result.stdout):
                version = _first_line(result.stdout)
                return Check(
                    "compose",
                    OK,
                    f"Docker Compose v2 plugin ({version}): use `docker compose`",
                    data={"command": "docker compose", "version": version},
                )
            tried.append("`docker compose`")
        except subprocess.TimeoutExpired:
            tried.append("`docker compose` (timed out)")
    if shutil.which("docker-compose"):
        try:
            result = runner(["docker-compose", "version", "--short"], timeout)
            if result.returncode == 0 and _first_line(result.stdout):
                version = _first_line(result.stdout)
                return Check(
                    "compose",
                    OK,
                    f"Docker Compose standalone ({version}): use `docker-compose`",
                    data={"command": "docker-compose", "version": version},
                )
            tried.append("`docker-compose`")
        except subprocess.TimeoutExpired:
            tried.append("`docker-compose` (timed out)")
    detail = "no Docker Compose found"
    if tried:
        detail += " (tried " + " and ".join(tried) + ")"
    return Check(
        "compose",
        WARN,
        detail + "; the course uses it from the deployment modules on.",
        "Install the Compose plugin (`sudo apt-get install docker-compose-plugin`; "
        "Docker Desktop bundles it), then check `docker compose version`.",
    )


# --------------------------------------------------------------------------- resources


def _existing_parent(path: Path) -> Path:
    path = path.expanduser().absolute()
    for folder in (path, *path.parents):
        if folder.exists():
            return folder
    return Path(path.anchor or "/")


def check_disk(
    *,
    path: str | Path | None = None,
    disk_usage: Callable[[str], Any] = shutil.disk_usage,
    min_gb: float = MIN_DISK_GB,
) -> Check:
    """Free disk where the kit keeps its data (the course sizes its VM at 30 GB)."""
    if path is None:
        from ..config import cache_dir

        path = cache_dir()
    where = _existing_parent(Path(path))
    free_gb = disk_usage(str(where)).free / 1024**3
    data = {"path": str(where), "free_gb": round(free_gb, 1)}
    if free_gb < CRITICAL_DISK_GB:
        status = FAIL
    elif free_gb < min_gb:
        status = WARN
    else:
        return Check("disk", OK, f"{free_gb:.1f} GB free at {where}", data=data)
    return Check(
        "disk",
        status,
        f"only {free_gb:.1f} GB free at {where}; the course asks for {min_gb:g} GB.",
        f"Free some space, or give the machine (a cloud VM's volume) at least {min_gb:g} GB.",
        data,
    )


def total_memory_bytes() -> int | None:
    """Return the memory this process may use (a container's limit when lower), or None."""
    total = None
    try:
        import psutil

        total = int(psutil.virtual_memory().total)
    except Exception:
        try:
            pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
            total = int(pages) * int(size)
        except (ValueError, OSError, AttributeError):
            total = None
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and (total is None or int(text) < total):
            total = int(text)
    return total


def check_memory(
    *,
    total_bytes: Callable[[], int | None] = total_memory_bytes,
    min_gb: float = MIN_MEMORY_GB,
) -> Check:
    """Total memory: the homework's month peaks at about 4.2 GB with the course's code."""
    total = total_bytes()
    if total is None:
        return Check(
            "memory",
            WARN,
            "could not measure the memory of this machine.",
            f"Make sure it has at least {min_gb:g} GB (the homework month needs about 4.2 GB).",
        )
    gb = total / 1024**3
    data = {"total_gb": round(gb, 1)}
    if gb >= min_gb:
        return Check("memory", OK, f"{gb:.1f} GB of memory", data=data)
    return Check(
        "memory",
        WARN,
        f"{gb:.1f} GB of memory, below the {min_gb:g} GB the course's homework month needs.",
        "Use a bigger machine (the course's VM has 16 GB) or sample rows (`rows=` in read_trips).",
        data,
    )


def available_cpus() -> int | None:
    """Return the CPUs this process may run on, or None when unknown."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def check_cpus(
    *, cpus: Callable[[], int | None] = available_cpus, minimum: int = MIN_CPUS
) -> Check:
    """CPUs: one works, but Jupyter, Docker and a training run compete for it."""
    count = cpus()
    if count is None:
        return Check("cpus", WARN, "could not count the CPUs.", f"Use at least {minimum} CPUs.")
    data = {"cpus": count}
    if count >= minimum:
        return Check("cpus", OK, f"{count} CPUs", data=data)
    return Check(
        "cpus",
        WARN,
        f"{count} CPU, below the {minimum} the course's setup expects.",
        f"Use a machine (or VM / codespace type) with at least {minimum} CPUs.",
        data,
    )


# --------------------------------------------------------------------------- routes


def check_codespaces(*, env: Mapping[str, str] | None = None) -> Check:
    """GitHub Codespaces: detected from ``CODESPACES=true``, with the port-8888 hint."""
    env = os.environ if env is None else env
    if env.get("CODESPACES", "").strip().lower() != "true":
        return Check(
            "codespaces", OK, "not running in GitHub Codespaces", data={"codespaces": False}
        )
    name = env.get("CODESPACE_NAME", "")
    return Check(
        "codespaces",
        OK,
        "GitHub Codespaces detected"
        + (f" ({name})" if name else "")
        + ": open Jupyter through port 8888 in the Ports tab (forwarded automatically "
        "when `jupyter lab` starts; make it public only if you must).",
        data={"codespaces": True, "name": name},
    )


_SSH_KEYWORD = re.compile(r"^\s*(?P<key>[A-Za-z]+)\s*(?:=\s*|\s+)(?P<value>.*?)\s*$")


def _ssh_options(text: str) -> list[tuple[str, str]]:
    """Return (keyword, value) pairs of an ssh config, comments and blanks skipped."""
    pairs = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _SSH_KEYWORD.match(line)
        if match:
            value = match.group("value")
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            pairs.append((match.group("key").lower(), value))
    return pairs


def key_exposed(path: str | Path) -> bool:
    """True when a private key file is readable or writable by group or others.

    ssh refuses such keys ("UNPROTECTED PRIVATE KEY FILE"). Always False on Windows,
    where modes do not mean this.
    """
    if os.name == "nt":
        return False
    return bool(Path(path).stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def check_ssh(
    *, ssh_config: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Check:
    """For the cloud-VM route: Host entries in ``~/.ssh/config`` and their keys safe.

    Every ``IdentityFile`` named must exist and be unreadable by group and others.
    Without a config at the default place (``~/.ssh/config``) this check only says the
    route is not set up (OK): the other two routes do not need SSH. A config at another
    path that does not exist is a WARN (you asked about that file).
    """
    default = Path(DEFAULT_SSH_CONFIG).expanduser()
    path = Path(ssh_config).expanduser() if ssh_config is not None else default
    explicit = path != default
    setup_fix = "Write the VM's block with `mlops-kit ssh-config HOST IP KEY`."
    if not path.is_file():
        if explicit:
            return Check("ssh", WARN, f"no SSH config at {path}.", setup_fix)
        return Check(
            "ssh", OK, "no ~/.ssh/config (only the cloud-VM route needs one)", data={"hosts": []}
        )
    pairs = _ssh_options(path.read_text(encoding="utf-8", errors="replace"))
    hosts = [
        pattern
        for key, value in pairs
        if key == "host"
        for pattern in value.split()
        if not any(ch in pattern for ch in "*?!")
    ]
    data: dict[str, Any] = {"config": str(path), "hosts": hosts}
    if not hosts:
        return Check("ssh", WARN, f"{path} has no Host entry for a VM.", setup_fix, data)
    home = Path(env.get("HOME", "~") if env else "~").expanduser()
    exposed, missing = [], []
    for key, value in pairs:
        if key != "identityfile" or value.lower() == "none":
            continue
        if "%" in value.replace("%d", "") or "${" in value:
            continue  # tokens ssh fills per host: cannot check them here
        key_path = Path(value.replace("%d", str(home))).expanduser()
        if not key_path.is_file():
            missing.append(str(key_path))
        elif key_exposed(key_path):
            exposed.append(str(key_path))
    data.update(exposed=exposed, missing=missing)
    if exposed:
        return Check(
            "ssh",
            FAIL,
            f"private key readable by others (ssh refuses it): {', '.join(exposed)}.",
            "Run " + " && ".join(f"`chmod 400 {p}`" for p in exposed) + ".",
            data,
        )
    if missing:
        return Check(
            "ssh",
            WARN,
            f"{path} names key files that do not exist: {', '.join(missing)}.",
            "Copy the key there (then `chmod 400 KEY`) or correct its IdentityFile line "
            "(`mlops-kit ssh-config HOST IP KEY` rewrites the block).",
            data,
        )
    return Check(
        "ssh",
        OK,
        f"{len(hosts)} Host entr{'y' if len(hosts) == 1 else 'ies'} in {path}, keys private",
        data=data,
    )


# --------------------------------------------------------------------------- network


def _connect(host: str, port: int, timeout: float) -> None:
    socket.create_connection((host, port), timeout=timeout).close()


def check_network(
    *,
    network: bool = True,
    host: str = TLC_HOST,
    port: int = TLC_PORT,
    timeout: float = 2.0,
    connect: Callable[[str, int, float], None] = _connect,
    env: Mapping[str, str] | None = None,
) -> Check:
    """The TLC download host answers (a TCP connection within ``timeout`` seconds).

    Offline is a WARN, not a FAIL: the kit then reads ``MLOPS_KIT_DATA_DIR`` or uses
    seeded synthetic data with the real schema, and says so.
    """
    env = os.environ if env is None else env
    fix = (
        "Check your connection or proxy; meanwhile the kit uses seeded synthetic data "
        "(or set MLOPS_KIT_DATA_DIR to a folder of downloaded TLC files)."
    )
    data = {"host": host, "port": port}
    offline_env = env.get("MLOPS_KIT_OFFLINE", "").strip().lower() in {"1", "true", "yes"}
    if not network or offline_env:
        why = "MLOPS_KIT_OFFLINE is set" if offline_env else "the network check was turned off"
        return Check(
            "network",
            WARN,
            f"not tried ({why}): without the TLC host the kit falls back to synthetic data.",
            fix,
            data,
        )
    # getaddrinfo has no timeout of its own: run the attempt in a thread and stop waiting
    outcome: list[BaseException | None] = []

    def attempt():
        try:
            connect(host, port, timeout)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported, not raised
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    if outcome and outcome[0] is None:
        return Check("network", OK, f"TLC download host {host}:{port} reachable", data=data)
    reason = (
        f"{type(outcome[0]).__name__}: {outcome[0]}" if outcome else f"no answer in {timeout:g} s"
    )
    return Check(
        "network",
        WARN,
        f"TLC download host {host}:{port} not reachable ({reason}): "
        "the kit falls back to seeded synthetic data.",
        fix,
        data,
    )


# --------------------------------------------------------------------------- all checks

#: check name -> one line saying what it looks at (the order of the report)
CHECKS = {
    "python": "Python 3.10 or newer",
    "packages": "every package of environment.yml at a compatible version",
    "kernel": "the python3 Jupyter kernel the notebooks use",
    "docker": "Docker CLI, daemon reachable, no permission error",
    "compose": "Docker Compose v2 (docker compose) or v1 (docker-compose)",
    "disk": f"free disk ({MIN_DISK_GB:g} GB asked for on a VM)",
    "memory": f"memory ({MIN_MEMORY_GB:g} GB or more)",
    "cpus": f"CPUs ({MIN_CPUS} or more)",
    "codespaces": "GitHub Codespaces and its port 8888",
    "ssh": "~/.ssh/config Host entries and private keys (cloud-VM route)",
    "network": "the TLC download host",
}

#: the three setup routes of the module and the checks that prove each worked
ROUTES = {
    "codespaces": ("codespaces", "python", "packages", "kernel", "docker", "compose"),
    "cloud-vm": ("ssh", "python", "packages", "kernel", "docker", "compose", "disk", "memory"),
    "local": ("python", "packages", "kernel", "docker", "compose", "disk", "memory", "cpus"),
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
        "kernel": lambda: check_kernel(runner=runner),
        "docker": lambda: check_docker(runner=runner, timeout=timeout),
        "compose": lambda: check_compose(runner=runner, timeout=timeout),
        "disk": lambda: check_disk(path=data_path),
        "memory": lambda: check_memory(),
        "cpus": lambda: check_cpus(),
        "codespaces": lambda: check_codespaces(env=env),
        "ssh": lambda: check_ssh(ssh_config=ssh_config, env=env),
        "network": lambda: check_network(network=network, timeout=timeout, env=env),
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


def summary(checks: Sequence[Check]) -> dict[str, Any]:
    """Return the ``--json`` object: the checks, ``ok`` (no FAIL) and the counts."""
    return {
        "checks": [check.to_dict() for check in checks],
        "ok": all(check.ok for check in checks),
        "counts": counts(checks),
    }


def format_table(checks: Sequence[Check], *, details: bool = True) -> str:
    """Return the checks as a plain-text table, each fix on its own line below.

    Args:
        checks: the results of :func:`run_checks`.
        details: False leaves out the detail column (measured numbers and paths vary
            between machines and runs; the notebook's regression test needs stable text).
    """
    width = max([len(c.name) for c in checks] + [5])
    lines = []
    for check in checks:
        row = f"{check.status:<4}  {check.name:<{width}}"
        if details:
            row += f"  {check.detail}"
        lines.append(row.rstrip())
        if check.fix:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {check.fix}")
    found = counts(checks)
    verdict = "ready" if found[FAIL] == 0 else "fix the FAIL lines first"
    lines.append(f"{found[OK]} OK, {found[WARN]} WARN, {found[FAIL]} FAIL: {verdict}")
    return "\n".join(lines)


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


def to_frame(checks: Sequence[Check], *, details: bool = True):
    """Return the checks as a pandas DataFrame (columns check, status, [detail,] fix)."""
    import pandas as pd

    rows = [
        {"check": c.name, "status": c.status, "detail": c.detail, "fix": c.fix or ""}
        for c in checks
    ]
    frame = pd.DataFrame(rows, columns=["check", "status", "detail", "fix"])
    return frame if details else frame.drop(columns="detail")


#: background colours of the status column in a notebook
STATUS_COLOURS = {OK: "#d4edda", WARN: "#fff3cd", FAIL: "#f8d7da"}


def styled(checks: Sequence[Check], *, details: bool = True, uuid: str = "doctor"):
    """Return the checks as a pandas Styler with coloured statuses, for a notebook.

    The Styler gets a fixed ``uuid`` so its HTML is the same on every run (the
    notebook's regression test compares it).
    """
    frame = to_frame(checks, details=details)

    def colour(value):
        return f"background-color: {STATUS_COLOURS.get(value, '')}"

    return (
        frame.style.set_uuid(uuid)
        .map(colour, subset=["status"])
        .hide(axis="index")
        .set_properties(**{"text-align": "left"})
    )
