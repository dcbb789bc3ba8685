"""`triage users`: the staff accounts of the web pages (add, list, disable, reset-password).

Passwords are typed at a prompt without echo (twice), or read from standard input with
--password-stdin (one line; for scripts). Never on the command line, never in a file of ours, never
printed or logged; only the argon2id hash is stored. There is no default account.
"""

from __future__ import annotations

import getpass

from triage.cli import common
from triage.cli.common import IO, ExitCode
from triage.errors import InvalidInput, Problem

ROLES = ("coordinator", "clinician")


def register(commands) -> None:
    users = common.add_command(commands, "users", help="staff accounts for the web pages",
                               description="Add, list, disable staff accounts and reset their passwords. "
                               "Every change is an audit row (never a password).",
                               notes=common.STORE_HELP, handler=lambda args, io: _usage(users, io),
                               exit_codes=(ExitCode.STORE,),
                               examples=("triage users add anna --role coordinator", "triage users list"))
    actions = users.add_subparsers(dest="users_command", metavar="ACTION", parser_class=common.Parser)

    add = common.add_command(actions, "add", help="add an account (prompts for its password)",
                             description="Add a staff account with a role: coordinator (worklist, summaries, "
                             "invitations) or clinician (worklist, summaries, acknowledging red flags).",
                             notes=common.STORE_HELP, handler=run_add, exit_codes=(ExitCode.STORE,),
                             examples=("triage users add anna --role coordinator",
                                       "triage users add dr-lee --role clinician"))
    add.add_argument("name", metavar="NAME", help="the user name (lower-case letters, digits, . _ -)")
    add.add_argument("--role", choices=ROLES, required=True, help="what the account may do")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    common.add_store_options(add, who_help="who adds the account")

    listing = common.add_command(actions, "list", help="list the accounts",
                                 description="Name, role, whether disabled, and when the account changed last.",
                                 notes=common.STORE_HELP, handler=run_list, exit_codes=(ExitCode.STORE,),
                                 examples=("triage users list",))
    common.add_store_options(listing, who=False)

    disable = common.add_command(actions, "disable", help="disable an account (it can no longer sign in)",
                                 description="Disable an account: its sessions end at their next request.",
                                 notes=common.STORE_HELP, handler=run_disable, exit_codes=(ExitCode.STORE,),
                                 examples=("triage users disable anna",))
    disable.add_argument("name", metavar="NAME", help="the user name")
    common.add_store_options(disable, who_help="who disables it")

    reset = common.add_command(actions, "reset-password", help="set a new password (prompts for it)",
                               description="Set a new password for an account (and enable it again).",
                               notes=common.STORE_HELP, handler=run_reset, exit_codes=(ExitCode.STORE,),
                               examples=("triage users reset-password dr-lee",))
    reset.add_argument("name", metavar="NAME", help="the user name")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    common.add_store_options(reset, who_help="who resets it")


def _usage(parser, io: IO) -> int:
    parser.print_help(io.out)
    return ExitCode.INVALID


def _password(args, io: IO, name: str) -> str:
    from triage import accounts

    if args.password_stdin:
        password = io.stdin.readline().rstrip("\r\n")
    else:
        if not io.stdin.isatty():
            raise InvalidInput([Problem("password", "standard input is not a terminal: use --password-stdin")])
        password = getpass.getpass(f"New password for {name}: ")
        if getpass.getpass("The same password again: ") != password:
            raise InvalidInput([Problem("password", "the two passwords differ; nothing was changed")])
    problem = accounts.check_password(password, name)
    if problem:
        raise InvalidInput([Problem("password", problem)])
    return password


def run_add(args, io: IO) -> int:
    from triage import accounts

    problem = accounts.check_name(args.name)
    if problem:
        raise InvalidInput([Problem("NAME", problem)])
    with common.open_store(args, io) as store:
        if store.get_user(args.name) is not None:
            raise InvalidInput([Problem("NAME", f"a user named {args.name!r} exists already")])
        password = _password(args, io, args.name)
        store.add_user(args.name, args.role, accounts.hash_password(password), by=common.user(args))
    io.note(f"added: {args.name} ({args.role})")
    return ExitCode.OK


def run_list(args, io: IO) -> int:
    with common.open_store(args, io) as store:
        users = store.users()
    if not users:
        io.note("no accounts yet: add one with `triage users add NAME --role coordinator|clinician`")
    for user in users:
        io.out.write(f"{user.name:<24} {user.role:<12} {'disabled' if user.disabled else 'active':<9} "
                     f"changed {user.changed_at}\n")
    return ExitCode.OK


def run_disable(args, io: IO) -> int:
    from triage.store import USER_DISABLED

    with common.open_store(args, io) as store:
        store.update_user(args.name, by=common.user(args), disabled=True, action=USER_DISABLED)
    io.note(f"disabled: {args.name}")
    return ExitCode.OK


def run_reset(args, io: IO) -> int:
    from triage import accounts
    from triage.store import PASSWORD_RESET

    with common.open_store(args, io) as store:
        if store.get_user(args.name) is None:
            raise InvalidInput([Problem("NAME", f"no user named {args.name!r}")])
        password = _password(args, io, args.name)
        store.update_user(args.name, by=common.user(args), password_hash=accounts.hash_password(password),
                          disabled=False, action=PASSWORD_RESET)
    io.note(f"password reset: {args.name}")
    return ExitCode.OK
