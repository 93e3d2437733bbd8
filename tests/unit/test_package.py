"""The package itself: importable without side effects, a CLI that explains itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_kit.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def _snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_import_has_no_side_effects(tmp_path):
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_KIT_")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    modules = ["mlops_kit"] + [
        f"mlops_kit.{p.stem}"
        for p in (ROOT / "lib" / "mlops_kit").glob("*.py")
        if p.stem not in {"__init__", "__main__"}
    ]
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
    subprocess.run([sys.executable, "-c", code, *modules], cwd=work, env=env, check=True)
    assert _snapshot(home) == set() and _snapshot(work) == set()


def test_every_subcommand_is_shipped():
    for name in COMMANDS:
        assert (ROOT / "lib" / "mlops_kit" / "cli" / f"{name}.py").is_file(), name
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) >= {
        "data",
        "train",
        "run",
        "batch",
        "doctor",
        "ssh-config",
        "maturity",
        "homework",
    }


def test_help_explains(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "mlops-kit doctor" in out and "MLOPS_KIT_DATA_DIR" in out


def test_console_script_installed():
    exe = Path(sys.executable).parent / "mlops-kit"
    assert exe.exists(), "pip install -e . should install the mlops-kit console script"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("mlops-kit ")


def test_no_sys_path_hacks():
    offenders = []
    for folder in ("lib", "tests", "notebooks", "homework", "benchmarks"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".ipynb"} and ".ipynb_checkpoints" not in path.parts:
                if "sys.path.append" in path.read_text(
                    errors="ignore"
                ) or "sys.path.insert" in path.read_text(errors="ignore"):
                    offenders.append(str(path.relative_to(ROOT)))
    offenders = [o for o in offenders if o != "tests/unit/test_package.py"]
    assert not offenders, f"no sys.path edits: {offenders}"
