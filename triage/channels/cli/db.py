"""`triage db migrate`: create or upgrade a store's schema explicitly, and on PostgreSQL grant the
application role least privilege. (Opening a store does the same upgrade when it may; on PostgreSQL
the clinics' machines connect as a role that may not, so the database's owner runs this once per
upgrade.) `triage db backup` and `triage db restore`: a checked copy of the store taken while it is
being written, and putting one back (triage/records/backup.py)."""

from __future__ import annotations

from pathlib import Path

from triage.channels.cli import common
from triage.channels.cli.common import IO, ExitCode
from triage.core.errors import Problem


def register(commands) -> None:
    db = common.add_command(commands, "db", help="create or upgrade the store; PostgreSQL roles",
                            description="Store administration: migrate, backup, restore.",
                            examples=("triage db migrate --db 'postgresql://owner@db/triage?sslmode=verify-full'"
                                      " --app-role triage_app",),
                            notes=common.STORE_HELP, handler=lambda args, io: _usage(db, io),
                            exit_codes=(ExitCode.STORE,))
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=common.Parser)
    migrate = common.add_command(
        actions, "migrate", help="create or upgrade the store's schema (as the database owner)",
        description="Creates the store, or upgrades it to this version's schema, in one transaction. With "
        "--app-role (PostgreSQL), grants that role what the clinics' machines need and no more: it can add "
        "intakes, versions and audit rows and read them, but never change or remove a version or an audit row, nor "
        "an account's role or status. With --admin-role, the role that `triage users` connects as. With the audit key "
        "file (TRIAGE_AUDIT_KEY_FILE), seals the staff second factors kept in clear or with an older key "
        "(docs/security.md).",
        notes=common.STORE_HELP, handler=run_migrate, exit_codes=(ExitCode.STORE,),
        examples=("triage db migrate --db /srv/clinic/triage.db",
                  "triage db migrate --db 'postgresql://owner@db/triage?sslmode=verify-full'"
                  " --app-role triage_app --admin-role triage_admin"))
    migrate.add_argument("--app-role", metavar="ROLE", dest="app_role",
                         help="PostgreSQL: the role the clinics' machines connect as (created beforehand)")
    migrate.add_argument("--admin-role", metavar="ROLE", dest="admin_role",
                         help="PostgreSQL: the role `triage users` connects as to manage accounts (with --app-role)")
    common.add_store_options(migrate, who=False)

    backup = common.add_command(
        actions, "backup", help="copy the store, consistently, while it is in use; print the audit head it covers",
        description="Writes a consistent copy of the whole store to PATH, a new file (0600; an existing file is "
        "never overwritten), while intakes go on being written: SQLite's online backup API, or for a PostgreSQL "
        "store pg_dump --format=custom in the snapshot the check reads. The copy's audit chain is verified and "
        "its head printed: note it with the backup; after a restore, triage audit verify prints the same head. "
        "The copy holds health information: keep it encrypted.",
        notes=common.STORE_HELP, handler=run_backup, exit_codes=(ExitCode.STORE, ExitCode.AUDIT),
        examples=("triage db backup /var/backups/fbss-triage/ --db /var/lib/fbss-triage/triage.db",
                  "triage db backup triage.dump --db 'postgresql://triage_owner@db.clinic.example/triage'"))
    backup.add_argument("path", metavar="PATH",
                        help="the new file to write the copy to, or a folder: then a new file in it named by the "
                        "UTC time (triage-2026-12-06T023000Z.db; .dump for PostgreSQL)")
    common.add_store_options(backup, who=False)

    restore = common.add_command(
        actions, "restore", help="check a backup copy, then put it in place as the store of --db",
        description="Checks the copy (its audit chain and every version's hash) before anything is touched, then "
        "makes the store of --db hold exactly the copy, and verifies the result (the same head as the copy). A "
        "store that already holds intakes or staff accounts is replaced only with --force; stop triage serve "
        "first. On PostgreSQL it runs pg_restore into the database of the URL (then give the application "
        "role its grants again: triage db migrate --app-role ROLE).",
        notes=common.STORE_HELP, handler=run_restore, exit_codes=(ExitCode.STORE, ExitCode.AUDIT),
        examples=("triage db restore /var/backups/fbss-triage/triage-2026-12-01.db --db /var/lib/fbss-triage/triage.db",
                  "triage db restore triage.dump --db 'postgresql://owner@/triage?host=/run/postgresql'"))
    restore.add_argument("path", metavar="PATH", type=Path, help="the backup copy (a file triage db backup wrote)")
    restore.add_argument("--force", action="store_true",
                         help="replace the whole content of a store that already holds intakes or accounts")
    common.add_store_options(restore, who=False)


