"""The store's commands: `list` (the coordinator's worklist), `show` (the clinician's summary),
`export` and `audit verify`."""

from __future__ import annotations

import argparse
from pathlib import Path

from triage.channels.cli import common
from triage.channels.cli.common import IO, ExitCode
from triage.core.result_values import MISSING_IDS, RED_FLAG_TIERS, URGENCY_WORDS, WORKLIST_STATUSES
from triage.core.safe_text import for_markdown, for_terminal, json_text

def register(commands) -> None:
    listing = common.add_command(
        commands, "list", help="the coordinator's worklist of intakes",
        description="One line per intake (its latest version): status, months since fusion at the assessment, "
        "what is still missing. Urgent first, by tier (EMERGENCY, SAME DAY, WITHIN DAYS), then too early, "
        "records needed, ready, drafts; an open red-flag screen before other missing items. Counts per "
        "status at the bottom. An intake with an open red-flag alert is urgent at the alert's tier, sent or not "
        "(\"not sent yet\"), until a clinician acknowledges it.",
        notes=common.STORE_HELP, handler=run_list, exit_codes=(ExitCode.STORE,),
        examples=("triage list", "triage list --status urgent", "triage list --urgency emergency",
                  "triage list --missing surgical_report", "triage list --va-to-do",
                  "triage list -f json | jq '.intakes[].intake_id'"))
    listing.add_argument("--status", choices=WORKLIST_STATUSES, metavar="STATUS",
                         help=f"only intakes with this status ({', '.join(WORKLIST_STATUSES)})")
    listing.add_argument("--urgency", choices=RED_FLAG_TIERS, metavar="TIER",
                         help=f"only urgent intakes of this red-flag tier ({', '.join(RED_FLAG_TIERS)})")
    listing.add_argument("--va-to-do", action="store_true", dest="va_to_do",
                         help="only veterans with VA community-care paperwork to do, listed in the MISSING column")
    listing.add_argument("--missing", choices=MISSING_IDS, metavar="ITEM",
                         help=f"only intakes still missing ITEM ({', '.join(MISSING_IDS)})")
    listing.add_argument("--limit", type=common.count, default=PAGE, metavar="N",
                         help=f"show at most N intakes (default {PAGE}; 0 = all)")
    listing.add_argument("--offset", type=common.count, default=0, metavar="N",
                         help="skip the first N intakes of the list (the next page: --offset 100)")
    common.add_format_option(listing, ("text", "json"), "text: a table for the terminal (default); json: for scripts")
    common.add_pager_option(listing)
    common.add_store_options(listing)

    show = common.add_command(
        commands, "show", help="the clinician's summary of one intake",
        description="Timeline, records, symptom pattern, red flags, the four steps with reasons, discussion "
        "points; each line names its rule and source; open red-flag alerts first. An intake with only a draft "
        "shows its answers so far. Viewing is recorded in the audit log.",
        notes=common.STORE_HELP, handler=run_show, exit_codes=(ExitCode.STORE,),
        examples=("triage show 4", "triage show 4 --intake-version 1", "triage show 4 -f json"))
    show.add_argument("id", type=common.intake_id, metavar="ID", help="the intake's id, as `triage list` shows it")
    show.add_argument("--intake-version", type=common.version_number, metavar="N", dest="intake_version",
                      help="an earlier recorded version of the intake (default: the latest)")
    common.add_format_option(show, ("text", "json"),
                             "text: the summary for the terminal (default); json: answers, result and provenance")
    common.add_pager_option(show)
    common.add_store_options(show)

    export = common.add_command(
        commands, "export", help="export one intake: json, markdown, html (printable) or fhir",
        description="Export one intake's latest (or --version N) assessment. fhir is an R4 "
        "QuestionnaireResponse for `triage questions --format fhir`. --deidentify drops the patient "
        "reference and every other identifier and reduces dates to the year (HIPAA Safe Harbor). "
        "Files are written atomically, mode 0600. Exporting is recorded in the audit log.",
        notes=common.STORE_HELP, handler=run_export, exit_codes=(ExitCode.STORE,),
        examples=("triage export 4 -f html -o intake-4.html      # one printable page",
                  "triage export 4 -f fhir --deidentify           # de-identified FHIR R4",
                  "triage export 4 -f markdown --intake-version 1"))
    export.add_argument("id", type=common.intake_id, metavar="ID", help="the intake's id, as `triage list` shows it")
    common.add_format_option(export, ("json", "markdown", "html", "fhir"), required=True,
                             help="json: the recorded version with provenance; markdown: for the record; "
                             "html: one printable page; fhir: an R4 QuestionnaireResponse")
    export.add_argument("--deidentify", action="store_true", help="remove identifiers; dates to the year")
    export.add_argument("--intake-version", type=common.version_number, metavar="N", dest="intake_version",
                        help="an earlier recorded version of the intake (default: the latest)")
    export.add_argument("--records", action="store_true",
                        help="with -f fhir: a Bundle with the response and a DocumentReference for each record "
                        "file kept (type, size, hash, title)")
    export.add_argument("--record-data", action="store_true", dest="record_data",
                        help="with --records: the files' contents too (base64)")
    export.add_argument("-o", "--out", metavar="FILE", help="write to FILE (default: standard output)")
    common.add_store_options(export)

    audit = common.add_command(commands, "audit", help="check the audit log",
                               description="Audit log commands (one so far: verify).",
                               examples=("triage audit verify",),
                               notes=common.STORE_HELP, handler=lambda args, io: _usage(audit, io),
                               exit_codes=(ExitCode.STORE, ExitCode.AUDIT))
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", parser_class=common.Parser)
    verify = common.add_command(
        actions, "verify", help="check the hash chain and every recorded version",
        description="Checks the database's integrity, that no audit row was changed or removed (hash chain), "
        "and that every recorded version matches the hash its audit row holds; names the first broken row.",
        notes=common.STORE_HELP, handler=run_audit_verify, exit_codes=(ExitCode.STORE, ExitCode.AUDIT),
        examples=("triage audit verify", "triage audit verify --db /srv/clinic/triage.db",
                  "triage audit verify --expect-head HASH --key-file /etc/triage/audit.key"))
    verify.add_argument("--expect-head", metavar="HASH", dest="expect_head", type=_head_hash,
                        help="a head printed by an earlier verify and kept outside the store: exit 7 unless "
                        "the chain still passes through it")
    verify.add_argument("--key-file", metavar="PATH", dest="key_file",
                        help="the audit key file (0600, outside the database) that keys the chain; default: "
                        "TRIAGE_AUDIT_KEY_FILE")
    common.add_store_options(verify, who=False)


