"""Each doctor check, with the condition it looks at faked: verdict and fix."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlops_kit.cli import main
from mlops_kit.lessons import doctor
from mlops_kit.lessons.doctor import FAIL, OK, WARN, Check, packages, run

PERMISSION_ERROR = (
    "permission denied while trying to connect to the Docker daemon socket at "
    'unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.24/version": '
    "dial unix /var/run/docker.sock: connect: permission denied"
)


# --------------------------------------------------------------------------- fakes


@pytest.fixture
def fake_bin(tmp_path, monkeypatch):
    """A folder that is the whole PATH; ``add(name, script)`` puts a fake command in it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))

    def add(name: str, body: str) -> Path:
        path = folder / name
        path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
        path.chmod(0o755)
        return path

    return add


DOCKER_WORKS = """\
if [ "$1" = "version" ]; then echo "27.3.1"; exit 0; fi
if [ "$1" = "compose" ]; then echo "2.29.7"; exit 0; fi
exit 1
"""

DOCKER_PERMISSION = f"""\
if [ "$1" = "compose" ]; then echo "2.29.7"; exit 0; fi
echo '{PERMISSION_ERROR}' >&2
exit 1
"""

DOCKER_NO_DAEMON = """\
echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." \\
  "Is the docker daemon running?" >&2
exit 1
"""


# --------------------------------------------------------------------------- python


def test_python_new_enough_is_ok():
    check = doctor.check_python(version_info=(3, 11, 7))
    assert (check.status, check.fix) == (OK, None)
    assert check.data["version"] == "3.11.7"


def test_python_too_old_fails_with_fix():
    check = doctor.check_python(version_info=(3, 9, 18))
    assert check.status == FAIL
    assert "3.9.18" in check.detail
    assert "environment.yml" in check.fix


def test_python_this_interpreter_passes():
    assert doctor.check_python().status == OK


# --------------------------------------------------------------------------- packages

ENV_YML = """\
name: test-env
channels:
  - conda-forge
dependencies:
  - python=3.11          # skipped: the python check covers it
  - pip
  - numpy>=999.0         # far too new to be installed
  - definitely-not-installed-pkg-xyz>=1.0
  - pyyaml>=5.1
  - pip:
      - -e .
      - pytest>=1.0
"""


def test_packages_missing_and_too_old_fail_with_pip_fix(tmp_path):
    env = tmp_path / "environment.yml"
    env.write_text(ENV_YML)
    check = doctor.check_packages(environment_file=env)
    assert check.status == FAIL
    assert "definitely-not-installed-pkg-xyz missing" in check.detail
    assert "numpy" in check.detail and "needs >=999.0" in check.detail
    assert check.fix.startswith("pip install ")
    assert "'definitely-not-installed-pkg-xyz>=1.0'" in check.fix
    assert "'numpy>=999.0'" in check.fix
    assert "conda env update -f environment.yml" in check.fix
    assert check.data["required"] == 4  # numpy, the missing one, pyyaml, pytest
    assert "pyyaml" not in check.fix


def test_packages_all_present_is_ok(tmp_path):
    env = tmp_path / "environment.yml"
    env.write_text("dependencies:\n  - numpy>=1.0\n  - pip:\n      - pyyaml>=5\n")
    check = doctor.check_packages(environment_file=env)
    assert check.status == OK, check.detail
    assert check.fix is None
    assert "all 2 packages" in check.detail


def test_packages_conda_fuzzy_pin_is_compared(tmp_path):
    env = tmp_path / "environment.yml"
    env.write_text("dependencies:\n  - numpy=1.2\n")
    check = doctor.check_packages(environment_file=env)
    assert check.status == FAIL
    assert "'numpy==1.2.*'" in check.fix


def test_packages_fake_versions():
    reqs = [doctor.Requirement("pandas", ">=2.2"), doctor.Requirement("torch", ">=2")]
    versions = {"pandas": "2.1.4", "torch": "2.3.0"}
    check = doctor.check_packages(requirements=reqs, version_of=versions.get)
    assert check.status == FAIL
    assert "pandas 2.1.4 (needs >=2.2)" in check.detail
    assert "torch" not in check.detail


