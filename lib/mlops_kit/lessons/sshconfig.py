"""Keep the cloud VM's ``Host`` block in ``~/.ssh/config`` up to date.

On the course's cloud-VM route you reach an EC2 (or similar) Ubuntu machine with
``ssh mlops-zoomcamp`` and VS Code Remote-SSH. Its public IP changes whenever the
instance restarts, so the ``HostName`` line must be edited again and again. This
module does that edit safely:

- only the named ``Host`` block changes; every other line, comment and blank line of
  the file stays byte for byte, and options you added to the block yourself are kept;
- a new block also gets the options a VM reached over the internet needs
  (:data:`DEFAULT_OPTIONS`): ``ServerAliveInterval 60`` so an idle session (VS Code,
  a Jupyter tunnel) is not dropped by a router, and ``StrictHostKeyChecking accept-new``
  with ``HostKeyAlias`` set to the alias. ``accept-new`` trusts a host key the first time
  it is seen and refuses one that changed later; ``no``, which many course notes use,
  accepts any key, so a machine in the middle would go unnoticed. The alias keys the
  known-hosts entry by name rather than by the IP that changes at every restart, so the
  check still means something after a restart. An existing block gets each of these only
  when it does not set that option itself;
- the previous file is kept as a timestamped backup next to it;
- the new file is written atomically with mode 600, and ``~/.ssh`` is created with
  mode 700 when missing.

Example:
    >>> update_host("~/.ssh/config", "mlops-zoomcamp", "3.120.55.10",
    ...             "~/.ssh/razer.pem")  # doctest: +SKIP
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import KitError
from ..fileio import atomic_write

DEFAULT_CONFIG = "~/.ssh/config"

#: options a block gets unless it sets them itself ({host} is the alias); see the docstring
DEFAULT_OPTIONS = {
    "ServerAliveInterval": "60",
    "StrictHostKeyChecking": "accept-new",
    "HostKeyAlias": "{host}",
}
#: values of StrictHostKeyChecking that accept any host key, even a changed one
UNCHECKED_HOST_KEYS = ("no", "off")

_HOST_ALIAS = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]*$")
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_OPTION = re.compile(r"^[A-Za-z]+$")
_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z]+)(?P<sep>\s*=\s*|\s+)(?P<value>.*?)\s*$")


class SshConfigError(KitError):
    """Bad input for the SSH config: an invalid host, address, user or key file."""


class KeyPermissionWarning(UserWarning):
    """The private key is readable by others: ssh will refuse it until ``chmod 400``."""


def validate_hostname(hostname: str) -> str:
    """Return ``hostname`` if it is an IPv4/IPv6 address or a DNS name; else raise.

    Raises:
        SshConfigError: with the fix (copy the public IPv4 from the cloud console).
    """
    value = (hostname or "").strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    looks_numeric = all(label.isdigit() for label in labels)
    if value and not looks_numeric and all(_DNS_LABEL.match(label) for label in labels):
        return value
    raise SshConfigError(
        f"{hostname!r} is neither an IP address nor a host name.",
        "Copy the VM's public IPv4 address (e.g. 3.120.55.10) or its public DNS name "
        "from the cloud console.",
    )


def validate_alias(host: str) -> str:
    """Return ``host`` if it can be a ``Host`` alias (no spaces, no wildcards); else raise."""
    value = (host or "").strip()
    if not _HOST_ALIAS.match(value):
        raise SshConfigError(
            f"{host!r} cannot be a Host alias (letters, digits, '.', '_', '-' only; no "
            "spaces or wildcards).",
            "Pick a short name such as mlops-zoomcamp; you will connect with `ssh NAME`.",
        )
    return value


def key_exposed(path: str | Path) -> bool:
    """True when a private key file is readable or writable by group or others.

    ssh refuses such keys ("UNPROTECTED PRIVATE KEY FILE"). Always False on Windows,
    where modes do not mean this.
    """
    if os.name == "nt":
        return False
    return bool(Path(path).stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def render_block(
    host: str,
    hostname: str,
    identity_file: str | Path,
    *,
    user: str = "ubuntu",
    extra: Mapping[str, str] | None = None,
    newline: str = "\n",
) -> str:
    """Return a fresh ``Host`` block (the text ``update_host`` appends for a new host)."""
    options = _options(hostname, identity_file, user, extra)
    lines = [f"Host {host}"]
    for key, value in {**options, **_defaults(host, options)}.items():
        lines.append(f"    {key} {value}")
    return newline.join(lines) + newline


def _quote(value: str) -> str:
    return f'"{value}"' if any(ch.isspace() for ch in value) else value


def _options(
    hostname: str, identity_file: str | Path, user: str, extra: Mapping[str, str] | None
) -> dict[str, str]:
    options = {
        "HostName": hostname,
        "User": user,
        "IdentityFile": _quote(str(identity_file)),
    }
    for key, value in (extra or {}).items():
        options[key] = str(value)
    return options


def _defaults(host: str, present: Mapping[str, str] | list[str]) -> dict[str, str]:
    """Return the :data:`DEFAULT_OPTIONS` whose keyword is not among ``present``."""
    have = {key.lower() for key in present}
    return {
        key: value.format(host=host)
        for key, value in DEFAULT_OPTIONS.items()
        if key.lower() not in have
    }


def _split_lines(text: str) -> list[str]:
    """Split on newlines only, keeping the line ends (``"".join`` gives the text back).

    ``str.splitlines`` would also split on form feeds and other separators, and the
    file must come back byte for byte.
    """
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _keyword(line: str) -> tuple[str, str] | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    match = _LINE.match(line.rstrip("\r\n"))
    if not match:
        return None
    return match.group("key").lower(), match.group("value")


def config_options(text: str) -> list[tuple[str, str]]:
    """Return the (keyword, value) pairs of an SSH config's text, in order.

    Keywords are lower-cased (ssh ignores their case), values keep theirs with one pair of
    surrounding double quotes removed; comments and blank lines are skipped. ``Host`` and
    ``Match`` lines come out as pairs too, so a reader sees which block each option is in.
    """
    pairs = []
    for line in text.splitlines():
        parsed = _keyword(line)
        if parsed is None:
            continue
        key, value = parsed
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        pairs.append((key, value))
    return pairs


def _find_block(lines: list[str], host: str) -> tuple[int, int] | None:
    """Return (start, end) of the block whose ``Host`` line is exactly ``host``.

    ``end`` is one past the block's last option line: comments and blank lines that
    come right before the next ``Host``/``Match`` line belong to what follows.

    Raises:
        SshConfigError: when ``host`` shares a ``Host`` line with other patterns.
    """
    start = None
    last_option = None
    for index, line in enumerate(lines):
        parsed = _keyword(line)
        if parsed is None:
            continue
        key, value = parsed
        if key in ("host", "match"):
            if start is not None:
                return start, last_option + 1
            patterns = value.split() if key == "host" else []
            if patterns == [host]:
                start = last_option = index
            elif host in patterns:
                raise SshConfigError(
                    f"The Host line {line.strip()!r} names {host!r} together with other "
                    "patterns, so changing it would change those hosts too.",
                    f"Edit that line by hand, or use another alias than {host!r}.",
                )
        elif start is not None:
            last_option = index
    if start is not None:
        return start, last_option + 1
    return None


def _insert_at(lines: list[str]) -> int:
    """Return where a new block goes: before the first ``Host *`` or ``Match``, else the end.

    ssh keeps the first value it finds for each option, so a block placed after
    ``Host *`` would lose every option that ``Host *`` also sets.
    """
    for index, line in enumerate(lines):
        parsed = _keyword(line)
        if parsed is None:
            continue
        key, value = parsed
        if key == "match" or (key == "host" and any("*" in p for p in value.split())):
            # keep the comments that introduce that block attached to it
            while index > 0 and lines[index - 1].lstrip().startswith("#"):
                index -= 1
            return index
    return len(lines)


def _updated_block(block: list[str], host: str, options: dict[str, str], newline: str) -> list[str]:
    """Set ``options`` inside an existing block, keeping its other lines and their order.

    The :data:`DEFAULT_OPTIONS` the block does not set yet are added after them.
    """
    present = [parsed[0] for parsed in map(_keyword, block[1:]) if parsed is not None]
    options = {**options, **_defaults(host, [*present, *options])}
    wanted = {key.lower(): (key, value) for key, value in options.items()}
    done: set[str] = set()
    result = [block[0]]
    indent = "    "
    for line in block[1:]:
        parsed = _keyword(line)
        if parsed is None or parsed[0] not in wanted:
            result.append(line)
            continue
        match = _LINE.match(line.rstrip("\r\n"))
        indent = match.group("indent") or indent
        key = parsed[0]
        if key in done:
            continue  # a second HostName/User/IdentityFile line would keep the old value
        done.add(key)
        name, value = wanted[key]
        ending = line[len(line.rstrip("\r\n")) :] or newline
        result.append(f"{match.group('indent')}{name} {value}{ending}")
    if result and not result[-1].endswith("\n"):
        result[-1] += newline
    for key, (name, value) in wanted.items():
        if key not in done:
            result.append(f"{indent}{name} {value}{newline}")
    return result


def host_block(config_path: str | Path, host: str) -> str | None:
    """Return the text of ``host``'s block in an SSH config, or None when absent."""
    path = Path(config_path).expanduser()
    if not path.is_file():
        return None
    lines = _split_lines(path.read_bytes().decode("utf-8", "surrogateescape"))
    found = _find_block(lines, host)
    return "".join(lines[found[0] : found[1]]) if found else None


