"""`triage records`: the coordinator's record requests (request, receive, unobtainable, list).

A missing record item of an intake (``surgical_report``, ``current_mri``) is requested from someone,
then received (what the record says becomes a new version of the intake, channel ``records``, triaged
like any other) or marked not obtainable. (The module is named for what it keeps: triage/channels/cli/records.py
holds the store's reading commands, `list`, `show`, `export`, `audit`.)
"""

from __future__ import annotations

from datetime import date

from triage.channels.cli import common
from triage.channels.cli.common import IO, ExitCode, UsageError
from triage.core.errors import InvalidInput, Problem, TriageError
from triage.core.safe_text import for_terminal

# Names only (no definition is read to build the parser): checked against rules/record-items.toml by
# tests/records/test_records.py.
ITEMS = ("surgical_report", "current_mri")
VIA = ("fax", "phone", "portal", "mail", "in-person")
ITEM_NOTE = "ITEM: a record the intake's latest version lists as missing (" + ", ".join(ITEMS) + ")."
NOTES = ITEM_NOTE + "\n\n" + common.STORE_HELP
FIELDS_NOTE = ("FIELD: a field of the record's form. surgical_report: fused_levels, fusion_date (if the report "
               "says). current_mri: mri_date, annular_tear_levels (both needed; levels as L3-L4,L4-L5, or none, or "
               "unknown).")


def register(commands) -> None:
    records = common.add_command(
        commands, "records", help="request, receive and track missing records",
        description="Track the records an intake is missing (the operative report, a current MRI): who "
        "they were requested from and how, which arrived, which cannot be had. Every change is an audit row.",
        notes=NOTES, handler=lambda args, io: _usage(records, io), exit_codes=(ExitCode.STORE,),
        examples=("triage records request 4 surgical_report --from 'Dr Lee' --via fax",
                  "triage records list --overdue"))
    actions = records.add_subparsers(dest="records_command", metavar="ACTION", parser_class=common.Parser)

    request = common.add_command(
        actions, "request", help="record that a missing record was requested",
        description="Record a request for ITEM of intake ID: from whom, how, and (now) when. A request open "
        "longer than the setting record_request_overdue_days (default 7) is overdue.",
        notes=NOTES, handler=run_request, exit_codes=(ExitCode.STORE,),
        exit_words={ExitCode.OK: "the request is recorded"},
        examples=("triage records request 4 surgical_report --from 'Dr Lee, surgeon' --via fax",
                  "triage records request 4 current_mri --from 'City Imaging' --via portal"))
    _id_and_item(request)
    request.add_argument("--from", dest="source", required=True, metavar="TEXT",
                         help="from whom: the surgeon's office, the imaging center, the patient")
    request.add_argument("--via", choices=VIA, metavar="HOW", help=f"how it was asked: {', '.join(VIA)}")
    common.add_store_options(request, who_help="who requests it")

    receive = common.add_command(
        actions, "receive", help="mark a record received; triage again with what it says",
        description="Mark ITEM of intake ID received and enter what the triage needs from it: the "
        "operative report is on file (and, if it says, the fused levels and the fusion date); the MRI's "
        "date and the levels where its report names an annular tear. That makes a new version of the "
        "intake (channel records), triaged again as of today; the rules decide its status.",
        notes=ITEM_NOTE + "\n\n" + FIELDS_NOTE + "\n\n" + common.STORE_HELP,
        handler=run_receive, exit_codes=(ExitCode.STORE, ExitCode.CONFLICT),
        exit_words={ExitCode.OK: "the record is marked received and the new version saved (its status on "
                    "standard error)"},
        examples=("triage records receive 4 surgical_report",
                  "triage records receive 4 current_mri --set mri_date=2026-11-02 --set annular_tear_levels=L3-L4",
                  "triage records receive 4 current_mri --answers mri.json --file mri-report.pdf"))
    _id_and_item(receive)
    receive.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="set",
                         help="a value read from the record (repeat for each field)")
    receive.add_argument("--answers", metavar="FILE",
                         help="a JSON object of FIELD -> value read from the record (or - for standard input)")
    receive.add_argument("--file", action="append", default=[], metavar="PATH", dest="files",
                         help="a copy of the record to keep with the intake (PDF, JPEG, PNG; repeat for each)")
    receive.add_argument("--note", metavar="TEXT", help="a short note on the receipt")
    receive.add_argument("--as-of", type=common.as_of_date, metavar="DATE", dest="as_of",
                         help="the new version's assessment date YYYY-MM-DD (default: today)")
    receive.add_argument("--base-version", type=common.version_number, metavar="N", dest="base_version",
                         help="the version you checked; if another was recorded since, nothing is saved (exit 6)")
    common.add_store_options(receive, who_help="who receives it")

    unobtainable = common.add_command(
        actions, "unobtainable", help="mark a missing record as not obtainable",
        description="Mark ITEM of intake ID as not obtainable, with the reason. The item stays missing in "
        "the triage (the rules decide that); the worklist no longer counts it as waiting on a request.",
        notes=NOTES, handler=run_unobtainable, exit_codes=(ExitCode.STORE,),
        exit_words={ExitCode.OK: "the record is marked not obtainable"},
        examples=("triage records unobtainable 4 surgical_report --reason 'hospital closed, records lost'",))
    _id_and_item(unobtainable)
    unobtainable.add_argument("--reason", required=True, metavar="TEXT", help="why it cannot be had")
    common.add_store_options(unobtainable, who_help="who marks it")

    listing = common.add_command(
        actions, "list", help="the record requests, overdue first",
        description="Every record request: overdue first (oldest first), then open ones, then closed ones "
        "(most recent first), each with its dates and who did what.",
        notes=common.STORE_HELP, handler=run_list, exit_codes=(ExitCode.STORE,),
        examples=("triage records list --overdue", "triage records list --intake 4 -f json"))
    listing.add_argument("--overdue", action="store_true", help="only open requests past the overdue setting")
    listing.add_argument("--intake", type=common.intake_id, metavar="ID", help="only the requests of intake ID")
    common.add_format_option(listing, ("text", "json"), "text: a table (default); json: for scripts")
    common.add_settings_option(listing)
    common.add_store_options(listing)


