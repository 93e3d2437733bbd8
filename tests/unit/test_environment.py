"""environment.yml (conda) and pyproject.toml (pip) must describe the same environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10, which the kit supports, has no tomllib
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")
# conda-only entries with no pip counterpart
CONDA_ONLY = {"python", "pip"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirement(text: str) -> tuple[str, str]:
    """Split 'pandas>=2.2' (pip) or 'pandas>=2.2' / 'python=3.11' (conda) into name and spec."""
    match = REQ.match(text.split("#")[0])
    assert match, f"unparseable requirement: {text!r}"
    name, spec = match.groups()
    return _norm(name), spec.replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return dict(parse_requirement(r) for r in reqs)


def conda_requirements() -> tuple[dict[str, str], list[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep.get("pip", [])
        else:
            name, spec = parse_requirement(dep)
            if name not in CONDA_ONLY:
                conda[name] = spec
    return conda, pip


def mismatches(pip_reqs: dict[str, str], conda_reqs: dict[str, str]) -> list[str]:
    """Describe every way the two requirement sets disagree (empty when they agree)."""
    problems = [f"{n} only in pyproject.toml" for n in sorted(set(pip_reqs) - set(conda_reqs))]
    problems += [f"{n} only in environment.yml" for n in sorted(set(conda_reqs) - set(pip_reqs))]
    problems += [
        f"{n}: pyproject {pip_reqs[n]!r} vs environment.yml {conda_reqs[n]!r}"
        for n in sorted(set(pip_reqs) & set(conda_reqs))
        if pip_reqs[n] != conda_reqs[n]
    ]
    return problems


def test_same_packages_and_versions():
    assert mismatches(pyproject_requirements(), conda_requirements()[0]) == []


def test_conda_env_installs_the_kit_and_a_supported_python():
    _, pip = conda_requirements()
    assert "-e ." in pip, "environment.yml must pip-install the kit itself (`-e .`)"
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(x) for x in requires.removeprefix(">=").split("."))
    pinned = tuple(int(x) for x in python.split("=")[-1].split("."))
    assert pinned >= minimum


def test_every_dependency_is_commented():
    text = (ROOT / "environment.yml").read_text()
    deps = text.split("dependencies:", 1)[1].splitlines()
    for line in deps:
        stripped = line.strip()
        if stripped.startswith("- ") and stripped not in {"- pip", "- pip:"}:
            assert "#" in stripped, f"environment.yml: say what uses {stripped!r}"


def test_mismatch_is_reported():
    """The comparison can fail: a drifted version and a missing package are both named."""
    pip_reqs = pyproject_requirements()
    conda_reqs = dict(conda_requirements()[0], pandas=">=1.0")
    del conda_reqs["pyarrow"]
    problems = mismatches(pip_reqs, conda_reqs)
    assert any("pandas" in p for p in problems)
    assert "pyarrow only in pyproject.toml" in problems


def _devcontainer() -> dict:
    """The devcontainer's settings (JSON with whole-line ``//`` comments, as VS Code allows)."""
    import json

    text = (ROOT / ".devcontainer" / "devcontainer.json").read_text()
    lines = [line for line in text.splitlines() if not line.strip().startswith("//")]
    return json.loads("\n".join(lines))


def test_devcontainer_builds_from_environment_yml_and_hides_no_failure():
    command = _devcontainer()["postCreateCommand"]
    assert "-f environment.yml" in command
    env_name = yaml.safe_load((ROOT / "environment.yml").read_text())["name"]
    assert f"conda activate {env_name}" in command
    # a failed environment update must fail the codespace's creation, not scroll by
    assert "|| true" not in command and "; true" not in command
    assert "mlops-kit doctor" in command and "--check packages" in command


def test_devcontainer_and_notebooks_use_one_kernel():
    """The notebooks name one kernelspec; the devcontainer registers no other."""
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
        (ROOT / "homework").glob("*/*.ipynb")
    )
    assert notebooks
    import json

    names = {json.loads(nb.read_text())["metadata"]["kernelspec"]["name"] for nb in notebooks}
    assert names == {"python3"}
    config = _devcontainer()
    assert "ipykernel install" not in config["postCreateCommand"]
    assert config["containerEnv"]["JUPYTER_PREFER_ENV_PATH"] == "1"


def test_setup_files_speak_of_the_project_only():
    """No pointer to folders beside the checkout (a learner's clone has none)."""
    for name in ("environment.yml", ".devcontainer/devcontainer.json"):
        text = (ROOT / name).read_text()
        for outside in ("FACTS", "shared/", "../"):
            assert outside not in text, f"{name} mentions {outside!r}"
