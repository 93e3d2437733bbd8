"""``mlops-kit homework key|check|grade``: the module-1 homework for learners and instructors.

* ``key``: write a cohort's answer key: computed by its ``solution.ipynb`` on the real
  months when they are on disk (and checked against the course's published answers),
  else the published answers themselves; synthetic only with ``--source synthetic``
  (exit status 3). With ``--hashed-out``, also the salted-hash key learners can be given.
* ``check``: run a learner's notebook headless and say which answers are right.
* ``grade``: grade a folder of submissions in sandboxed kernels, resumably, with
  ``grades.csv``, a class report and one feedback page per student.

Thin wrappers over :mod:`mlops_kit.homework`; see homework/README.md.
"""

from __future__ import annotations

import argparse
import sys

from ._common import add_json_flag, print_json

EPILOG = """\
examples (learners):
  mlops-kit homework check homework/practice/homework.ipynb
  mlops-kit homework check my_homework.ipynb --cohort 2024 --json

examples (instructors):
  mlops-kit homework key --cohort 2024 --out keys/2024.json     # published answers offline
  mlops-kit homework key --cohort practice --out keys/practice.json
  mlops-kit homework key --cohort practice --source synthetic --rows 20000 --out keys/p.json
  mlops-kit homework grade submissions/ --cohort practice --key keys/practice.json \\
      --out build/grades --workers 2
  mlops-kit homework grade submissions/ --cohort 2024 --key keys/2024.json \\
      --scheduler tcp://10.0.0.5:8786 --reveal
  mlops-kit homework grade form_responses.csv --cohort 2024 --key keys/2024.json

Grading is resumable: run the same command again and only new or changed submissions run.
Keep the plain key outside the repository and the submissions folder.
Exit status of key: 0 written; 1 computed answers disagree with the published ones (listed);
3 written on synthetic data (its answers are not the course's; grade refuses such a key unless
--allow-synthetic-key, and then flags every grade synthetic_key).
"""

#: exit status of a key (or a grading) on synthetic data: done, but not the course's answers
EXIT_SYNTHETIC = 3


