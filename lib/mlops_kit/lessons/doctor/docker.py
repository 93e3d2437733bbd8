"""The ``docker`` and ``compose`` checks: Docker's CLI and daemon, and Docker Compose.

Module 1 runs without Docker; the course needs it (and Compose) from the deployment
module on. A missing Docker is therefore a WARN, while a Docker this user may not use
(``permission denied ... docker.sock``) is a FAIL: it is installed but broken, and the fix
is known.
"""

from __future__ import annotations

import shutil
import subprocess

from .verdict import FAIL, OK, WARN, Check, Runner, first_line, run_command

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
    server = first_line(result.stdout)
    if result.returncode == 0 and server and not server.startswith("<"):
        data["server_version"] = server
        return Check("docker", OK, f"Docker CLI and daemon (server {server})", data=data)
    reason = first_line(result.stderr) or first_line(result.stdout) or "no answer"
    return Check(
        "docker",
        WARN,
        f"Docker CLI found but the daemon is not reachable: {reason}",
        DOCKER_START_FIX,
        data,
    )


#: the two ways Compose is installed, newest first: (command, how the detail names it)
COMPOSE_COMMANDS = (
    (("docker", "compose"), "Docker Compose v2 plugin"),
    (("docker-compose",), "Docker Compose standalone"),
)


def check_compose(*, runner: Runner = run_command, timeout: float = 2.0) -> Check:
    """Docker Compose: v2 (the ``docker compose`` plugin) or v1 (``docker-compose``)."""
    tried = []
    for command, label in COMPOSE_COMMANDS:
        if not shutil.which(command[0]):
            continue
        shown = " ".join(command)
        try:
            result = runner([*command, "version", "--short"], timeout)
        except subprocess.TimeoutExpired:
            tried.append(f"`{shown}` (timed out)")
            continue
        version = first_line(result.stdout)
        if result.returncode == 0 and version:
            return Check(
                "compose",
                OK,
                f"{label} ({version}): use `{shown}`",
                data={"command": shown, "version": version},
            )
        tried.append(f"`{shown}`")
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
