"""Command line of the intake store: `list`, `show`, `export`, `audit verify`, and the `--save` /
`--amend` options of `assess`. Outer layer: parses, calls triage.store, prints."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TextIO

STATUS_ORDER = ("urgent", "too_early", "records_needed", "ready_for_evaluation", "draft")
MISSING_IDS = ("fusion_date", "fused_levels", "current_mri", "surgical_report", "symptom_pattern",
               "red_flag_screen")

STORE_HELP = """the store: --db PATH, else the TRIAGE_DB environment variable, else
$XDG_DATA_HOME/fbss-triage/triage.db (default ~/.local/share/fbss-triage/triage.db); created on
first use (folder 0700, file 0600).
"""


def intake_id(text: str) -> int:
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r} is not an intake id (a whole number, as `triage list` shows)")


def version_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r} is not a version number")


def store_path(args) -> Path:
    from triage.store import default_path

    value = getattr(args, "db", None) or os.environ.get("TRIAGE_DB")
    return Path(value) if value else default_path()


def user(args) -> str:
    from triage.store import current_user

    return getattr(args, "user", None) or current_user()


def add_store_options(parser: argparse.ArgumentParser, *, who: bool = True) -> None:
    """--db and --user for any command that uses the store (resolve them with store_path(args) and
    user(args))."""
    parser.add_argument("--db", metavar="PATH", help="the store file (default: TRIAGE_DB, else the per-user store)")
    if who:
        parser.add_argument("--user", metavar="NAME", help="who is doing this, for the audit log (default: the OS user)")


def add_assess_options(parser: argparse.ArgumentParser) -> None:
    """Options `assess` takes to record its result in the store."""
    group = parser.add_argument_group("store", STORE_HELP)
    group.add_argument("--save", action="store_true", help="record the answers and result as a new intake")
    group.add_argument("--amend", type=intake_id, metavar="ID",
                       help="record them as a new version of intake ID instead (implies --save)")
    group.add_argument("--base-version", type=version_number, metavar="N",
                       help="with --amend: the version you checked; if another was recorded since, nothing is "
                       "saved and the exit code is 6 (default: amend the latest)")
    group.add_argument("--db", metavar="PATH", help="the store file (default: TRIAGE_DB, else the per-user store)")
    group.add_argument("--user", metavar="NAME", help="who records it, for the audit log (default: the OS user)")


def save_assessment(args, answers: dict, result: dict, source: str, err: TextIO) -> None:
    """Record an assessment made by `assess` (before anything is printed: a failed save prints no
    result, and the answers file is untouched, so nothing is lost)."""
    from triage.cli import UsageError
    from triage.errors import Problem
    from triage.store import open_store

    if args.base_version is not None and args.amend is None:
        raise UsageError([Problem("--base-version", "only goes with --amend ID")])
    with open_store(store_path(args)) as store:
        intake, version = store.record_assessment(answers, result, user=user(args), intake_id=args.amend,
                                                  expected_version=args.base_version, source=source)
    err.write(f"saved: intake {intake} version {version} (triage show {intake})\n")


def add_parser(commands) -> None:
    formatter = argparse.RawDescriptionHelpFormatter

    listing = commands.add_parser(
        "list", help="the coordinator's worklist of intakes",
        description="One line per intake (its latest version): status, months since fusion at the assessment, "
        "what is still missing. Urgent first. Counts per status at the bottom.",
        epilog=STORE_HELP, formatter_class=formatter)
    listing.add_argument("--status", choices=STATUS_ORDER, help="only intakes with this status")
    listing.add_argument("--missing", choices=MISSING_IDS, metavar="ITEM",
                         help=f"only intakes still missing ITEM ({', '.join(MISSING_IDS)})")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    add_store_options(listing)
    listing.set_defaults(handler=cmd_list)

    show = commands.add_parser(
        "show", help="the clinician's summary of one intake",
        description="Timeline, records, symptom pattern, red flags, the four steps with reasons, discussion "
        "points; each line names its rule and source. Viewing is recorded in the audit log.",
        epilog=STORE_HELP, formatter_class=formatter)
    show.add_argument("id", type=intake_id, metavar="ID")
    show.add_argument("--version", type=version_number, metavar="N", help="an earlier version (default: latest)")
    show.add_argument("--format", choices=("text", "json"), default="text")
    add_store_options(show)
    show.set_defaults(handler=cmd_show)

    export = commands.add_parser(
        "export", help="export one intake: json, markdown, html (printable) or fhir",
        description="Export one intake's latest (or --version N) assessment. fhir is an R4 "
        "QuestionnaireResponse for `triage questions --format fhir`. --deidentify drops the patient "
        "reference and every other identifier and reduces dates to the year (HIPAA Safe Harbor). "
        "Files are written atomically, mode 0600. Exporting is recorded in the audit log.",
        epilog=STORE_HELP, formatter_class=formatter)
    export.add_argument("id", type=intake_id, metavar="ID")
    export.add_argument("--format", choices=("json", "markdown", "html", "fhir"), required=True)
    export.add_argument("--deidentify", action="store_true", help="remove identifiers; dates to the year")
    export.add_argument("--version", type=version_number, metavar="N", help="an earlier version (default: latest)")
    export.add_argument("--out", metavar="FILE", help="write to FILE (default: standard output)")
    add_store_options(export)
    export.set_defaults(handler=cmd_export)

    audit = commands.add_parser("audit", help="check the audit log", description="Audit log commands.",
                                epilog=STORE_HELP, formatter_class=formatter)
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    verify = actions.add_parser(
        "verify", help="check the hash chain and every recorded version",
        description="Checks the database's integrity, that no audit row was changed or removed (hash chain), "
        "and that every recorded version matches the hash its audit row holds. Exit 0: intact; "
        "7: broken (names the first broken row).",
        epilog=STORE_HELP, formatter_class=formatter)
    add_store_options(verify, who=False)
    verify.set_defaults(handler=cmd_audit_verify)
    audit.set_defaults(handler=_audit_usage(audit))


def _audit_usage(parser: argparse.ArgumentParser):
    def handler(args, out: TextIO) -> int:
        parser.print_help(out)
        return 2

    return handler


def _open(args):
    from triage.store import open_store

    return open_store(store_path(args))


def cmd_list(args, out: TextIO) -> int:
    from triage.store import LISTED

    with _open(args) as store:
        rows = store.worklist()
        shown = [row for row in rows
                 if (args.status is None or row.status == args.status)
                 and (args.missing is None or args.missing in row.missing)]
        store.log_access(LISTED, user=user(args), detail={"rows": len(shown)})
    shown.sort(key=lambda row: (STATUS_ORDER.index(row.status), row.intake_id))
    counts = {status: sum(1 for row in rows if row.status == status) for status in STATUS_ORDER}
    if args.format == "json":
        out.write(json.dumps({"intakes": [vars(row) for row in shown], "counts": counts, "shown": len(shown),
                              "total": len(rows)}, indent=2, ensure_ascii=False) + "\n")
        return 0
    table = [("ID", "PATIENT", "STATUS", "SINCE FUSION", "ASSESSED", "MISSING")]
    for row in shown:
        months = "-" if row.months_since_fusion is None else f"{row.months_since_fusion} mo"
        missing = ", ".join(row.missing) or "-"
        if row.draft_pending:
            missing += " (draft in progress)" if row.version else ""
        table.append((str(row.intake_id), row.patient_id or "-", row.status, months,
                      row.assessment_date or "-", missing))
    widths = [max(len(line[column]) for line in table) for column in range(5)]
    for line in table:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(line, widths)) + "  " + line[5] + "\n")
    if not shown:
        out.write("(no intakes match)\n" if rows else "(the store has no intakes yet)\n")
    out.write(f"\n{len(shown)} of {len(rows)} intakes shown. All intakes: "
              + ", ".join(f"{status} {count}" for status, count in counts.items()) + "\n")
    return 0


def cmd_show(args, out: TextIO) -> int:
    from triage.store import VIEWED

    with _open(args) as store:
        record = store.get(args.id, args.version)
        history = store.history(args.id)
        store.log_access(VIEWED, user=user(args), intake_id=record.intake_id, version=record.version)
    if args.format == "json":
        from triage.export import document

        out.write(json.dumps(document(record, history, deidentify=False), indent=2, ensure_ascii=False) + "\n")
        return 0
    from triage.cli import _use_color, _width
    from triage.questionnaire import load_questionnaire
    from triage.render import render_show

    out.write(render_show(record, history, load_questionnaire(), width=_width(out), color=_use_color(out)))
    return 0


def cmd_export(args, out: TextIO) -> int:
    from triage.files import write_atomic
    from triage.questionnaire import load_questionnaire
    from triage.store import EXPORTED

    questionnaire = load_questionnaire()
    with _open(args) as store:
        record = store.get(args.id, args.version)
        history = store.history(args.id)
        text = render_export(args.format, record, history, questionnaire, deidentify=args.deidentify)
        store.log_access(EXPORTED, user=user(args), intake_id=record.intake_id, version=record.version,
                         detail={"format": args.format, "deidentified": args.deidentify,
                                 "to": "file" if args.out else "stdout"})
    if args.out:
        try:
            write_atomic(Path(args.out), text)
        except OSError as error:
            from triage.errors import InvalidInput, Problem

            reason = (error.strerror or str(error)).lower()
            raise InvalidInput([Problem(args.out, f"cannot be written ({reason})")]) from None
        if getattr(args, "err", None):
            args.err.write(f"exported: intake {record.intake_id} version {record.version} -> {args.out}\n")
    else:
        out.write(text)
    return 0


def render_export(fmt: str, record, history, questionnaire, *, deidentify: bool) -> str:
    from triage.export import document

    doc = document(record, history, deidentify=deidentify)
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "fhir":
        from triage.fhir import response_resource

        resource = response_resource(
            questionnaire, doc["answers"], authored=doc["recorded_year"] if deidentify else record.recorded_at,
            resource_id=None if deidentify else f"intake-{record.intake_id}-v{record.version}",
            subject=None if deidentify else doc["answers"].get("patient_id"))
        return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"
    from triage import render
    from triage.result import Result

    result = Result.model_validate(doc["result"])
    if fmt == "markdown":
        return render.render_markdown(result, doc["answers"], questionnaire) + f"\n{render.provenance(doc)}\n"
    return render.render_html(result, doc, questionnaire)


def cmd_audit_verify(args, out: TextIO) -> int:
    with _open(args) as store:
        report = store.verify_audit()
    if report.ok:
        out.write(f"ok: {report.rows} audit rows, chain intact, every version matches its hash\n"
                  f"head: {report.head_hash}\n")
        return 0
    from triage.cli import EXIT_AUDIT

    err = getattr(args, "err", None) or out
    for problem in report.problems:
        err.write(f"error: audit: {problem}\n")
    return EXIT_AUDIT
