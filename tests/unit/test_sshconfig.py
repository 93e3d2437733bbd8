"""update_host: only the VM's Host block changes; backups, modes, bad input, the CLI."""

from __future__ import annotations

import json
import os
import re
import stat
import warnings

import pytest

from mlops_kit.cli import main
from mlops_kit.lessons import sshconfig
from mlops_kit.lessons.sshconfig import KeyPermissionWarning, SshConfigError, update_host

EXISTING = (
    "# personal settings, keep me\n"
    "Host github.com\n"
    "  User git\n"
    "  IdentityFile ~/.ssh/id_ed25519\n"
    "\n"
    "# the course VM\n"
    "Host mlops-zoomcamp\n"
    "  HostName 3.120.55.10\n"
    "  User ubuntu\n"
    "  # tunnel for jupyter\n"
    "  LocalForward 8888 localhost:8888\n"
    "  IdentityFile ~/.ssh/old.pem\n"
    "  IdentityFile ~/.ssh/older.pem\n"
    "\n"
    "# defaults for every host\n"
    "Host *\n"
    "  ServerAliveInterval 60\n"
)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def _defaults(host, indent="    ", newline="\n"):
    """The lines every new block ends with (keep-alive and host-key checking)."""
    return (
        f"{indent}ServerAliveInterval 60{newline}"
        f"{indent}StrictHostKeyChecking accept-new{newline}"
        f"{indent}HostKeyAlias {host}{newline}"
    )


@pytest.fixture
def key(tmp_path):
    path = tmp_path / "razer.pem"
    path.write_text("-----BEGIN RSA PRIVATE KEY-----\n")
    path.chmod(0o400)
    return path


def test_new_file_and_ssh_folder(tmp_path, key):
    config = tmp_path / "home" / ".ssh" / "config"
    backup = update_host(config, "mlops-zoomcamp", "3.120.55.10", key)
    assert backup is None
    assert config.read_text() == (
        f"Host mlops-zoomcamp\n    HostName 3.120.55.10\n    User ubuntu\n    IdentityFile {key}\n"
        + _defaults("mlops-zoomcamp")
    )
    assert _mode(config) == 0o600
    assert _mode(config.parent) == 0o700


def test_update_changes_only_that_block(tmp_path, key):
    config = tmp_path / "config"
    config.write_text(EXISTING)
    backup = update_host(config, "mlops-zoomcamp", "18.194.7.21", key)
    expected = EXISTING.replace("HostName 3.120.55.10", "HostName 18.194.7.21").replace(
        "  IdentityFile ~/.ssh/old.pem\n  IdentityFile ~/.ssh/older.pem\n",
        f"  IdentityFile {key}\n" + _defaults("mlops-zoomcamp", indent="  "),
    )
    assert config.read_text() == expected
    # every byte outside the block is unchanged
    before, after = config.read_text().split("Host mlops-zoomcamp\n")
    assert EXISTING.startswith(before)
    assert after.endswith(EXISTING[EXISTING.index("\n# defaults") :])
    assert backup is not None and backup.read_text() == EXISTING
    assert _mode(config) == 0o600


def test_backup_is_timestamped_and_kept(tmp_path, key):
    config = tmp_path / "config"
    config.write_text(EXISTING)
    first = update_host(config, "mlops-zoomcamp", "18.194.7.21", key)
    second = update_host(config, "mlops-zoomcamp", "18.194.7.22", key)
    assert re.fullmatch(r"config\.bak-\d{8}-\d{6}(-\d+)?", first.name)
    assert first != second and first.exists() and second.exists()
    assert first.read_text() == EXISTING
    assert "18.194.7.21" in second.read_text()
    assert _mode(first) == 0o600


def test_nothing_changed_writes_nothing(tmp_path, key):
    config = tmp_path / "config"
    config.write_text(EXISTING)
    update_host(config, "mlops-zoomcamp", "18.194.7.21", key)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert update_host(config, "mlops-zoomcamp", "18.194.7.21", key) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == files


def test_new_host_goes_before_host_star(tmp_path, key):
    config = tmp_path / "config"
    config.write_text(EXISTING)
    update_host(config, "second-vm", "10.0.0.7", key, user="admin")
    text = config.read_text()
    block = f"Host second-vm\n    HostName 10.0.0.7\n    User admin\n    IdentityFile {key}\n"
    block += _defaults("second-vm")
    assert block in text
    assert text.index(block) < text.index("# defaults for every host")
    assert text.replace(block + "\n", "") == EXISTING


def test_no_trailing_newline_and_crlf_are_kept(tmp_path, key):
    config = tmp_path / "config"
    original = "Host github.com\r\n  User git"
    config.write_bytes(original.encode())
    update_host(config, "vm", "1.2.3.4", key)
    data = config.read_bytes().decode()
    assert data.startswith("Host github.com\r\n  User git\r\n\r\nHost vm\r\n")
    assert "\n" not in data.replace("\r\n", "")