def _id_and_item(parser) -> None:
    parser.add_argument("id", type=common.intake_id, metavar="ID", help="the intake's id, as `triage list` shows it")
    parser.add_argument("item", choices=ITEMS, metavar="ITEM", help=f"the record: {', '.join(ITEMS)}")


def _usage(parser, io: IO) -> int:
    parser.print_help(io.out)
    return ExitCode.INVALID


def run_request(args, io: IO) -> int:
    from triage.records.requests import check_text

    source = check_text("--from", args.source)
    with common.open_store(args, io) as store:
        request = store.request_record(args.id, args.item, source=source, via=args.via, by=common.user(args))
    io.note(f"requested: intake {args.id} {args.item} from {source}"
            + (f" by {args.via}" if args.via else "") + f" (request {request.id})")
    return ExitCode.OK


def run_unobtainable(args, io: IO) -> int:
    from triage.records.requests import check_text

    reason = check_text("--reason", args.reason)
    with common.open_store(args, io) as store:
        store.record_unobtainable(args.id, args.item, reason=reason, by=common.user(args))
    io.note(f"not obtainable: intake {args.id} {args.item} ({reason})")
    return ExitCode.OK


def run_receive(args, io: IO) -> int:
    from triage.records.requests import change_text, receive
    from triage.core.ruleset import load_ruleset

    given = _given(args)
    ruleset, settings = load_ruleset(), common.load_settings(args)
    files = _read_files(args.files, settings)  # every file is read and checked before anything is written
    with common.open_store(args, io) as store:
        if files:
            _check_count(store, args, len(files), settings)
        # One transaction: the new version, the request closed and the copies kept (channel records), so
        # a refused receipt (not missing, a conflict) keeps no file and no file is kept without it.
        done = receive(store, args.id, args.item, given, by=common.user(args), ruleset=ruleset, settings=settings,
                       today=args.as_of or date.today(), note=args.note, base_version=args.base_version,
                       files=files)
        io.saved.append((args.id, done.version))  # committed: from here on the exit code must say so
    io.note(f"received: intake {args.id} {args.item}; version {done.version} is {done.status} "
            f"(triage show {args.id})")
    for change in done.changed:
        io.note(f"  {change_text(change)}")
    return ExitCode.OK