def test_packages_missing_environment_file_is_a_warn(tmp_path):
    check = doctor.check_packages(environment_file=tmp_path / "nope.yml")
    assert check.status == WARN
    assert "not found" in check.detail


def test_packages_from_elsewhere_use_the_editable_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check = doctor.check_packages()
    assert check.data["source"] == "environment.yml"


def test_packages_outside_any_checkout_use_the_kits_requirements(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("mlops_kit.config.repo_root", lambda start=None: None)
    check = doctor.check_packages()
    assert check.data["source"] == "mlops-kit's requirements"
    assert check.status == OK, check.detail
    assert check.data["required"] >= 10


def test_packages_of_the_repository_environment_are_installed():
    root = Path(__file__).resolve().parents[2]
    check = doctor.check_packages(environment_file=root / "environment.yml")
    assert check.status == OK, check.detail


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("pandas>=2.2  # trip tables", ("pandas", ">=2.2")),
        ("conda-forge::scikit-learn>=1.4", ("scikit-learn", ">=1.4")),
        ("pytorch>=2.1", ("torch", ">=2.1")),
        ("numpy=1.26", ("numpy", "==1.26.*")),
        ("numpy 1.26.*", ("numpy", "==1.26.*")),
        ("seaborn", ("seaborn", "")),
        ("scipy>=1.11,<2", ("scipy", ">=1.11,<2")),
    ],
)
def test_parse_conda_dependency(entry, expected):
    req = doctor.parse_conda_dependency(entry)
    assert (req.name, req.specifier) == expected


@pytest.mark.parametrize("entry", ["python=3.11", "pip", "nodejs>=18"])
def test_parse_conda_dependency_skips_non_packages(entry):
    assert doctor.parse_conda_dependency(entry) is None


@pytest.mark.parametrize("entry", ["-e .", "-r requirements.txt", "git+https://x/y.git", "./pkg"])
def test_parse_pip_dependency_skips_local_and_urls(entry):
    assert doctor.parse_pip_dependency(entry) is None


def test_line_parser_agrees_with_yaml():
    root = Path(__file__).resolve().parents[2]
    for text in (ENV_YML, (root / "environment.yml").read_text()):
        by_lines = packages._dependency_entries_by_lines(text)
        by_yaml = packages._dependency_entries(text)
        strip = lambda entries: [e.split("#")[0].strip() for e in entries]  # noqa: E731
        assert [strip(x) for x in by_lines] == [strip(x) for x in by_yaml]
        assert by_lines[1]  # the pip list was found


# --------------------------------------------------------------------------- imports


def _fake_package(folder: Path, name: str, body: str) -> Path:
    """A package ``name`` in ``folder`` whose import runs ``body`` (it shadows the real one)."""
    package = folder / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(body))
    return folder


def test_imports_of_this_environment_are_ok():
    check = doctor.check_imports()
    assert check.status == OK, check.detail
    assert list(check.data["versions"]) == [dist for dist, _ in doctor.STACK]


def test_imports_numpy_binary_mismatch_fails_with_its_fix(tmp_path):
    # what pyarrow built against numpy 1.x says next to numpy 2
    fake = _fake_package(
        tmp_path,
        "pyarrow",
        """\
        import sys
        sys.stderr.write("A module that was compiled using NumPy 1.x cannot be run in\\n"
                         "NumPy 2.4.6 as it may crash.\\n")
        raise ImportError("numpy.core.multiarray failed to import")
        """,
    )
    check = doctor.check_imports(paths=[str(fake)])
    assert check.status == FAIL
    assert check.data["failed"] == ["pyarrow"]
    assert "numpy" in check.data["versions"] and "pandas" in check.data["versions"]
    assert "pyarrow failed to import" in check.detail and "binary mismatch" in check.detail
    assert "--force-reinstall numpy scipy pandas pyarrow" in check.fix
    assert "numpy<2" in check.fix


