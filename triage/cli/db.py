"""`triage db migrate`: create or upgrade a store's schema explicitly, and on PostgreSQL grant the
application role least privilege. (Opening a store does the same upgrade when it may; on PostgreSQL
the clinics' machines connect as a role that may not, so the database's owner runs this once per
upgrade.)"""

from __future__ import annotations

from triage.cli import common
from triage.cli.common import IO, ExitCode


def register(commands) -> None:
    db = common.add_command(commands, "db", help="create or upgrade the store; PostgreSQL roles",
                            description="Store administration (one action so far: migrate).",
                            examples=("triage db migrate --db 'postgresql://owner@db/triage?sslmode=verify-full'"
                                      " --app-role triage_app",),
                            notes=common.STORE_HELP, handler=lambda args, io: _usage(db, io),
                            exit_codes=(ExitCode.STORE,))
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=common.Parser)
    migrate = common.add_command(
        actions, "migrate", help="create or upgrade the store's schema (as the database owner)",
        description="Creates the store, or upgrades it to this version's schema, in one transaction. With "
        "--app-role (PostgreSQL), grants that role what the clinics' machines need and no more: it can add "
        "intakes, versions and audit rows and read them, but never change or remove a version or an audit row.",
        notes=common.STORE_HELP, handler=run_migrate, exit_codes=(ExitCode.STORE,),
        examples=("triage db migrate --db /srv/clinic/triage.db",
                  "triage db migrate --db 'postgresql://owner@db/triage?sslmode=verify-full'"
                  " --app-role triage_app"))
    migrate.add_argument("--app-role", metavar="ROLE", dest="app_role",
                         help="PostgreSQL: the role the clinics' machines connect as (created beforehand)")
    common.add_store_options(migrate, who=False)


def _usage(parser, io: IO) -> int:
    parser.print_help(io.out)
    return ExitCode.INVALID


def run_migrate(args, io: IO) -> int:
    from triage.errors import StoreError
    from triage.store import SCHEMA_VERSION

    with common.open_store(args, io) as store:  # opening creates or upgrades the schema
        if args.app_role and store.backend != "postgresql":
            raise StoreError(f"{store.path}: --app-role is for a PostgreSQL store (an SQLite store is one file, "
                             "protected by its permissions)")
        if args.app_role:
            from triage.store_postgresql import grant_application_role

            grant_application_role(store, args.app_role)
        io.out.write(f"ok: {store.path} is at store schema {SCHEMA_VERSION}"
                     + (f"; role {args.app_role} may read and add, never change audit rows or versions\n"
                        if args.app_role else "\n"))
    return ExitCode.OK
