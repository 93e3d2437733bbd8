"""The checks of the ways in: ``codespaces``, ``ssh`` (the cloud VM's config) and ``network``.

- ``codespaces`` says whether this is a GitHub Codespace and how to reach its Jupyter;
- ``ssh`` reads ``~/.ssh/config`` the way :mod:`~mlops_kit.lessons.sshconfig` writes it
  and checks that every key it names exists and is private (ssh refuses the others);
- ``network`` tries the TLC download host, in a thread so a DNS lookup that hangs cannot
  hang the doctor. Offline is a WARN: the kit then falls back to synthetic data.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..sshconfig import DEFAULT_CONFIG, config_options, key_exposed
from .verdict import FAIL, OK, WARN, Check

#: the host serving the TLC trip-record parquet files
TLC_HOST = "d37ci6vzurychx.cloudfront.net"
TLC_PORT = 443


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


def check_ssh(
    *, ssh_config: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Check:
    """For the cloud-VM route: Host entries in ``~/.ssh/config`` and their keys safe.

    Every ``IdentityFile`` named must exist and be unreadable by group and others.
    Without a config at the default place (``~/.ssh/config``) this check only says the
    route is not set up (OK): the other two routes do not need SSH. A config at another
    path that does not exist is a WARN (you asked about that file).
    """
    default = Path(DEFAULT_CONFIG).expanduser()
    path = Path(ssh_config).expanduser() if ssh_config is not None else default
    explicit = path != default
    setup_fix = "Write the VM's block with `mlops-kit ssh-config HOST IP KEY`."
    if not path.is_file():
        if explicit:
            return Check("ssh", WARN, f"no SSH config at {path}.", setup_fix)
        return Check(
            "ssh", OK, "no ~/.ssh/config (only the cloud-VM route needs one)", data={"hosts": []}
        )
    pairs = config_options(path.read_text(encoding="utf-8", errors="replace"))
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