def test_imports_dtype_size_changed_is_a_mismatch(tmp_path):
    fake = _fake_package(
        tmp_path,
        "pandas",
        """\
        raise ValueError("numpy.dtype size changed, may indicate binary incompatibility. "
                         "Expected 96 from C header, got 88 from PyObject")
        """,
    )
    check = doctor.check_imports(stack=doctor.STACK[:3], paths=[str(fake)])
    assert check.status == FAIL
    assert check.data["failed"] == ["pandas"]
    assert "ValueError: numpy.dtype size changed" in check.detail
    assert "--force-reinstall" in check.fix


def test_imports_crash_names_the_library(tmp_path):
    fake = _fake_package(tmp_path, "scipy", "import os\nos.abort()\n")
    check = doctor.check_imports(stack=doctor.STACK[:3], paths=[str(fake)])
    assert check.status == FAIL
    assert check.data["crashed"] == "scipy"
    assert "died while importing scipy" in check.detail and "SIGABRT" in check.detail
    assert check.data["versions"] == {"numpy": check.data["versions"]["numpy"]}


def test_imports_missing_library_gets_pip_install(tmp_path):
    check = doctor.check_imports(stack=[("nosuchlib-xyz", "nosuchlib_xyz")])
    assert check.status == FAIL
    assert check.fix.startswith("pip install nosuchlib-xyz ")
    assert "ModuleNotFoundError" in check.detail


def test_imports_other_error_gets_reinstall(tmp_path):
    fake = _fake_package(tmp_path, "matplotlib", "raise RuntimeError('broken font cache')\n")
    check = doctor.check_imports(stack=doctor.STACK[-1:], paths=[str(fake)])
    assert check.status == FAIL
    assert "RuntimeError: broken font cache" in check.detail
    assert "pip install --force-reinstall matplotlib" in check.fix


def test_imports_that_hang_are_a_warn():
    def slow(args, timeout):
        raise subprocess.TimeoutExpired(args, timeout)

    check = doctor.check_imports(runner=slow, timeout=1)
    assert check.status == WARN
    assert "within 1 s" in check.detail


# --------------------------------------------------------------------------- data folder


def test_data_folder_unset_is_ok(monkeypatch):
    monkeypatch.delenv("MLOPS_KIT_DATA_DIR", raising=False)
    check = doctor.check_data()
    assert (check.status, check.data["folder"]) == (OK, None)
    assert "not set" in check.detail


def test_data_folder_with_a_typo_fails_naming_it(tmp_path, monkeypatch):
    typo = tmp_path / "tlc" / "dat"
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(typo))
    check = doctor.check_data()
    assert check.status == FAIL
    assert str(typo) in check.detail and check.fix


def test_data_folder_that_is_a_file_fails(tmp_path, monkeypatch):
    file = tmp_path / "green_tripdata_2021-01.parquet"
    file.write_bytes(b"PAR1")
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(file))
    check = doctor.check_data()
    assert check.status == FAIL
    assert str(file) in check.detail and "folder" in check.detail


def _tiny_parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [1]}), path)


def test_data_folder_lists_its_months(tmp_path, monkeypatch):
    for name in (
        "green_tripdata_2021-02.parquet",
        "green_tripdata_2021-01.parquet",
        "yellow_tripdata_2023-01.parquet",
        "green_tripdata_2021-01 (1).parquet",  # a browser's second download
    ):
        _tiny_parquet(tmp_path / name)
    (tmp_path / "taxi_zone_lookup.csv").write_text("LocationID\n1\n")
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(tmp_path))
    check = doctor.check_data()
    assert check.status == OK, check.detail
    assert check.data["months"] == ["green:2021-01", "green:2021-02", "yellow:2023-01"]
    assert f"3 TLC months in {tmp_path}" in check.detail
    assert "not read: green_tripdata_2021-01 (1).parquet" in check.detail


def test_data_folder_with_a_broken_month_fails(tmp_path, monkeypatch):
    (tmp_path / "green_tripdata_2021-01.parquet").write_bytes(b"<html>Access denied</html>")
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(tmp_path))
    check = doctor.check_data()
    assert check.status == FAIL and "green_tripdata_2021-01.parquet" in check.detail