def _add_data_flags(parser, *, key: bool = False) -> None:
    if key:
        parser.add_argument(
            "--source",
            choices=("auto", "real", "published", "synthetic"),
            default="auto",
            help="auto: computed on the real months when on disk, else the published answers "
            "(practice: computed); real: computed (downloads); published; synthetic: computed "
            "on synthetic months, marked as such",
        )
    else:
        parser.add_argument(
            "--source",
            choices=("auto", "real", "synthetic"),
            default="auto",
            help="data the notebook reads: real files when found (auto), only real, or synthetic",
        )
    parser.add_argument(
        "--rows",
        type=int,
        default=0,
        help="synthetic: rows per month (0: default size); real: sample size (0: all)",
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the synthetic data")
    parser.add_argument(
        "--timeout-cell", type=float, default=600, help="seconds one cell may run (600)"
    )
    parser.add_argument(
        "--timeout-total", type=float, default=1800, help="seconds a notebook may run (1800)"
    )


def register(subparsers) -> None:
    """Add the ``homework`` sub-command and its ``key``, ``check`` and ``grade`` actions."""
    from ..homework import list_cohorts
    from ..homework.grading import grade

    # defaults live in one place: the library function's own signature
    GRADE = grade.__kwdefaults__  # noqa: N806
    COHORTS = f"one of: {', '.join(list_cohorts()) or 'the cohorts under homework/'}"  # noqa: N806
    parser = subparsers.add_parser(
        "homework",
        help="module-1 homework: make a key, check your answers, grade submissions",
        description="The module-1 homework of each cohort (2022-2025, practice): answer keys, "
        "a self-check for learners and safe batch grading for instructors.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    key = actions.add_parser(
        "key",
        help="write the answer key (computed on the real months, or the published answers)",
        description="Write the cohort's answer key. With the cohort's real months on disk, its "
        "solution.ipynb computes every answer (checked against the course's published answers, "
        "any disagreement listed per question); without them, a course cohort's key holds the "
        "published answers (source: published, no computed value). A synthetic key only with "
        "--source synthetic, marked in every row. Written atomically.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    key.add_argument("--cohort", required=True, help=COHORTS)
    key.add_argument("--out", default="key.json", help="where to write the plain key")
    key.add_argument(
        "--hashed-out",
        default=None,
        help="also write the salted-hash key (what homework/<cohort>/key.json ships)",
    )
    _add_data_flags(key, key=True)
    add_json_flag(key)
    key.set_defaults(func=handle_key)

    chk = actions.add_parser(
        "check",
        help="run your notebook headless and see which answers are right",
        description="Execute a homework notebook headless, read the answers recorded with "
        "answer(), and print for each question the value, the option it maps to, and right or "
        "wrong. Uses the shipped salted-hash key when it was computed on the same data, else a "
        "key computed now on the same data (and says which). Exit status 1 when an answer is "
        "wrong or missing.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chk.add_argument("notebook", metavar="NOTEBOOK", help="your homework .ipynb")
    chk.add_argument("--cohort", default=None, help="default: the notebook's cohort parameter")
    chk.add_argument("--key", default=None, help="check against this key file instead")
    chk.add_argument("--output", default=None, help="keep the executed notebook there")
    _add_data_flags(chk)
    add_json_flag(chk)
    chk.set_defaults(func=handle_check)

    grd = actions.add_parser(
        "grade",
        help="grade a folder of submissions (sandboxed, parallel, resumable)",
        description="Grade every .ipynb, .csv and .json in SUBMISSIONS. Each notebook runs in "
        "a bubblewrap sandbox: it sees the system and Python read-only and its own throw-away "
        "folder, never the key, the other submissions or the output folder; no network; a "
        "fresh unprivileged user when the grader is root; timeouts, memory, process, file and "
        "output caps. Without bubblewrap (or user namespaces) grading refuses to run unless "
        "--unsafe. Results go to OUT/gradebook.sqlite as each finishes; then OUT/grades.csv, "
        "OUT/report.html and OUT/feedback/<student>.html are written. SUBMISSIONS may also be "
        "one CSV file, the course form's class export: each row is graded as its own student "
        "(named by its email/student/name column; a student on several rows is flagged). The "
        "key's data files are staged where learners' notebooks read them (./, ./data/, "
        "../data/, ~/data/, the TLC URLs). A key on synthetic data is refused unless "
        "--allow-synthetic-key (then every grade is flagged synthetic_key).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    grd.add_argument(
        "submissions",
        metavar="SUBMISSIONS",
        help="folder of submissions, or one CSV: the course form's class export",
    )
    grd.add_argument("--cohort", required=True, help=COHORTS)
    grd.add_argument("--key", required=True, help="the key from `mlops-kit homework key`")
    grd.add_argument("--out", default="build/grades", help="output folder (build/grades)")
    grd.add_argument("--workers", type=int, default=2, help="notebooks run at once (2)")
    grd.add_argument(
        "--scheduler", metavar="ADDR", default=None, help="a Dask scheduler, tcp://host:8786"
    )
    grd.add_argument(
        "--reveal",
        action="store_true",
        help="show the right option of wrong answers in the feedback pages",
    )
    grd.add_argument(
        "--timeout-cell", type=float, default=120, help="seconds one cell may run (120)"
    )
    grd.add_argument(
        "--timeout-total",
        type=float,
        default=GRADE["timeout_total"],
        help=f"seconds a notebook may run ({GRADE['timeout_total']:g})",
    )
    grd.add_argument(
        "--memory-mb",
        type=int,
        default=GRADE["memory_mb"],
        help=f"memory cap per kernel in MiB ({GRADE['memory_mb']})",
    )
    grd.add_argument(
        "--output-bytes",
        type=int,
        default=GRADE["output_bytes"],
        help=f"output cap per notebook in bytes ({GRADE['output_bytes']:,})",
    )
    grd.add_argument("--allow-network", action="store_true", help="do not cut the kernels' network")
    grd.add_argument(
        "--regrade", action="store_true", help="grade every submission again, even unchanged"
    )
    grd.add_argument(
        "--unsafe",
        action="store_true",
        help="run the notebooks even where they cannot be sandboxed (no bubblewrap, macOS, "
        "Windows, containers without user namespaces): only for notebooks you trust",
    )
    grd.add_argument(
        "--allow-synthetic-key",
        action="store_true",
        help="grade with a key computed on synthetic data (a rehearsal: its right answers "
        "are not the course's; every grade is flagged synthetic_key and every page says so)",
    )
    add_json_flag(grd)
    grd.set_defaults(func=handle_grade)

    parser.set_defaults(func=lambda args: _no_action(parser))


def _no_action(parser) -> int:
    parser.print_help()
    return 2


def handle_key(args) -> int:
    """Make the key of a cohort; say where its answers come from."""
    from ..homework.keys import make_key
    from ..homework.options import format_value

    key = make_key(
        args.cohort,
        source=args.source,
        rows=args.rows,
        seed=args.seed,
        out=args.out,
        hashed_out=args.hashed_out,
        timeout_cell=args.timeout_cell,
        timeout_total=args.timeout_total,
    )
    disagreements = key.get("disagreements") or []
    status = EXIT_SYNTHETIC if key["synthetic"] else (1 if disagreements else 0)
    if args.json:
        print_json({**key, "out": args.out, "hashed_out": args.hashed_out})
        return status
    where = {
        "published": "the course's published answers (the real months are not on this "
        "machine: no data was read)",
        "computed": "computed by solution.ipynb on the real months",
        "synthetic": "SYNTHETIC data: its answers are not the course's; grade refuses it "
        "unless --allow-synthetic-key",
    }[key.get("source", "computed")]
    print(f"key of cohort {key['cohort']} written to {args.out}: {where}")
    if args.hashed_out:
        print(f"salted-hash key written to {args.hashed_out}")
    for qid, entry in key["answers"].items():
        value = "" if entry["value"] is None else format_value(entry["value"])
        print(f"  {qid:<8} {value:<24} -> {entry['option'] or '(by value)'}  [{entry['source']}]")
    if key.get("source") == "computed" and "disagreements" in key:
        if disagreements:
            print("DISAGREES with the published answers:")
            for row in disagreements:
                print(f"  {row['qid']}: computed {row['computed']}, published {row['published']}")
        else:
            print("every computed answer agrees with the published one")
    return status


def handle_check(args) -> int:
    """Check a learner's notebook."""
    from ..homework.check import check

    result = check(
        args.notebook,
        args.cohort,
        key=args.key,
        source=args.source,
        rows=args.rows,
        seed=args.seed,
        timeout_cell=args.timeout_cell,
        timeout_total=args.timeout_total,
        output=args.output,
    )
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.render())
    return 0 if result.score == len(result.rows) else 1


def _freshness(graded_now: int, total: int) -> str:
    """Say how many grades were computed in this run and how many came from the gradebook."""
    if graded_now >= total:
        return "all graded now"
    if graded_now == 0:
        return (
            "0 graded now, all unchanged since the gradebook's grades; --regrade grades them again"
        )
    return f"{graded_now} graded now, {total - graded_now} unchanged and taken from the gradebook"


def handle_grade(args) -> int:
    """Grade a folder of submissions."""
    from ..homework.grading import grade

    run = grade(
        args.submissions,
        args.cohort,
        args.key,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        reveal=args.reveal,
        timeout_cell=args.timeout_cell,
        timeout_total=args.timeout_total,
        memory_mb=args.memory_mb or None,
        output_bytes=args.output_bytes or None,
        network=args.allow_network,
        regrade=args.regrade,
        progress=False if args.json else None,
        unsafe=args.unsafe,
        allow_synthetic_key=args.allow_synthetic_key,
    )
    if args.json:
        print_json(run.to_dict())
        return 0
    summary = run.to_dict()
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(summary["statuses"].items()))
    fresh = _freshness(run.graded_now, len(run.grades))
    print(f"{summary['submissions']} submissions ({fresh}): {statuses}")
    if run.isolation:
        print(f"isolation: {run.isolation}")
    for note in run.notes:
        print(f"note: {note}", file=sys.stderr)
    twice = sorted({g.student for g in run.grades if "duplicate_student" in g.flags})
    if twice:
        print(f"named on several rows (each row graded, flagged): {', '.join(twice)}")
    for name in ("grades.csv", "report.html"):
        print(f"{name}: {run.files[name]}")
    print(f"feedback pages: {run.out / 'feedback'}")
    return 0
