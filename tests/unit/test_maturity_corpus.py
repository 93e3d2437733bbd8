"""The maturity scan agrees with a reviewer on real repositories (tests/unit/maturity_corpus).

Each corpus entry is a public repository reduced to the files the scan reads, with the level
a reviewer gave it after reading it (its LABEL says why). The scan must give the reviewer's
level on at least nine in ten and never be more than one level off; every evidence line it
reports must point at a line of the file that does what the evidence says.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mlops_kit.lessons.maturity import scan

from .maturity_corpus.bundle import read_bundle, unpack

CORPUS = Path(__file__).parent / "maturity_corpus"
CASES = sorted(path.name for path in CORPUS.iterdir() if (path / "LABEL").is_file())


def label(slug: str) -> dict:
    return yaml.safe_load((CORPUS / slug / "LABEL").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """Scan every corpus entry once: slug -> (unpacked folder, ScanResult)."""
    results = {}
    for slug in CASES:
        folder = unpack(CORPUS / slug / "files.txt", tmp_path_factory.mktemp(slug))
        results[slug] = (folder, scan(folder))
    return results


def test_the_corpus_is_varied_labelled_and_small():
    assert len(CASES) >= 10
    levels = set()
    for slug in CASES:
        data = label(slug)
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", data["repository"]), slug
        assert re.fullmatch(r"[0-9a-f]{40}", str(data["commit"])), slug
        assert data["level"] in range(5) and len(data["why"]) > 80, slug
        header, files = read_bundle(CORPUS / slug / "files.txt")
        assert header == f"{data['repository']}@{data['commit']}", slug
        assert files, slug
        levels.add(data["level"])
    assert len(levels) >= 3, "the corpus needs repositories of very different maturity"
    size = sum(path.stat().st_size for path in CORPUS.rglob("*") if path.is_file())
    assert size < 800_000, f"the corpus is {size} bytes: keep it well under 1 MB"


def test_the_scan_agrees_with_the_reviewers(scanned):
    rows = [(slug, label(slug)["level"], scanned[slug][1].level) for slug in CASES]
    table = "\n".join(f"  {slug:34} reviewer {want}  scan {got}" for slug, want, got in rows)
    equal = sum(want == got for _, want, got in rows)
    assert equal >= 0.9 * len(rows), f"only {equal} of {len(rows)} agree:\n{table}"
    assert all(abs(want - got) <= 1 for _, want, got in rows), f"more than one level off:\n{table}"


@pytest.mark.parametrize("slug", CASES)
def test_each_repository_is_within_one_level(scanned, slug):
    result = scanned[slug][1]
    want = label(slug)["level"]
    assert abs(result.level - want) <= 1, f"{slug}: scan {result.level}, reviewer {want}\n" + (
        "\n".join(f"  {e.kind} {e.where}: {e.detail}" for e in result.evidence)
    )


def _snippet(detail: str) -> str | None:
    """The text an evidence line quotes from its file (a command in backticks, a call)."""
    quoted = re.search(r"`([^`]+)`", detail)
    if quoted:
        return quoted.group(1).removesuffix("...")[:25]
    called = re.search(r"\bcalls (.+)", detail)
    if called:
        return called.group(1).removesuffix("...").split(" (code cell")[0][:25]
    return None


def test_every_evidence_line_points_at_what_it_says(scanned):
    checked = 0
    for slug, (folder, result) in scanned.items():
        for project in result.projects:
            for item in project.evidence:
                target = folder / item.path.rstrip("/")
                assert target.exists(), f"{slug}: {item.where} does not exist"
                if not item.line:
                    continue
                lines = target.read_text(encoding="utf-8").splitlines()
                assert item.line <= len(lines), f"{slug}: {item.where} is past the end"
                text = " ".join(lines[item.line - 1].split())
                assert text and not text.startswith("#"), f"{slug}: {item.where} is empty"
                snippet = _snippet(item.detail)
                if snippet:
                    words = " ".join(snippet.split())
                    if item.path.startswith("cloudbuild"):  # builder and arguments apart
                        words = words.split()[1]
                    assert words in text, (slug, item.where, item.detail, text)
                    checked += 1
    assert checked > 50


def test_a_course_repository_is_its_best_module_not_the_union(scanned):
    result = scanned["course-mlops-zoomcamp"][1]
    assert result.project.path == "06-best-practices"
    assert len(result.projects) > 10
    # the registry of module 2 and the monitoring of module 5 are not credited to module 6
    assert not any(e.path.startswith(("02-", "05-")) for e in result.evidence)


def test_levels_met_above_a_gap_are_shown(scanned):
    result = scanned["learner-2025-citibike-zenml"][1]
    assert result.level == 0
    assert [c.number for c in result.levels if c.complete] == [2, 3]
    assert result.summary.startswith("Levels 2 and 3 are met") and "CI that runs" in result.summary


def test_words_are_not_actions(scanned):
    """An echo 'Deploying...' step, a docs deploy and a pip install of pytest are no evidence."""
    devsu = scanned["learner-2025-breast-cancer-gcp"][1]
    assert not any("staging" in e.detail or "pip install" in e.detail for e in devsu.evidence)
    mwml = scanned["made-with-ml"][1]
    assert not any("mkdocs" in e.detail for e in mwml.evidence)
    taxi = scanned["learner-2023-taxi-fare"][1]  # a CI that runs a script, not tests
    assert "ci" not in taxi.kinds() and "ci_config" in taxi.kinds()