def test_data_folder_without_tlc_files_is_a_warn(tmp_path, monkeypatch):
    _tiny_parquet(tmp_path / "trips.parquet")
    monkeypatch.setenv("MLOPS_KIT_DATA_DIR", str(tmp_path))
    check = doctor.check_data()
    assert check.status == WARN
    assert "TLC" in check.detail


# --------------------------------------------------------------------------- kernel


def test_kernel_missing_fails_with_ipykernel_fix():
    def no_kernel(name):
        raise LookupError(f"No such kernel named {name}")

    check = doctor.check_kernel(get_spec=no_kernel)
    assert check.status == FAIL
    assert "ipykernel install" in check.fix


@pytest.mark.parametrize("argv0", ["python", sys.executable])
def test_kernel_running_this_python_is_ok(argv0):
    spec = SimpleNamespace(argv=[argv0, "-m", "ipykernel_launcher", "-f", "{connection_file}"])
    check = doctor.check_kernel(get_spec=lambda name: spec)
    assert check.status == OK


def test_kernel_of_another_python_without_the_kit_fails(tmp_path):
    spec = SimpleNamespace(argv=[str(tmp_path / "other-python"), "-m", "ipykernel_launcher"])
    check = doctor.check_kernel(get_spec=lambda name: spec)
    assert check.status == FAIL
    assert "cannot import mlops_kit" in check.detail


def test_kernel_of_another_python_with_the_kit_is_ok():
    spec = SimpleNamespace(argv=["/opt/other/bin/python", "-m", "ipykernel_launcher"])
    calls = []

    def runner(args, timeout):
        calls.append(list(args))
        return SimpleNamespace(returncode=0, stdout="", stderr="")

    check = doctor.check_kernel(get_spec=lambda name: spec, runner=runner)
    assert check.status == OK
    assert calls == [["/opt/other/bin/python", "-c", "import mlops_kit"]]


def test_kernel_of_this_environment_is_found():
    assert doctor.check_kernel().status == OK


# --------------------------------------------------------------------------- docker


def test_no_docker_on_path_is_a_warn_with_install_fix(fake_bin):
    check = doctor.check_docker()
    assert check.status == WARN
    assert "no `docker` command" in check.detail
    assert "hello-world" in check.fix


def test_docker_permission_error_fails_with_usermod_fix(fake_bin):
    fake_bin("docker", DOCKER_PERMISSION)
    check = doctor.check_docker()
    assert check.status == FAIL
    assert "permission denied" in check.detail
    assert "sudo usermod -aG docker $USER" in check.fix
    assert "log out and in again" in check.fix


def test_docker_working_is_ok(fake_bin):
    fake_bin("docker", DOCKER_WORKS)
    check = doctor.check_docker()
    assert (check.status, check.fix) == (OK, None)
    assert check.data["server_version"] == "27.3.1"


def test_docker_daemon_down_is_a_warn_with_start_fix(fake_bin):
    fake_bin("docker", DOCKER_NO_DAEMON)
    check = doctor.check_docker()
    assert check.status == WARN
    assert "Is the docker daemon running?" in check.detail
    assert "systemctl start docker" in check.fix


def test_docker_hanging_times_out(fake_bin):
    fake_bin("docker", f"exec {shutil.which('sleep', path='/bin:/usr/bin')} 5\n")
    started = time.monotonic()
    check = doctor.check_docker(timeout=0.3)
    assert time.monotonic() - started < 4
    assert check.status == WARN
    assert "did not answer" in check.detail


def test_compose_v2_plugin(fake_bin):
    fake_bin("docker", DOCKER_WORKS)
    check = doctor.check_compose()
    assert check.status == OK
    assert check.data == {"command": "docker compose", "version": "2.29.7"}


def test_compose_v1_standalone(fake_bin):
    fake_bin("docker", 'echo "docker: unknown command: docker compose" >&2; exit 1\n')
    fake_bin("docker-compose", 'echo "1.29.2"\n')
    check = doctor.check_compose()
    assert check.status == OK
    assert check.data["command"] == "docker-compose"
    assert "1.29.2" in check.detail