def _head_hash(text: str) -> str:
    import re

    text = text.strip().lower()
    if not re.fullmatch(r"(k[0-9a-f]{12}:)?[0-9a-f]{64}", text):
        raise argparse.ArgumentTypeError("give a head as audit verify prints it (64 hex digits, or k...:... when keyed)")
    return text


def _usage(parser: argparse.ArgumentParser, io: IO) -> int:
    parser.print_help(io.out)
    return ExitCode.INVALID


def run_list(args, io: IO) -> int:
    from triage.records.drafts import with_draft_months
    from triage.records.requests import overdue_on_page
    from triage.records.store import LISTED

    days = common.load_settings(args).record_request_overdue_days
    with common.open_store(args, io, for_reading=True) as store:
        # Reads only the worklist table (indexed, one page): fast however many intakes there are.
        page = store.worklist_page(status=args.status, missing=args.missing, urgency=args.urgency,
                                   va_to_do=args.va_to_do or None, limit=args.limit or None, offset=args.offset)
        rows = with_draft_months(store, page.rows)  # a draft's months from its answers
        # Record requests past the overdue setting, as the staff worklist tags them.
        overdue = overdue_on_page(store, days, [row.intake_id for row in rows])
        overdue_total = store.count_overdue_requests(days)
        store.log_access(LISTED, user=common.user(args), detail={"rows": len(rows)})
    counts = {status: page.counts.get(status, 0) for status in WORKLIST_STATUSES}
    if args.format == "json":
        io.write_json({"intakes": [{**vars(row), "overdue_requests": overdue.get(row.intake_id, [])} for row in rows],
                       "counts": counts, "shown": len(rows), "matching": page.shown, "offset": args.offset,
                       "total": page.total, "overdue_requests": overdue_total, "overdue_after_days": days})
        return ExitCode.OK
    io.page(worklist_text(rows, page.total, counts, width=io.width(), ascii_only=not io.unicode(),
                          va_to_do=args.va_to_do, matching=page.shown, offset=args.offset, overdue=overdue,
                          overdue_total=overdue_total, overdue_days=days),
            pager=args.pager)
    return ExitCode.OK


