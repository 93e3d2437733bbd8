"""``mlops-kit maturity``: the five MLOps maturity levels, a self-assessment, a repo scan."""

from __future__ import annotations

import argparse

from ._common import add_json_flag, print_json

EPILOG = """\
examples:
  mlops-kit maturity                                   print the five levels
  mlops-kit maturity --answers examples/maturity/answers.yaml
                                                       your level and what the next one needs
  mlops-kit maturity --scan .                          estimate this project's level from its files
  mlops-kit maturity --scan . --json                   the same as one JSON object
  mlops-kit maturity --answers answers.yaml --plot maturity.png

An answers file maps question ids to yes/no (see examples/maturity/answers.yaml; run
`mlops-kit maturity --questions` for the ids). A level counts only when every level below
it is reached too. The scan reads what the files do (CI steps, calls, configurations),
finds the projects in a repository and reports the best-supported one, with what each
level has and lacks; it is an estimate: read its evidence.
"""


def register(sub) -> None:
    """Add the ``maturity`` sub-command."""
    parser = sub.add_parser(
        "maturity",
        help="MLOps maturity levels 0-4: self-assessment and a scan of a project",
        description="Print the five levels of the MLOps maturity model, assess a project "
        "from yes/no answers, or estimate its level from evidence in its files.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--answers", metavar="FILE.yaml", help="YAML file of answers (question id: yes/no)"
    )
    parser.add_argument("--scan", metavar="PATH", help="estimate the level of the project at PATH")
    parser.add_argument(
        "--questions", action="store_true", help="list the self-assessment questions and ids"
    )
    parser.add_argument(
        "--plot", metavar="OUT.png", help="save a chart of the assessment (or of the scan)"
    )
    add_json_flag(parser)
    parser.set_defaults(func=handle)


#: image formats matplotlib writes without extra packages
PLOT_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")


def _check_plot_target(out: str) -> None:
    """Refuse a chart path that is a folder or names a format matplotlib cannot write."""
    from pathlib import Path

    from ..errors import BadParameterError

    target = Path(out)
    if target.is_dir():
        raise BadParameterError(
            f"--plot {out} is a folder, not an image file.",
            f"Name a file inside it, e.g. --plot {target / 'maturity.png'}.",
        )
    fmt = target.suffix.lstrip(".").lower() or "png"
    if fmt not in PLOT_FORMATS:
        raise BadParameterError(
            f"--plot {out}: a chart cannot be saved as .{fmt}.",
            f"End the file name with one of: {', '.join('.' + f for f in PLOT_FORMATS)}.",
        )


