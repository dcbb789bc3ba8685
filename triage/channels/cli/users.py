"""`triage users`: the staff accounts of the web pages (add, list, disable, reset-password,
reset-second-factor, set-role).

Passwords are typed at a prompt without echo (twice), or read from standard input with
--password-stdin (one line; for scripts). Never on the command line, never in a file of ours, never
printed or logged; only the argon2id hash is stored. There is no default account.
"""

from __future__ import annotations

import getpass

from triage.channels.cli import common
from triage.channels.cli.common import IO, ExitCode
from triage.core.errors import InvalidInput, Problem
from triage.core.safe_text import for_terminal

ROLES = ("coordinator", "clinician")
PASSWORD_TRIES = 3  # at a terminal: a password refused (or typed differently twice) is asked again


def register(commands) -> None:
    users = common.add_command(commands, "users", help="staff accounts for the web pages",
                               description="Add, list, disable staff accounts and reset their passwords "
                               "and sign-in codes. "
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
                                 description="Disable an account: its sessions end at once.",
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

    factor = common.add_command(actions, "reset-second-factor",
                                help="remove an account's sign-in code (it sets up a new one at its next sign-in)",
                                description="For a member who lost the phone with the authenticator app and the "
                                "recovery codes: the account's second factor and recovery codes are removed, and "
                                "it sets up a new one at its next sign-in.",
                                notes=common.STORE_HELP, handler=run_reset_second_factor,
                                exit_codes=(ExitCode.STORE,), examples=("triage users reset-second-factor dr-lee",))
    factor.add_argument("name", metavar="NAME", help="the user name")
    common.add_store_options(factor, who_help="who resets it")
    set_role = common.add_command(actions, "set-role", help="give an account another role",
                                  description="Change an account's role; its sessions end at once (it signs in "
                                  "again with the new role).",
                                  notes=common.STORE_HELP, handler=run_set_role, exit_codes=(ExitCode.STORE,),
                                  examples=("triage users set-role anna clinician",))
    set_role.add_argument("name", metavar="NAME", help="the user name")
    set_role.add_argument("role", metavar="ROLE", choices=ROLES, help="coordinator or clinician")
    common.add_store_options(set_role, who_help="who changes it")


def _usage(parser, io: IO) -> int:
    parser.print_help(io.out)
    return ExitCode.INVALID


def _password(args, io: IO, name: str) -> str:
    from triage.records import accounts

    if args.password_stdin:
        password = io.stdin.readline().rstrip("\r\n")
        problem = accounts.check_password(password, name)
        if problem:
            raise InvalidInput([Problem("password", problem)])
        return password
    if not io.stdin.isatty():
        raise InvalidInput([Problem("password", "standard input is not a terminal: use --password-stdin")])
    # At a terminal: the rules are checked before the repeat is asked, and a mistake asks again
    # (a few times), so that nobody types the whole command again.
    import textwrap

    def say(text: str) -> None:  # wrapped to the terminal: a word is never cut at its edge
        io.err.write("\n".join(textwrap.wrap(text, io.width(io.err) - 1, initial_indent="  ",
                                             subsequent_indent="  ")) + "\n")

    for _ in range(PASSWORD_TRIES):
        password = getpass.getpass(f"New password for {name}: ")
        problem = accounts.check_password(password, name)
        if problem:
            say(f"{problem[0].upper()}{problem[1:]}. Type another.")
            continue
        if getpass.getpass("The same password again: ") != password:
            say("The two passwords differ. Type the new password again.")
            continue
        return password
    raise InvalidInput([Problem("password", f"no usable password after {PASSWORD_TRIES} tries; nothing was changed")])


def run_add(args, io: IO) -> int:
    from triage.records import accounts

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
        factors = store.second_factor_keys()
        key_file = store.audit_keys.path if store.audit_keys is not None else None
    if not users:
        io.note("no accounts yet: add one with `triage users add NAME --role coordinator|clinician`")
        return ExitCode.OK
    rows = [(for_terminal(user.name), user.role, "disabled" if user.disabled else "active", str(user.changed_at))
            for user in users]
    widths = [max(len(row[column]) for row in [USERS_HEADER, *rows]) for column in range(3)]
    for row in [USERS_HEADER, *rows]:
        io.out.write("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[3]]).rstrip() + "\n")
    _second_factor_notes(io, factors, key_file)
    return ExitCode.OK


def _second_factor_notes(io: IO, factors: dict[str, int], key_file) -> None:
    """How the second factors are kept (ASVS 2.8.2, docs/security.md): the ones this process cannot
    open are accounts that cannot sign in on a server run like it; clear ones, with a key file, are
    sealed by `triage db migrate`."""
    def accounts(count: int) -> str:
        return f"{count} account{'s' if count != 1 else ''}"

    if factors["unopenable"]:
        why = (f"with a key that {key_file} does not hold (or altered)" if key_file
               else "and no key file is given (TRIAGE_AUDIT_KEY_FILE)")
        io.note(f"warning: {accounts(factors['unopenable'])} ha{'ve' if factors['unopenable'] != 1 else 's'} a "
                f"second factor sealed {why}: they cannot sign in on a server run like this; give it the key "
                "file, or triage users reset-second-factor NAME")
    if factors["clear"] and key_file:
        io.note(f"{accounts(factors['clear'])} ha{'ve' if factors['clear'] != 1 else 's'} a second factor kept "
                "in clear: triage db migrate (as the database owner, with this key file) seals them")


USERS_HEADER = ("NAME", "ROLE", "STATE", "CHANGED (UTC)")


def run_set_role(args, io: IO) -> int:
    from triage.records.store import ROLE_CHANGED

    with common.open_store(args) as store:
        user = store.get_user(args.name)
        if user is None:
            raise InvalidInput([Problem("NAME", f"no user named {args.name!r}")])
        if user.role == args.role:
            io.note(f"{args.name} is a {args.role} already")
            return ExitCode.OK
        store.update_user(args.name, by=common.user(args), role=args.role, action=ROLE_CHANGED)
    io.note(f"role changed: {args.name} is now a {args.role}")
    return ExitCode.OK


def run_disable(args, io: IO) -> int:
    from triage.records.store import USER_DISABLED

    with common.open_store(args, io) as store:
        if store.get_user(args.name) is None:  # (the store's own message names an intake)
            raise InvalidInput([Problem("NAME", f"no user named {args.name!r}")])
        store.update_user(args.name, by=common.user(args), disabled=True, action=USER_DISABLED)
    io.note(f"disabled: {args.name}")
    return ExitCode.OK


def run_reset(args, io: IO) -> int:
    from triage.records import accounts
    from triage.records.store import PASSWORD_RESET

    with common.open_store(args, io) as store:
        if store.get_user(args.name) is None:
            raise InvalidInput([Problem("NAME", f"no user named {args.name!r}")])
        password = _password(args, io, args.name)
        store.update_user(args.name, by=common.user(args), password_hash=accounts.hash_password(password),
                          disabled=False, action=PASSWORD_RESET)
    io.note(f"password reset: {args.name}")
    return ExitCode.OK


def run_reset_second_factor(args, io: IO) -> int:
    with common.open_store(args) as store:
        if store.get_user(args.name) is None:
            raise InvalidInput([Problem("NAME", f"no user named {args.name!r}")])
        store.reset_second_factor(args.name, by=common.user(args))
    io.note(f"second factor reset: {args.name} (sets up a new one at the next sign-in)")
    return ExitCode.OK