PAGE = 100  # intakes per page of `triage list` (a screenful or two; --limit 0 lists all)


def status_words(row) -> str:
    """An urgent intake's status names its tier, in words that need no colour. An open red-flag alert
    makes an intake urgent at the alert's tier, sent or not: "not sent yet" when only a draft has it."""
    from triage.records.store import most_urgent

    alert = getattr(row, "alert_urgency", None)
    recorded = row.urgency if row.status == "urgent" else None
    tier = most_urgent([recorded, alert])
    if tier is None:
        return row.status
    words = f"urgent {URGENCY_WORDS.get(tier, 'EMERGENCY')}"
    if alert is not None and tier != recorded:  # the alert, not a recorded result, makes it urgent
        words += " (not sent yet)" if row.draft_pending else " (alert open)"
    return words


PATIENT_WIDTH = 14  # longer references are cut with an ellipsis; `show` prints them whole


def worklist_text(shown, total: int, counts: dict[str, int], *, width: int, ascii_only: bool = False,
                  va_to_do: bool = False, matching: int | None = None, offset: int = 0,
                  overdue: dict[int, list[str]] | None = None, overdue_total: int = 0, overdue_days: int = 7) -> str:
    """The worklist as a table that fits ``width`` without breaking a word: a long patient reference
    is cut with an ellipsis (`show` prints it whole) and the MISSING cell wraps at item boundaries
    under its own column. Narrower, ASSESSED is left out (said under the table), then MISSING goes on
    the lines under its row, and FUSION goes only when it cannot sit beside the status; ID, PATIENT
    and STATUS always stay. A missing record whose request is overdue says so beside it."""
    import textwrap

    ellipsis = "..." if ascii_only else "\u2026"

    def cut(text: str, room: int) -> str:
        return text if len(text) <= room else text[:room - len(ellipsis)] + ellipsis

    rows = []
    for row in shown:
        months = "-" if row.months_since_fusion is None else f"{row.months_since_fusion} mo"
        if not row.version:  # only a draft so far: nothing was assessed, so nothing can be listed as missing
            missing = "not assessed yet (a draft)"
        else:
            # the red-flag screen first: a question to ask again before any record to chase
            ordered = sorted(row.missing, key=lambda item: item != "red_flag_screen")
            late = (overdue or {}).get(row.intake_id, [])
            missing = ", ".join(f"{item} (request overdue)" if item in late else item for item in ordered) or "-"
            missing += " (new version in progress)" if row.draft_pending else ""
            if va_to_do:
                va = f"VA to do: {', '.join(row.va_to_do)}"
                missing = va if missing == "-" else f"{missing}; {va}"
        # Stored values reach the terminal here: neutralised (a hand-edited row may hold anything).
        rows.append([for_terminal(cell) for cell in (str(row.intake_id), row.patient_id or "-", status_words(row),
                                                     months, row.assessment_date or "-", missing)])
    header = ["ID", "PATIENT", "STATUS", "FUSION", "ASSESSED", "MISSING"]
    widths = [max([len(header[c]), *(len(r[c]) for r in rows)]) for c in range(5)]
    # ID, PATIENT and STATUS always stay; the patient reference gives up room first (down to 8), then
    # a long status wraps between its words ("urgent SAME DAY" / "(alert open)").
    widths[1] = max(min(widths[1], PATIENT_WIDTH, width - widths[0] - widths[2] - 4), min(widths[1], 8))
    widths[2] = max(min(widths[2], width - widths[0] - widths[1] - 4),
                    max(len(word) for r in [header, *rows] for word in r[2].split()))
    longest_word = max([len("MISSING"), *(len(word) for r in rows for word in r[5].split())])
    columns = [0, 1, 2, 3, 4]
    # An alert's note ("urgent SAME DAY (not sent yet)") wraps in its cell before a column is left out;
    # a plain status ("ready_for_evaluation") stays on one line.
    plain = max([len(r[2]) for r in [header, *rows] if "(" not in r[2]], default=len(header[2]))
    over = sum(widths[c] + 2 for c in columns) + longest_word - width
    if over > 0:
        widths[2] = max(widths[2] - over, plain, max(len(word) for r in rows for word in r[2].split()) if rows else 0)
    if sum(widths[c] + 2 for c in columns) + longest_word > width:  # MISSING would break a word
        columns.remove(4)  # ASSESSED (a date `show` gives) first
    beside = sum(widths[c] + 2 for c in columns) + longest_word <= width  # else MISSING under its row
    if not beside and sum(widths[c] + 2 for c in columns) - 2 > width:
        columns.remove(3)  # FUSION, only when it cannot even sit beside the status
    indent = sum(widths[c] + 2 for c in columns)

    def wrap(text: str, room: int, **options) -> list[str]:
        return textwrap.wrap(text, room, break_long_words=False, break_on_hyphens=False, **options) or [""]

    lines = []
    for number, cells in enumerate([header, *rows]):
        shaped = {0: [cells[0]], 1: [cut(cells[1], widths[1])], 2: wrap(cells[2], widths[2]),
                  3: [cells[3]], 4: [cells[4]], 5: wrap(cells[5], width - indent) if beside else []}
        shown_columns = [*columns, 5] if beside else columns
        for line in range(max(len(shaped[c]) for c in shown_columns)):
            parts = [(shaped[c][line] if line < len(shaped[c]) else "") for c in shown_columns]
            parts = [part.rjust(widths[c]) if c == 0 else part if c == 5 else part.ljust(widths[c])
                     for c, part in zip(shown_columns, parts)]
            lines.append("  ".join(parts))
        if number and not beside:  # the header's MISSING is said on each row's own lines
            under = " " * (widths[0] + 2)
            lines += wrap(f"missing: {cells[5]}", width, initial_indent=under, subsequent_indent=under + "  ")
    if not shown:
        lines.append("(no intakes match)" if total else "(the store has no intakes yet)")
    every = "All intakes: " + ", ".join(f"{status} {count}" for status, count in counts.items())
    matching = len(shown) if matching is None else matching
    if offset or len(shown) < matching:  # one page of several
        more = f"; the next page: --offset {offset + len(shown)}" if offset + len(shown) < matching else ""
        summary = (f"{offset + 1 if shown else offset}-{offset + len(shown)} of {matching} matching intakes shown"
                   f" ({total} in all){more}.")
    else:
        summary = f"{len(shown)} of {total} intakes shown."
    left_out = [header[c] for c in (3, 4) if c not in columns]
    if left_out:
        summary += (f" Too narrow for {' and '.join(left_out)}: a wider terminal or -f json shows "
                    f"{'them' if len(left_out) > 1 else 'it'}.")
    lines += ["", *wrap(summary, width), *wrap(every, width)]
    if overdue_total:
        lines += wrap(f"Record requests overdue (open over {overdue_days} days): {overdue_total}; "
                      "triage records list --overdue lists them.", width)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def run_show(args, io: IO) -> int:
    from triage.records.store import VIEWED

    with common.open_store(args, io, for_reading=True) as store:
        history = store.history(args.id)
        alerts = store.open_alerts(args.id)
        draft = store.load_draft(args.id)
        if not history and args.intake_version is None:
            # Only a draft so far (never sent): its answers and any red flag are shown, not an error.
            store.log_access(VIEWED, user=common.user(args), intake_id=args.id, detail={"draft": True})
            return _show_draft(args, io, draft, alerts)
        record = store.get(args.id, args.intake_version)
        requests, changes = record_requests(store, args.id)
        files = tuple(file for file in store.record_files(args.id) if file.removed_at is None)
        store.log_access(VIEWED, user=common.user(args), intake_id=record.intake_id, version=record.version)
    if args.format == "json":
        from triage.records.export import document

        io.write_json({**document(record, history, deidentify=False, requests=requests, changes=changes, files=files),
                       "open_alerts": _alerts_json(alerts), "draft_pending": draft is not None})
        return ExitCode.OK
    from triage.core.questionnaire import load_questionnaire
    from triage.channels.render.record import render_alerts, render_show

    questionnaire = load_questionnaire()
    text = render_show(record, history, questionnaire, width=io.width(), color=io.color(), ascii_only=not io.unicode(),
                       requests=requests, changes=changes, files=files)
    if alerts or draft is not None:
        text = render_alerts(alerts, questionnaire, draft=draft, width=io.width(), color=io.color()) + "\n" + text
    io.page(text, pager=args.pager)
    return ExitCode.OK