def _usage(parser, io: IO) -> int:
    parser.print_help(io.out)
    return ExitCode.INVALID


def run_migrate(args, io: IO) -> int:
    from triage.core.errors import StoreError
    from triage.records.store import SCHEMA_VERSION

    with common.open_store(args, io) as store:  # opening creates or upgrades the schema
        if args.admin_role and not args.app_role:
            raise StoreError(f"{store.path}: --admin-role goes with --app-role (the admin role has the application "
                             "role's privileges and accounts besides)")
        if args.app_role and store.backend != "postgresql":
            raise StoreError(f"{store.path}: --app-role is for a PostgreSQL store (an SQLite store is one file, "
                             "protected by its permissions)")
        if args.app_role:
            from triage.records.store.postgresql import grant_application_role

            grant_application_role(store, args.app_role, args.admin_role)
        sealed, unopenable = store.seal_second_factors()  # with a key file only (docs/security.md, 2.8.2)
        if sealed:
            io.note(f"sealed {sealed} staff second factor{'s' if sealed != 1 else ''} with the newest key of "
                    f"{store.audit_keys.path}")
        if unopenable:
            io.note(f"warning: {unopenable} staff second factor{'s are' if unopenable != 1 else ' is'} sealed with a "
                    f"key that {store.audit_keys.path} does not hold (or altered): those members cannot sign in; "
                    "add the key back, or triage users reset-second-factor NAME")
        io.out.write(f"ok: {store.path} is at store schema {SCHEMA_VERSION}"
                     + (f"; role {args.app_role} may read and add, never change audit rows, versions or accounts"
                        if args.app_role else "")
                     + (f"; role {args.admin_role} may manage accounts" if args.admin_role else "") + "\n")
    return ExitCode.OK


def _outcome(io: IO, done: str, outcome) -> int:
    from triage.core.safe_text import for_terminal

    report = outcome.report
    if not report.ok:
        for problem in report.problems:
            io.error(f"audit: {problem}")
        return ExitCode.AUDIT
    io.out.write(for_terminal(f"ok: {done} {outcome.where}: {report.rows} audit rows, chain intact, every "
                              "version matches its hash") + f"\nhead: {report.head_hash}\n")
    return ExitCode.OK


def run_backup(args, io: IO) -> int:
    from triage.records.backup import backup

    target = Path(args.path)
    if args.path.endswith("/") and not target.is_dir():  # meant a folder: never a file named like it
        raise common.UsageError([Problem(args.path, "no such folder")])
    outcome = backup(common.store_path(args), target)
    if not outcome.report.ok:
        io.error(f"{outcome.where}: the copy was written, but the store it copies fails its audit "
                 "check (below); keep both for investigation")
    return _outcome(io, "backup written to", outcome)


def run_restore(args, io: IO) -> int:
    from triage.records.backup import restore

    outcome = restore(args.path, common.store_path(args), replace=args.force)
    if not outcome.report.ok and outcome.where == str(args.path):
        io.error(f"{args.path}: the copy fails its audit check; nothing was restored")
    elif not outcome.report.ok:  # PostgreSQL: a dump's content can only be checked once restored
        io.error(f"{outcome.where}: the restored store fails its audit check (the copy was damaged or "
                 "altered): do not use it; restore another backup with --force")
    return _outcome(io, "restored into", outcome)