def test_extra_options_and_ipv6(tmp_path, key):
    config = tmp_path / "config"
    update_host(config, "vm", "2001:db8::1", key, extra={"LocalForward": "8888 localhost:8888"})
    assert "    HostName 2001:db8::1\n" in config.read_text()
    assert "    LocalForward 8888 localhost:8888\n" in config.read_text()
    assert sshconfig.host_block(config, "vm").startswith("Host vm\n")
    assert sshconfig.host_block(config, "other") is None


def test_host_shared_with_other_patterns_is_refused(tmp_path, key):
    config = tmp_path / "config"
    config.write_text("Host vm other\n  User ubuntu\n")
    with pytest.raises(SshConfigError, match="together with other patterns"):
        update_host(config, "vm", "1.2.3.4", key)
    assert config.read_text() == "Host vm other\n  User ubuntu\n"


@pytest.mark.parametrize(
    ("host", "ip", "user", "match"),
    [
        ("vm", "1.2.3.999", "ubuntu", "neither an IP address"),
        ("vm", "not an ip", "ubuntu", "neither an IP address"),
        ("vm", "", "ubuntu", "neither an IP address"),
        ("my vm", "1.2.3.4", "ubuntu", "cannot be a Host alias"),
        ("vm*", "1.2.3.4", "ubuntu", "cannot be a Host alias"),
        ("vm", "1.2.3.4", "ubu ntu", "not a user name"),
    ],
)
def test_bad_input_is_refused_with_a_fix(tmp_path, key, host, ip, user, match):
    config = tmp_path / "config"
    config.write_text(EXISTING)
    with pytest.raises(SshConfigError, match=match) as info:
        update_host(config, host, ip, key, user=user)
    assert info.value.fix
    assert config.read_text() == EXISTING
    assert list(tmp_path.glob("config.bak-*")) == []


def test_missing_key_is_refused(tmp_path):
    with pytest.raises(SshConfigError, match="does not exist") as info:
        update_host(tmp_path / "config", "vm", "1.2.3.4", tmp_path / "absent.pem")
    assert ".pem" in info.value.fix
    assert not (tmp_path / "config").exists()


def test_bad_extra_option_is_refused(tmp_path, key):
    with pytest.raises(SshConfigError):
        update_host(tmp_path / "config", "vm", "1.2.3.4", key, extra={"Host": "evil"})
    with pytest.raises(SshConfigError):
        update_host(tmp_path / "config", "vm", "1.2.3.4", key, extra={"User": "a\nHost *"})


def test_key_readable_by_others_warns_chmod_400(tmp_path, key):
    key.chmod(0o644)
    with pytest.warns(KeyPermissionWarning, match="chmod 400"):
        update_host(tmp_path / "config", "vm", "1.2.3.4", key)


def test_private_key_does_not_warn(tmp_path, key):
    with warnings.catch_warnings():
        warnings.simplefilter("error", KeyPermissionWarning)
        update_host(tmp_path / "config", "vm", "1.2.3.4", key)


def test_symlinked_config_stays_a_link(tmp_path, key):
    target = tmp_path / "dotfiles" / "ssh_config"
    target.parent.mkdir()
    target.write_text(EXISTING)
    link = tmp_path / "config"
    link.symlink_to(target)
    update_host(link, "mlops-zoomcamp", "18.194.7.21", key)
    assert link.is_symlink()
    assert "HostName 18.194.7.21" in target.read_text()


def test_failed_write_keeps_the_old_file(tmp_path, key, monkeypatch):
    config = tmp_path / "config"
    config.write_text(EXISTING)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        update_host(config, "mlops-zoomcamp", "18.194.7.21", key)
    assert config.read_text() == EXISTING
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# --------------------------------------------------------------------------- CLI