def record_requests(store, intake_id: int):
    """The intake's record requests, and the answers each received record changed (triage.records.requests)."""
    from triage.records.requests import received_changes

    requests = store.record_requests(intake_id)
    return requests, received_changes(lambda version: store.get(intake_id, version).answers, requests)


def _alerts_json(alerts) -> list[dict]:
    return [{"question": a.question, "urgency": a.urgency, "raised_at": a.raised_at,
             "answer_changed_at": a.answer_changed_at} for a in alerts]


def _show_draft(args, io: IO, draft, alerts) -> int:
    """`triage show` of an intake with only a draft: the answers so far and its open red flags."""
    answers = draft.answers if draft is not None else {}
    if args.format == "json":
        io.write_json({"intake_id": args.id, "draft": None if draft is None else {
            "answers": answers, "revision": draft.revision, "saved_at": draft.saved_at, "saved_by": draft.saved_by},
            "open_alerts": _alerts_json(alerts), "versions": []})
        return ExitCode.OK
    from triage.core.questionnaire import load_questionnaire
    from triage.channels.render.record import render_draft

    io.page(render_draft(args.id, draft, alerts, load_questionnaire(), width=io.width(), color=io.color(),
                         ascii_only=not io.unicode()), pager=args.pager)
    return ExitCode.OK


