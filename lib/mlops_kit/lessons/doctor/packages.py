"""Python itself and the packages of ``environment.yml``: the ``python`` and ``packages`` checks.

The kit needs Python 3.10 or newer (the course's recording used 3.9: :func:`check_python`
and notebook 02 say why). The package check reads the conda environment file the learner
installs from, both its conda entries and its ``pip:`` list, and compares each with the
installed distribution's version, so one ``pip install ...`` line fixes every miss.

``packaging`` and ``yaml`` are imported inside the functions that use them: the doctor
must still start, and say what is missing, when one of them is the package that is missing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ... import config
from .verdict import FAIL, OK, WARN, Check

MIN_PYTHON = (3, 10)

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


def check_python(*, version_info: Sequence[int] | None = None) -> Check:
    """Python 3.10 or newer, although the course's recording used 3.9.

    The kit's own code uses 3.10 syntax, and the releases of numpy, pandas and scikit-learn
    it is tested with no longer install on 3.9 (their last 3.9 releases are numpy 2.0,
    pandas 2.3 and scikit-learn 1.6).
    """
    info = tuple(version_info if version_info is not None else sys.version_info[:3])
    shown = ".".join(str(part) for part in info[:3])
    data = {"version": shown}
    if info[:2] >= MIN_PYTHON:
        return Check("python", OK, f"Python {shown} (3.10+ needed)", data=data)
    return Check(
        "python",
        FAIL,
        f"Python {shown} is too old: mlops-kit needs 3.10 or newer (the course's recording "
        "used 3.9, which today's numpy, pandas and scikit-learn no longer support).",
        "Create an environment with a newer Python, e.g. "
        "`conda env create -f environment.yml` (Python 3.11).",
        data,
    )


@dataclass(frozen=True)
class Requirement:
    """One package an environment asks for: distribution name and version specifier."""

    name: str
    specifier: str = ""

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
    return Requirement(CONDA_TO_DIST.get(name, name), _conda_specifier(version))


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
    return Requirement(req.name, str(req.specifier))


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
    found = [parse_pip_dependency(e) for e in metadata.requires(project) or []]
    return [req for req in found if req is not None]


def _installed_version(name: str) -> str | None:
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
            # the checkout we are run from, else the one an editable install lives in
            root = config.repo_root() or config.repo_root(Path(__file__).resolve().parent)
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