def _given(args) -> dict:
    """The form's values from --answers FILE and --set FIELD=VALUE (a --set wins over the file)."""
    from triage.records.requests import form_value, load_record_items

    given: dict = {}
    if args.answers:
        from triage.core.files import read_answers_file

        data = read_answers_file(args.answers)
        if not isinstance(data, dict):
            raise InvalidInput([Problem(args.answers, "must be a JSON object of field -> value read from the record")])
        given.update(data)
    fields = {field.id: field.answer for field in load_record_items().items[args.item].entered}
    for text in args.set:
        name, equals, value = text.partition("=")
        name = name.strip()
        if not equals or not name:
            raise UsageError([Problem("--set", f"{text!r}: give FIELD=VALUE, e.g. mri_date=2026-11-02")])
        given[name] = form_value(fields.get(name, name), value)
    return given


def _read_files(paths: list[str], settings) -> list:
    """Each --file checked by its content as a patient's upload is (triage.records.uploads: PDF, JPEG or PNG;
    images re-encoded without their metadata; the same size limits), all before anything is written."""
    if not paths:
        return []
    from pathlib import Path

    from triage.core.errors import UploadRefused
    from triage.records.uploads import UploadLimits, check_upload, refusal_text

    limits, files = UploadLimits.from_settings(settings), []
    for path in paths:
        try:  # at most one byte over the limit: a huge file (or /dev/zero) is never read whole
            with open(path, "rb") as stream:
                data = stream.read(limits.max_bytes + 1)
        except OSError as error:
            raise InvalidInput([Problem(path, f"cannot be read ({(error.strerror or str(error)).lower()})")]) from None
        try:
            files.append(check_upload(data, Path(path).name, limits))
        except UploadRefused as refused:
            sentence = refusal_text(refused.reason, limits, setting=True)  # the staff receive form's words
            raise InvalidInput([Problem(path, f"{sentence}; nothing was saved")]) from None
    return files


def _check_count(store, args, adding: int, settings) -> None:
    """A record item holds at most upload_max_files_per_record kept files, however they came."""
    kept = sum(1 for file in store.record_files(args.id) if file.item == args.item and file.removed_at is None)
    if kept + adding > settings.upload_max_files_per_record:
        raise InvalidInput([Problem("--file", f"intake {args.id} {args.item} would hold {kept + adding} files, more "
                                    f"than {settings.upload_max_files_per_record} (setting "
                                    "upload_max_files_per_record); nothing was saved")])


def run_list(args, io: IO) -> int:
    from triage.records.store import utc_now

    settings = common.load_settings(args)
    days = settings.record_request_overdue_days
    with common.open_store(args, io, for_reading=True) as store:
        requests = store.record_requests(args.intake, overdue_after_days=days if args.overdue else None)
    now = utc_now()
    if args.format == "json":
        io.write_json({"overdue_after_days": days,
                       "requests": [{**r.as_json(), "overdue": r.overdue(now, days)} for r in requests]})
        return ExitCode.OK
    io.out.write(requests_text(requests, now, days))
    return ExitCode.OK


def requests_text(requests, now: str, days: int) -> str:
    """One line per request: intake, item, state (OVERDUE in words, no colour needed), when, from whom."""
    rows = []
    for r in requests:
        state = "OVERDUE" if r.overdue(now, days) else r.state
        if r.state == "requested":
            what = f"{r.source}" + (f" by {r.via}" if r.via else "") + f"; asked by {r.requested_by}"
            when = r.requested_at
        elif r.state == "received":
            what = f"by {r.closed_by}" + (f", version {r.received_version}" if r.received_version else "") \
                + (f"; asked of {r.source} {r.requested_at[:10]}" if r.requested_at else "")
            when = r.closed_at
        else:
            what = f"{r.reason}; by {r.closed_by}"
            when = r.closed_at
        rows.append([str(r.intake_id), r.item, state, (when or "-")[:10], for_terminal(what)])
    header = ["ID", "ITEM", "STATE", "DATE", "DETAIL"]
    widths = [max([len(header[c]), *(len(row[c]) for row in rows)]) for c in range(4)]
    lines = ["  ".join([cells[0].rjust(widths[0]), *(c.ljust(w) for c, w in zip(cells[1:4], widths[1:4])), cells[4]])
             for cells in [header, *rows]]
    if not rows:
        lines.append("(no record requests match)")
    lines += ["", f"Overdue: requested over {days} days ago and neither received nor marked not obtainable."]
    return "\n".join(line.rstrip() for line in lines) + "\n"