def run_export(args, io: IO) -> int:
    from triage.core.files import write_atomic
    from triage.core.questionnaire import load_questionnaire
    from triage.records.store import EXPORTED

    from triage.core.errors import InvalidInput, Problem

    if args.record_data and not args.records:
        raise InvalidInput([Problem("--record-data", "only goes with --records")])
    if args.records and (args.format != "fhir" or args.deidentify):
        raise InvalidInput([Problem("--records", "goes with -f fhir, never with --deidentify (a de-identified "
                                    "export holds no record file)")])
    questionnaire = load_questionnaire()
    with common.open_store(args, io, for_reading=True) as store:
        record = store.get(args.id, args.intake_version)
        history = store.history(args.id)
        requests, changes = ((), {}) if args.deidentify else record_requests(store, args.id)
        text = render_export(args.format, record, history, questionnaire, deidentify=args.deidentify,
                             requests=requests, changes=changes,
                             files=_record_files(store, args.id, args.record_data) if args.records else None)
        store.log_access(EXPORTED, user=common.user(args), intake_id=record.intake_id, version=record.version,
                         detail={"format": args.format, "deidentified": args.deidentify,
                                 "to": "file" if args.out else "stdout",
                                 **({"records": "with data" if args.record_data else "metadata"}
                                    if args.records else {})})
    if not args.out:
        io.out.write(text)
        return ExitCode.OK
    try:
        write_atomic(Path(args.out), text)
    except OSError as error:
        from triage.core.errors import InvalidInput, Problem

        reason = (error.strerror or str(error)).lower()
        raise InvalidInput([Problem(args.out, f"cannot be written ({reason})")]) from None
    io.note(f"exported: intake {record.intake_id} version {record.version} -> {args.out}")
    return ExitCode.OK