def test_cli_prints_block_and_how_to_connect(tmp_path, key, capsys):
    config = tmp_path / "config"
    config.write_text(EXISTING)
    code = main(["ssh-config", "mlops-zoomcamp", "18.194.7.21", str(key), "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 0
    assert "  HostName 18.194.7.21" in out
    assert "ssh mlops-zoomcamp" in out
    assert "ssh -L 8888:localhost:8888 mlops-zoomcamp" in out
    assert "Remote-SSH" in out
    assert "backup: " in out


def test_cli_json_reports_warning_and_backup(tmp_path, key, capsys):
    key.chmod(0o644)
    config = tmp_path / "config"
    config.write_text(EXISTING)
    code = main(
        ["ssh-config", "vm", "1.2.3.4", str(key), "--config", str(config), "--user", "ec2-user"]
    )
    capsys.readouterr()
    assert code == 0
    code = main(["ssh-config", "vm", "1.2.3.5", str(key), "--config", str(config), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["changed"] is True and out["backup"]
    assert out["block"].startswith("Host vm\n") and "HostName 1.2.3.5" in out["block"]
    assert "User ubuntu" in out["block"]
    assert any("chmod 400" in w for w in out["warnings"])
    assert out["connect"]["jupyter"].startswith("ssh -L 8888:localhost:8888 vm")


def test_cli_bad_ip_prints_one_paragraph(tmp_path, key, capsys):
    code = main(["ssh-config", "vm", "300.1.1.1", str(key), "--config", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2
    assert "neither an IP address" in err and "Fix:" in err
    assert "Traceback" not in err


def test_config_options_reads_keywords_in_order():
    text = '# c\nHost vm\n  HostName=1.2.3.4\n  IdentityFile "/k with space.pem"\n\nHost *\n'
    assert sshconfig.config_options(text) == [
        ("host", "vm"),
        ("hostname", "1.2.3.4"),
        ("identityfile", "/k with space.pem"),
        ("host", "*"),
    ]


def test_configure_host_reports_block_backup_and_warning(tmp_path, key):
    key.chmod(0o644)
    config = tmp_path / "config"
    first = sshconfig.configure_host(config, "vm", "1.2.3.4", key)
    assert (first.changed, first.backup) == (True, None)
    assert any("chmod 400" in w for w in first.warnings)
    key.chmod(0o400)
    again = sshconfig.configure_host(config, "vm", "1.2.3.4", key)
    assert (again.changed, again.backup, again.warnings) == (False, None, [])
    moved = sshconfig.configure_host(config, "vm", "1.2.3.5", key)
    assert moved.changed and moved.backup.is_file()
    assert moved.to_dict()["block"] == sshconfig.host_block(config, "vm")
    assert moved.to_dict()["connect"]["ssh"] == "ssh vm"


def test_a_block_keeps_its_own_keepalive_and_host_key_options(tmp_path, key):
    config = tmp_path / "config"
    config.write_text(
        "Host vm\n  HostName 1.2.3.4\n  ServerAliveInterval 15\n  StrictHostKeyChecking yes\n"
    )
    update_host(config, "vm", "1.2.3.5", key)
    text = config.read_text()
    assert "ServerAliveInterval 15\n" in text and "ServerAliveInterval 60" not in text
    assert "StrictHostKeyChecking yes\n" in text and "accept-new" not in text
    assert text.endswith("  HostKeyAlias vm\n")  # the one default the block lacked


def test_extra_options_win_over_the_defaults(tmp_path, key):
    config = tmp_path / "config"
    update_host(config, "vm", "1.2.3.4", key, extra={"serveraliveinterval": "30"})
    options = dict(sshconfig.config_options(config.read_text()))
    assert options["serveraliveinterval"] == "30"
    assert options["stricthostkeychecking"] == "accept-new"
    assert options["hostkeyalias"] == "vm"


def test_a_block_that_accepts_any_host_key_is_reported(tmp_path, key):
    config = tmp_path / "config"
    config.write_text("Host vm\n  HostName 1.2.3.4\n  StrictHostKeyChecking no\n")
    result = sshconfig.configure_host(config, "vm", "1.2.3.5", key)
    assert "StrictHostKeyChecking no\n" in result.block  # the person's choice is kept
    assert any("accepts any host key" in w and "accept-new" in w for w in result.warnings)


def test_config_that_is_a_folder_is_refused_naming_it(tmp_path, key):
    with pytest.raises(SshConfigError, match="is a folder, not a file") as info:
        update_host(tmp_path, "vm", "1.2.3.4", key)
    assert str(tmp_path) in str(info.value) and str(tmp_path / "config") in info.value.fix


@pytest.mark.parametrize("pems", [[], ["vm.pem"]])
def test_key_that_is_a_folder_is_refused_naming_it(tmp_path, pems):
    folder = tmp_path / "keys"
    folder.mkdir()
    for name in pems:
        (folder / name).write_text("k")
    with pytest.raises(SshConfigError, match="is a folder, not a private key file") as info:
        update_host(tmp_path / "config", "vm", "1.2.3.4", folder)
    assert "does not exist" not in str(info.value)
    if pems:
        assert str(folder / "vm.pem") in info.value.fix
    else:
        assert ".pem" in info.value.fix
    assert not (tmp_path / "config").exists()


@pytest.mark.parametrize("where", ["config", "key"])
def test_cli_folder_for_a_file_is_one_paragraph(tmp_path, key, capsys, where):
    folder = tmp_path / "folder"
    folder.mkdir()
    args = ["ssh-config", "vm", "1.2.3.4", str(key), "--config", str(tmp_path / "cfg")]
    args[3 if where == "key" else 5] = str(folder)
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert f"{folder} is a folder" in err and "Fix:" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_jupyter_step_mentions_the_token(tmp_path, key, capsys):
    main(["ssh-config", "vm", "1.2.3.4", str(key), "--config", str(tmp_path / "c"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert "token" in out["connect"]["jupyter"]
    assert "ServerAliveInterval 60" in out["block"]