def test_compose_missing_is_a_warn(fake_bin):
    fake_bin("docker", "exit 1\n")
    check = doctor.check_compose()
    assert check.status == WARN
    assert "docker-compose-plugin" in check.fix


# --------------------------------------------------------------------------- resources


def _usage(free_gb):
    return lambda path: SimpleNamespace(total=100 * 1024**3, used=0, free=free_gb * 1024**3)


@pytest.mark.parametrize(("free_gb", "status"), [(100, OK), (29.5, WARN), (0.5, FAIL)])
def test_disk(tmp_path, free_gb, status):
    check = doctor.check_disk(path=tmp_path / "not" / "yet", disk_usage=_usage(free_gb))
    assert check.status == status
    assert check.data["path"] == str(tmp_path)
    if status != OK:
        assert "30 GB" in check.detail and "30 GB" in check.fix


@pytest.mark.parametrize(("gb", "status"), [(16, OK), (4, WARN)])
def test_memory(gb, status):
    check = doctor.check_memory(total_bytes=lambda: gb * 1024**3)
    assert check.status == status
    if status == WARN:
        assert "4.0 GB" in check.detail and "16 GB" in check.fix


def test_memory_unknown_is_a_warn():
    assert doctor.check_memory(total_bytes=lambda: None).status == WARN


def test_memory_of_this_machine_is_measured():
    assert doctor.total_memory_bytes() > 0


@pytest.mark.parametrize(("count", "status"), [(4, OK), (2, OK), (1, WARN), (None, WARN)])
def test_cpus(count, status):
    assert doctor.check_cpus(cpus=lambda: count).status == status


# --------------------------------------------------------------------------- codespaces


def test_codespaces_detected_gives_the_port_hint():
    check = doctor.check_codespaces(env={"CODESPACES": "true", "CODESPACE_NAME": "fluffy-x"})
    assert check.status == OK
    assert "GitHub Codespaces detected (fluffy-x)" in check.detail
    assert "8888" in check.detail and "Ports tab" in check.detail
    assert check.data["codespaces"] is True


def test_not_in_codespaces():
    check = doctor.check_codespaces(env={})
    assert check.data["codespaces"] is False
    assert "8888" not in check.detail


# --------------------------------------------------------------------------- ssh


def _ssh_config(tmp_path, key_mode=0o400, key_name="vm.pem", make_key=True):
    key = tmp_path / key_name
    if make_key:
        key.write_text("-----BEGIN RSA PRIVATE KEY-----\n")
        key.chmod(key_mode)
    config = tmp_path / "config"
    config.write_text(
        f"Host mlops-zoomcamp\n    HostName 3.120.55.10\n    User ubuntu\n"
        f'    IdentityFile "{key}"\n\nHost *\n    ServerAliveInterval 60\n'
    )
    return config, key


def test_ssh_key_readable_by_others_fails_with_chmod_fix(tmp_path):
    config, key = _ssh_config(tmp_path, key_mode=0o644)
    check = doctor.check_ssh(ssh_config=config)
    assert check.status == FAIL
    assert str(key) in check.detail
    assert check.fix == f"Run `chmod 400 {key}`."


def test_ssh_private_key_is_ok(tmp_path):
    config, _ = _ssh_config(tmp_path, key_mode=0o400)
    check = doctor.check_ssh(ssh_config=config)
    assert check.status == OK
    assert check.data["hosts"] == ["mlops-zoomcamp"]


def test_ssh_missing_key_is_a_warn(tmp_path):
    config, key = _ssh_config(tmp_path, make_key=False)
    check = doctor.check_ssh(ssh_config=config)
    assert check.status == WARN
    assert str(key) in check.detail


def test_ssh_config_without_hosts_is_a_warn(tmp_path):
    config = tmp_path / "config"
    config.write_text("Host *\n    ServerAliveInterval 60\n")
    check = doctor.check_ssh(ssh_config=config)
    assert check.status == WARN
    assert "mlops-kit ssh-config" in check.fix


def test_ssh_explicit_missing_config_is_a_warn(tmp_path):
    assert doctor.check_ssh(ssh_config=tmp_path / "absent").status == WARN