def _record_files(store, intake_id: int, with_data: bool) -> list:
    """(file, its bytes or None, its SHA-1 for FHIR's Attachment.hash) of each record file kept (not removed)."""
    import base64
    import hashlib

    files = []
    for file in store.record_files(intake_id):
        if file.removed_at is None:
            data = store.record_file_data(file.id)
            files.append((file, data if with_data else None, base64.b64encode(hashlib.sha1(data).digest()).decode()))
    return files


def render_export(fmt: str, record, history, questionnaire, *, deidentify: bool, requests=(), changes=None,
                  files=None) -> str:
    from triage.records.export import document

    doc = document(record, history, deidentify=deidentify, requests=requests, changes=changes)
    if fmt == "json":
        return json_text(doc, indent=2) + "\n"
    if fmt == "fhir":
        from triage.interop.fhir import response_resource

        resource = response_resource(
            questionnaire, doc["answers"], authored=doc["recorded_year"] if deidentify else record.recorded_at,
            resource_id=None if deidentify else f"intake-{record.intake_id}-v{record.version}",
            subject=None if deidentify else doc["answers"].get("patient_id"), language=record.language,
            deidentified=deidentify)
        if files is not None and not deidentify:
            from triage.interop.fhir import records_bundle
            from triage.records.requests import load_record_items

            titles = {item: definition.title for item, definition in load_record_items().items.items()}
            resource = records_bundle(resource, [(file, data) for file, data, _ in files], titles=titles,
                                      data_sha1={file.id: sha1 for file, _, sha1 in files})
        return json_text(resource, indent=2) + "\n"
    from triage.channels.render.labels import provenance
    from triage.decision.result import Result

    result = Result.model_validate(doc["result"])
    if fmt == "markdown":
        from triage.channels.render.result import render_markdown

        return (render_markdown(result, doc["answers"], questionnaire) + f"\n{provenance(doc, shown=for_markdown)}\n"
                + _requests_markdown(requests))
    from triage.channels.render.html import render_html
    from triage.core.ruleset import load_ruleset

    sources = {key: (source.title, source.reference) for key, source in load_ruleset().sources.items()}
    return render_html(result, doc, questionnaire, sources)


def _requests_markdown(requests) -> str:
    """The record requests under a Markdown export, with their dates (never in a de-identified one)."""
    from triage.records.requests import request_text

    if not requests:
        return ""
    return "\n## Record requests\n\n" + "".join(f"- {for_markdown(request_text(r))}\n" for r in requests)


def _verify_progress(err):
    """On a terminal, one line that counts the rows checked (verify streams a store of any size)."""
    def show(done: int, total: int) -> None:
        share = f" ({done / total:.0%})" if total else ""
        err.write(f"\raudit verify: {done:,} of {total:,} rows checked{share}")
        err.flush()

    return show


def run_audit_verify(args, io: IO) -> int:
    from triage.decision.retriage import Retriage
    from triage.records.store import AuditKeys

    progress = _verify_progress(io.err) if io.err.isatty() else None
    with common.open_store(args, io, for_reading=True) as store:
        keys = AuditKeys.load(args.key_file) if args.key_file else store.audit_keys
        report = store.verify_audit(on_progress=progress, retriage=Retriage(), keys=keys, expect_head=args.expect_head)
    if progress:
        io.err.write("\r\x1b[K")  # the progress line is replaced by the outcome
    if report.ok:
        io.out.write(f"ok: {report.rows} audit rows, chain intact, every version matches its hash\n"
                     f"access log: {report.access_rows} rows (who viewed, listed, exported), chain intact\n"
                     f"head: {report.head_hash}\n"
                     + ("re-triaged: 1 version gives its recorded result" if report.retriaged == 1 else
                        f"re-triaged: {report.retriaged} versions give their recorded results")
                     + (f"; {report.not_retriaged} recorded under another ruleset were not re-triaged\n"
                        if report.not_retriaged else "\n"))
        if report.unchecked_keyed:
            io.note(f"note: {report.unchecked_keyed} audit rows are keyed: give the key file (--key-file or "
                    "TRIAGE_AUDIT_KEY_FILE) to check them")
        return ExitCode.OK
    for problem in report.problems:
        io.error(f"audit: {problem}")
    return ExitCode.AUDIT