def _backup_path(path: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.bak-{stamp}")
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.bak-{stamp}-{counter}")
        counter += 1
    return candidate


def update_host(
    config_path: str | Path,
    host: str,
    hostname: str,
    identity_file: str | Path,
    *,
    user: str = "ubuntu",
    extra: Mapping[str, str] | None = None,
) -> Path | None:
    """Write or update the ``Host`` block for ``host`` and only that block.

    Args:
        config_path: the SSH config (usually ``~/.ssh/config``); created when missing.
        host: the alias you will type (``ssh mlops-zoomcamp``).
        hostname: the VM's current public IP address or DNS name.
        identity_file: the private key (``.pem``) the cloud gave you; must exist.
        user: the login user (``ubuntu`` on the course's Ubuntu images).
        extra: more options for the block, e.g. ``{"LocalForward": "8888 localhost:8888"}``.

    Returns:
        The backup of the previous file, or None when there was no file or nothing
        changed (then nothing is written).

    Raises:
        SshConfigError: for an invalid alias, address, user or option, or a missing key.
    """
    host = validate_alias(host)
    hostname = validate_hostname(hostname)
    if not _USER.match(user or ""):
        raise SshConfigError(f"{user!r} is not a user name.", "Use the VM's login, e.g. ubuntu.")
    for key, value in (extra or {}).items():
        if not _OPTION.match(key) or key.lower() in ("host", "match") or "\n" in str(value):
            raise SshConfigError(
                f"{key!r} = {value!r} is not a valid option for a Host block.",
                "Pass ssh_config(5) keywords such as LocalForward or ServerAliveInterval.",
            )
    path = Path(config_path).expanduser()
    if path.is_symlink():  # a dotfiles manager's link: update the file it points to
        path = path.resolve()
    if path.is_dir():
        raise SshConfigError(
            f"The SSH config {path} is a folder, not a file.",
            f"Give the path of the config file itself, e.g. {path / 'config'} "
            f"(the usual one is {DEFAULT_CONFIG}).",
        )
    key_path = Path(identity_file).expanduser().absolute()
    if key_path.is_dir():
        keys = sorted(p.name for p in key_path.glob("*.pem"))
        fix = (
            "Give the path of the private key (.pem) you downloaded when creating the VM, "
            "not of the folder it is in."
        )
        if keys:
            fix = f"Give the key file itself, e.g. {key_path / keys[0]} (.pem files there: "
            fix += f"{', '.join(keys)})."
        raise SshConfigError(f"The key {key_path} is a folder, not a private key file.", fix)
    if not key_path.is_file():
        raise SshConfigError(
            f"The key file {key_path} does not exist.",
            "Pass the path of the private key (.pem) you downloaded when creating the VM.",
        )
    if key_exposed(key_path):
        warnings.warn(
            f"{key_path} is readable by others and ssh will refuse it: run `chmod 400 {key_path}`",
            KeyPermissionWarning,
            stacklevel=2,
        )

    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
        os.chmod(path.parent, 0o700)  # mkdir's mode is filtered by the umask
    old = path.read_bytes() if path.exists() else None
    text = old.decode("utf-8", "surrogateescape") if old is not None else ""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = _split_lines(text)
    options = _options(hostname, key_path, user, extra)
    found = _find_block(lines, host)
    if found:
        start, end = found
        lines[start:end] = _updated_block(lines[start:end], host, options, newline)
    else:
        block = render_block(host, hostname, key_path, user=user, extra=extra, newline=newline)
        at = _insert_at(lines)
        if at > 0 and not lines[at - 1].endswith("\n"):
            lines[at - 1] += newline
        before = [newline] if at > 0 and lines[at - 1].strip() else []
        after = [newline] if at < len(lines) else []
        lines[at:at] = [*before, block, *after]
    new = "".join(lines).encode("utf-8", "surrogateescape")
    if new == old:
        return None
    backup = None
    if old is not None:
        backup = _backup_path(path)
        shutil.copy2(path, backup)
        os.chmod(backup, 0o600)
    atomic_write(path, new, mode=0o600, fsync=True)
    return backup


def connect_steps(host: str) -> dict[str, str]:
    """Return how to use a host's block: from a shell, from VS Code, and Jupyter's port 8888."""
    return {
        "ssh": f"ssh {host}",
        "vscode": f"VS Code: Remote-SSH: Connect to Host... -> {host}",
        "jupyter": f"ssh -L 8888:localhost:8888 {host}   then open http://localhost:8888 "
        "with the token `jupyter lab` printed on the VM (`jupyter server list` shows it)",
    }


@dataclass(frozen=True)
class HostUpdate:
    """What :func:`configure_host` did: the block as written, the backup, and what to do next.

    Attributes:
        config: the SSH config that was edited.
        host: the alias.
        block: the host's block as it now stands in the file.
        backup: the copy of the previous file, or None (no file before, or nothing changed).
        changed: True when the file was created or rewritten.
        warnings: what the person must still fix (a key others can read, a block that
            accepts any host key).
        connect: how to connect (see :func:`connect_steps`).
    """

    config: Path
    host: str
    block: str
    backup: Path | None
    changed: bool
    warnings: list[str] = field(default_factory=list)
    connect: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the update as plain JSON-able values (paths as strings)."""
        return {
            "config": str(self.config),
            "host": self.host,
            "block": self.block,
            "backup": str(self.backup) if self.backup else None,
            "changed": self.changed,
            "warnings": list(self.warnings),
            "connect": dict(self.connect),
        }


def configure_host(
    config_path: str | Path,
    host: str,
    hostname: str,
    identity_file: str | Path,
    *,
    user: str = "ubuntu",
    extra: Mapping[str, str] | None = None,
) -> HostUpdate:
    """Write or update ``host``'s block (see :func:`update_host`) and report what happened.

    What ``mlops-kit ssh-config`` shows: the block as written, the backup, a key that ssh
    would refuse (as a warning to print, not raised) and how to connect.

    Raises:
        SshConfigError: as :func:`update_host` does.
    """
    config = Path(config_path).expanduser()
    existed = config.is_file()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", KeyPermissionWarning)
        backup = update_host(config, host, hostname, identity_file, user=user, extra=extra)
    block = host_block(config, host) or ""
    notes = []
    checking = dict(config_options(block)).get("stricthostkeychecking", "").lower()
    if checking in UNCHECKED_HOST_KEYS:
        notes.append(
            f"the block sets StrictHostKeyChecking {checking}: ssh then accepts any host key, "
            "even one that changed (a machine in the middle); `accept-new` trusts a new "
            "host's key once and refuses a changed one"
        )
    for warning in caught:
        if issubclass(warning.category, KeyPermissionWarning):
            notes.append(str(warning.message))
        else:  # not ours to report: pass it on as it came
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return HostUpdate(
        config=config,
        host=host,
        block=block,
        backup=backup,
        changed=backup is not None or not existed,
        warnings=notes,
        connect=connect_steps(host),
    )