def _write_plot(result, out: str) -> None:
    """Save the chart atomically: a temp file in the same folder, then os.replace."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..lessons.maturity import plot_assessment

    target = Path(out)
    fmt = target.suffix.lstrip(".").lower() or "png"
    target.parent.mkdir(parents=True, exist_ok=True)
    ax = plot_assessment(result)
    fig = ax.figure
    fig.tight_layout()
    from ..fileio import atomic_path

    try:
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=100)
    finally:
        plt.close(fig)


def _print_levels() -> None:
    from ..lessons.maturity import AREAS, LEVELS

    for level in LEVELS:
        print(f"Level {level.number}: {level.name}")
        print(f"  {level.summary}")
        print(f"  Technology: {'; '.join(level.technology)}")
        for attr, heading in AREAS:
            print(f"  {heading}: {'; '.join(getattr(level, attr))}")
        print()


def _print_questions() -> None:
    from ..lessons.maturity import QUESTIONS

    for question in QUESTIONS:
        print(f"[level {question.level}, {question.principle}] {question.id}: {question.text}")


def _print_assessment(assessment) -> None:
    print(f"Self-assessment: level {assessment.level} ({assessment.name})")
    shares = ", ".join(f"{n}: {v:.0%}" for n, v in assessment.scores.items() if n)
    print(f"  share of 'yes' per level: {shares}")
    if assessment.next_level is None:
        print("  Every level is reached: keep the loop running.")
    else:
        print(f"  Missing for level {assessment.next_level}:")
        for question in assessment.missing_for_next:
            print(f"    - {question.id}: {question.todo}")
    if assessment.blocked_by:
        print("  Higher levels are complete but wait on these lower-level answers:")
        for question in assessment.blocked_by:
            print(f"    - {question.id} (level {question.level}): {question.todo}")
    if assessment.unanswered:
        print(f"  Unanswered (counted as no): {', '.join(assessment.unanswered)}")


def _print_scan(result, path: str) -> None:
    project = result.project
    print(f"Scan of {path}: level {result.level} ({result.name}), confidence {result.confidence}")
    print(f"  {result.summary}")
    print(f"  ({project.confidence_reason})")
    for check in result.levels:
        met = "; ".join(r.text for r, _ in check.met)
        if check.complete:
            state = f"met: {met}"
        else:
            state = "missing: " + "; ".join(r.text for r in check.missing)
            state += f" (met: {met})" if met else ""
        print(f"  level {check.number}  {check.name:<32} {state}")
    where = "the root folder" if project.path == "." else project.path
    parts = ", ".join(p for p in project.parts if p != project.path)
    print(f"  Reported project: {where}" + (f" (with its parts {parts})" if parts else ""))
    others = [p for p in result.projects if p is not project]
    if others:
        listed = ", ".join(f"{p.path} (level {p.level})" for p in others[:8])
        more = f" and {len(others) - 8} more" if len(others) > 8 else ""
        print(f"  {len(result.projects)} projects found; the others: {listed}{more}")
    print(f"  {result.files_scanned} files looked at; {len(result.evidence)} pieces of evidence:")
    if not result.evidence:
        print("    (none)")
    for item in result.evidence:
        weak = " (weak)" if item.weak else ""
        print(f"    {item.kind:<11} {item.where}: {item.detail}{weak}")
    if result.truncated:
        print(f"  Read only in part (size or file cap): {', '.join(result.truncated)}")


def handle(args) -> int:
    """Print the levels, an assessment and/or a scan; exit 0 (bad input raises a KitError)."""
    from ..errors import BadParameterError
    from ..lessons.maturity import LEVELS, QUESTIONS, assess, load_answers, scan

    if args.plot:
        _check_plot_target(args.plot)
    assessment = assess(load_answers(args.answers)) if args.answers else None
    result = scan(args.scan) if args.scan else None
    if args.plot and assessment is None and result is None:
        raise BadParameterError(
            "--plot needs something to draw.",
            "Add --answers FILE.yaml or --scan PATH.",
        )
    if args.plot:
        _write_plot(assessment if assessment is not None else result, args.plot)

    if args.json:
        out: dict = {}
        if assessment is None and result is None:
            out["levels"] = [
                {
                    "level": lv.number,
                    "name": lv.name,
                    "summary": lv.summary,
                    "technology": list(lv.technology),
                    "people": list(lv.people),
                    "model_creation": list(lv.model_creation),
                    "model_release": list(lv.model_release),
                    "application_integration": list(lv.application_integration),
                }
                for lv in LEVELS
            ]
        if args.questions:
            out["questions"] = [
                {"id": q.id, "level": q.level, "principle": q.principle, "question": q.text}
                for q in QUESTIONS
            ]
        if assessment is not None:
            out["assessment"] = assessment.to_dict()
        if result is not None:
            out["scan"] = {"path": args.scan, **result.to_dict()}
        if args.plot:
            out["plot"] = args.plot
        print_json(out)
        return 0

    if args.questions:
        _print_questions()
    elif assessment is None and result is None:
        _print_levels()
    if assessment is not None:
        _print_assessment(assessment)
    if result is not None:
        if assessment is not None:
            print()
        _print_scan(result, args.scan)
    if args.plot:
        print(f"chart written to {args.plot}")
    return 0