def test_ssh_default_missing_config_is_ok(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    check = doctor.check_ssh()
    assert check.status == OK
    assert "only the cloud-VM route" in check.detail


def test_ssh_percent_d_means_home(tmp_path):
    key = tmp_path / ".ssh" / "vm.pem"
    key.parent.mkdir()
    key.write_text("k")
    key.chmod(0o640)
    config = tmp_path / "config"
    config.write_text("Host vm\n  IdentityFile=%d/.ssh/vm.pem\n")
    check = doctor.check_ssh(ssh_config=config, env={"HOME": str(tmp_path)})
    assert check.status == FAIL
    assert f"chmod 400 {key}" in check.fix


# --------------------------------------------------------------------------- network


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_network_unreachable_is_a_warn_naming_the_fallback():
    check = doctor.check_network(host="127.0.0.1", port=_closed_port(), timeout=1.0, env={})
    assert check.status == WARN
    assert "synthetic data" in check.detail
    assert "MLOPS_KIT_DATA_DIR" in check.fix


def test_network_reachable_is_ok():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        port = server.getsockname()[1]
        check = doctor.check_network(host="127.0.0.1", port=port, timeout=1.0, env={})
    finally:
        server.close()
    assert (check.status, check.fix) == (OK, None)


def test_network_without_sockets_is_a_warn(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    check = doctor.check_network(env={})
    assert check.status == WARN
    assert "Network is unreachable" in check.detail


def test_network_slow_answer_stops_waiting():
    gate = threading.Event()
    check = doctor.check_network(
        timeout=0.2, connect=lambda host, port, timeout: gate.wait(5), env={}
    )
    gate.set()
    assert check.status == WARN
    assert "no answer in 0.2 s" in check.detail


@pytest.mark.parametrize(
    ("network", "env", "why"),
    [(False, {}, "turned off"), (True, {"MLOPS_KIT_OFFLINE": "1"}, "MLOPS_KIT_OFFLINE")],
)
def test_network_not_tried(network, env, why):
    def must_not_connect(*args):
        raise AssertionError("connected although offline")

    check = doctor.check_network(network=network, env=env, connect=must_not_connect)
    assert check.status == WARN
    assert why in check.detail and "synthetic" in check.detail


# --------------------------------------------------------------------------- run_checks


def test_run_checks_order_and_subset():
    checks = doctor.run_checks(only=["network", "python"], network=False)
    assert [c.name for c in checks] == ["python", "network"]


def test_run_checks_all_names_once(fake_bin, tmp_path):
    checks = doctor.run_checks(network=False, ssh_config=tmp_path / "absent")
    assert [c.name for c in checks] == list(doctor.CHECKS)
    assert all(isinstance(c, Check) and c.status in doctor.STATUSES for c in checks)


def test_a_crashing_check_becomes_a_warn(monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("meminfo unreadable")

    monkeypatch.setattr(run, "check_memory", boom)
    (check,) = doctor.run_checks(only=["memory"])
    assert check.status == WARN
    assert "RuntimeError: meminfo unreadable" in check.detail


def test_unknown_check_name_raises_kit_error():
    with pytest.raises(doctor.UnknownCheckError, match="Use some of: python"):
        doctor.run_checks(only=["pythn"])


def test_check_rejects_unknown_status():
    with pytest.raises(ValueError):
        Check("x", "MAYBE", "?")


def test_summary_and_table():
    checks = [
        Check("python", OK, "Python 3.11.7"),
        Check("docker", FAIL, "permission denied", "sudo usermod -aG docker $USER"),
        Check("network", WARN, "offline", "connect"),
    ]
    result = doctor.summary(checks)
    assert result["ok"] is False
    assert result["counts"] == {"OK": 1, "WARN": 1, "FAIL": 1}
    assert result["checks"][1]["fix"] == "sudo usermod -aG docker $USER"
    table = doctor.format_table(checks)
    assert "Python 3.11.7" in table and "fix: sudo usermod" in table
    assert table.splitlines()[-1] == "1 OK, 1 WARN, 1 FAIL: fix the FAIL lines first"
    short = doctor.format_table(checks, details=False)
    assert "Python 3.11.7" not in short and "fix: connect" in short


# --------------------------------------------------------------------------- CLI


def test_cli_json(capsys):
    code = main(["doctor", "--no-network", "--json", "--check", "python", "--check", "network"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [c["name"] for c in out["checks"]] == ["python", "network"]
    assert out["ok"] is True
    assert out["counts"] == {"OK": 1, "WARN": 1, "FAIL": 0}


def test_cli_fail_exits_1_and_prints_the_fix(fake_bin, capsys):
    fake_bin("docker", DOCKER_PERMISSION)
    code = main(["doctor", "--check", "docker", "--check", "compose"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  docker" in out
    assert "fix: Run `sudo usermod -aG docker $USER`" in out
    assert "OK    compose" in out
    assert out.strip().endswith("1 OK, 0 WARN, 1 FAIL: fix the FAIL lines first")


def test_cli_ssh_config_option(tmp_path, capsys):
    config, key = _ssh_config(tmp_path, key_mode=0o604)
    code = main(["doctor", "--check", "ssh", "--ssh-config", str(config), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["checks"][0]["fix"] == f"Run `chmod 400 {key}`."


def test_cli_unknown_check_is_refused(capsys):
    with pytest.raises(SystemExit) as info:
        main(["doctor", "--check", "nope"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_cli_typo_in_an_option_prints_doctors_own_usage(capsys):
    with pytest.raises(SystemExit) as info:
        main(["doctor", "--chek", "docker"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.startswith("usage: mlops-kit doctor ") and "--check NAME" in err
    assert "mlops-kit doctor: error: unrecognized arguments: --chek" in err
    assert "COMMAND" not in err  # not the top-level usage


def test_cli_table_on_this_machine(capsys, tmp_path):
    code = main(["doctor", "--no-network", "--ssh-config", str(tmp_path / "absent")])
    out = capsys.readouterr().out
    for name in doctor.CHECKS:
        assert f"  {name}" in out
    assert code == (1 if "FAIL  " in out else 0)
    assert os.environ.get("PATH")  # the real PATH was not clobbered


# --------------------------------------------------------------------------- routes, frames


def test_ssh_config_at_the_default_path_counts_as_default(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert doctor.check_ssh(ssh_config="~/.ssh/config").status == OK
    assert doctor.check_ssh(ssh_config=tmp_path / "elsewhere").status == WARN


def test_route_checks_and_summary():
    checks = [
        Check("python", OK, "3.11"),
        Check("docker", FAIL, "denied", "usermod"),
        Check("compose", WARN, "missing", "install"),
        Check("codespaces", OK, "no"),
    ]
    assert [c.name for c in doctor.route_checks(checks, "local")] == [
        "python",
        "docker",
        "compose",
    ]
    assert doctor.route_summary(checks, "local") == (
        "local: 1 of 3 checks OK, WARN compose, FAIL docker"
    )
    assert doctor.route_summary([], "cloud-vm") == "cloud-vm: none of its checks ran"
    with pytest.raises(doctor.UnknownCheckError):
        doctor.route_checks(checks, "laptop")


def test_frame_and_styled_table_are_stable():
    checks = [Check("python", OK, "Python 3.11.7"), Check("network", WARN, "offline", "connect")]
    frame = doctor.to_frame(checks)
    assert list(frame.columns) == ["check", "status", "detail", "fix"]
    assert frame["fix"].tolist() == ["", "connect"]
    assert "detail" not in doctor.to_frame(checks, details=False).columns
    html = doctor.styled(checks, details=False).to_html()
    assert html == doctor.styled(checks, details=False).to_html()
    assert doctor.STATUS_COLOURS[WARN] in html
    assert "Python 3.11.7" not in html


def test_doctor_says_which_grading_isolation_is_in_force(capsys):
    from mlops_kit.cli import main
    from mlops_kit.execution.sandbox import isolation_available

    main(["doctor", "--check", "python", "--json"])
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["grading_isolation"]["available"] == isolation_available()["available"]
    main(["doctor", "--check", "python"])
    assert "grading sandbox:" in capsys.readouterr().out
