"""`triage intake`: the guided questionnaire in a terminal (outer layer).

The interview logic lives in triage/core/interview.py; this module only shows questions, reads lines and
saves after every answer. Coordinators get one compact line per question; patients get plain wording,
one question at a time. With standard input not a terminal, answers are read one per line (scripts).
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

from triage.channels.cli import common
from triage.channels.cli.common import IO, ExitCode

INTAKE_NOTES = """keys (at a terminal):
  < or b      back to the previous question
  ?           help for the question
  Enter       keep the answer shown in [brackets] (assessment date: today)
  u           unknown / I don't know
  coordinator: y / n / u; a number for a choice; numbers for several (1 3 or 1,3);
               levels as L4-5 L5-S1 (none where allowed); dates as YYYY-MM-DD,
               YYYY-MM, MM/YYYY or MM/DD/YYYY (DD/MM/YYYY with date_order = "DMY")

piped input (standard input not a terminal): one line per question asked, in
order, typed as at the prompt; a blank line = Enter. No review and no
continue/stop question after a red flag. A line that is not a valid answer, or
input that ends early, exits 2 with the answers so far saved. An --out file that
exists, a bad --resume file or an answers file that cannot be written also exit 2.
"""


def register(commands) -> None:
    intake = common.add_command(
        commands, "intake", help="guided questionnaire in the terminal (coordinator or patient)",
        description="Walk the questionnaire one question at a time, save the answers after every "
        "answer, and end with the result (coordinator) or a patient-safe summary (patient).",
        notes=INTAKE_NOTES, handler=run,
        examples=("triage intake                                  # coordinator, kept in the store",
                  "triage intake --resume-intake 4                # continue intake 4",
                  "triage intake --mode patient --patient-id P-17 # a patient at the kiosk",
                  "triage intake --mode patient -o visit.json     # answers kept in a file",
                  "triage intake --mode patient --lang es         # a patient who reads Spanish",
                  "triage intake --resume visit.json"),
        exit_codes=(ExitCode.DEFINITION, ExitCode.ENGINE, ExitCode.STORE, ExitCode.CONFLICT, ExitCode.HANGUP,
                    ExitCode.SAVED_NOT_SHOWN, ExitCode.OUTPUT, ExitCode.INTERRUPTED),
    )
    intake.add_argument("--mode", choices=("coordinator", "patient"), default="coordinator",
                        help="coordinator: compact keyboard entry, ends with the full result (default); "
                        "patient: plain wording, ends with a patient-safe summary")
    intake.add_argument("-o", "--out", metavar="FILE",
                        help="keep the answers in this answers file instead of the store (it must not exist "
                        "yet); `triage assess FILE` reads it. From a red flag answered yes they are also kept "
                        "in the store (--db), so that staff see it at once")
    intake.add_argument("--resume", metavar="FILE",
                        help="continue the intake saved in answers file FILE (saved back to FILE)")
    intake.add_argument("--resume-intake", metavar="ID", type=common.intake_id,
                        help="continue intake ID from the store (its draft, or a new version of a recorded intake)")
    intake.add_argument("--patient-id", metavar="REF",
                        help="the patient reference to record with the answers (patients are not asked for it)")
    common.add_language_option(intake, "with --mode patient: the language the patient reads")
    common.add_settings_option(intake)
    common.add_store_options(intake)


class StopIntake(Exception):
    """The person chose to stop after a red flag: go to the end with what was entered."""


class InputEnded(Exception):
    """End of input at a prompt (Ctrl-D, or a script's last line)."""


class TerminalClosed(Exception):
    """SIGHUP: nobody is left to read anything."""


def _hangup(signum, frame):
    raise TerminalClosed()


class _Lines:
    """Reads one answer per line: from a person at a terminal (with the prompt), or from a script."""

    def __init__(self, interactive: bool, stdin: TextIO):
        self.interactive = interactive
        self.stdin = stdin
        self.number = 0  # lines read, for messages about piped input

    def read(self, prompt: str) -> str:
        if self.interactive:
            try:
                return input(prompt)
            except EOFError:
                raise InputEnded() from None
        line = self.stdin.readline()
        if not line:
            raise InputEnded()
        self.number += 1
        return line.rstrip("\r\n")

    def rest(self) -> list[tuple[int, str]]:
        """Lines a script sent after the last question (should be none)."""
        extra = []
        for line in self.stdin:
            self.number += 1
            if line.strip():
                extra.append((self.number, line.strip()))
        return extra


class Intake:
    """One intake session at a terminal (or from a script)."""

    def __init__(self, interview, draft, questionnaire, ruleset, settings, *, console, lines: _Lines,
                 err: TextIO, ascii_only: bool = False, height: int = 24, language=None):
        self.interview = interview
        self.draft = draft
        self.q = questionnaire
        self.wording = questionnaire.patient_wording
        self.ruleset = ruleset
        self.settings = settings
        # What the patient reads after a red flag and at the end, in their language (patient texts
        # of the rules and the settings as those texts read them); the rules themselves stay one.
        self.patient_texts = language.texts if language else ruleset
        self.patient_values = language.values if language else None
        self.console = console
        self.lines = lines
        self.err = err
        self.mode = interview.mode
        self.patient = self.mode == "patient"
        self.scripted = not lines.interactive
        self.ascii_only = ascii_only  # TERM=dumb: no box characters
        self.height = height  # the review is shown a screenful at a time
        self.last_section: str | None = None

    # --- output helpers ---------------------------------------------------------------------------
    def say(self, text: str = "", style: str = "", indent: int = 0) -> None:
        from rich.padding import Padding
        from rich.text import Text

        if self.scripted:
            return  # scripts get the result on stdout and nothing else
        self.console.print(Padding(Text(text, style=style), (0, 0, 0, indent)) if indent else Text(text, style=style))

    def note(self, text: str) -> None:
        """Something the person must know even when scripted (on standard error then)."""
        if self.scripted:
            from triage.core.safe_text import for_terminal

            self.err.write(for_terminal(f"note: {text}") + "\n")
        else:
            self.say(text, style="bold", indent=2)

    def not_understood(self, item, reasons: list[str], kinds: list[tuple[str, dict]] | None = None) -> None:
        """Say why an answer cannot be used: coordinators get the reason; patients a plain sentence
        of patient_wording.errors for its kind (the reason itself only when no kind fits)."""
        if self.scripted:  # a script cannot be asked again: stop, naming the field and the line
            from triage.core.errors import InvalidInput, Problem

            raise InvalidInput([Problem(item.id, f"{reason} (standard input line {self.lines.number})")
                                for reason in reasons])
        kinds = kinds or [("", {})] * len(reasons)
        for reason, (kind, params) in zip(reasons, kinds):
            if self.patient and kind in self.wording.errors:
                self.say(self.wording.errors[kind].format(**params), style="bold")
            elif self.patient and self.q.language != "en":  # the reason is English: a plain sentence
                self.say(self.wording.errors["other"], style="bold")
            elif self.patient:
                self.say(self.wording.not_understood.format(reason=reason.rstrip(".")), style="bold")
            else:
                self.say(f"! {reason}", style="bold", indent=2)

    # --- the run ------------------------------------------------------------------------------------
    def run(self) -> bool:
        """Ask until the review is finished. Returns whether the person stopped early (red flag)."""
        self.start()
        while True:
            item = self.interview.current
            if item is None:
                if self.scripted:
                    return False
                chosen = self.review()
                if chosen is None:
                    return False
                if chosen == "back":
                    self.interview.back()
                    continue
                self.edit_from_review(chosen)
                continue
            try:
                outcome = self.ask(item)
            except StopIntake:
                return True
            if outcome == "back" and not self.interview.back():
                self.say(self.wording.first_question if self.patient else
                         "  ! this is the first question; there is nothing before it", style="bold")

    def start(self) -> None:
        from triage.core.interview import date_forms

        info = self.q.questionnaire
        if self.patient:
            self.say(info.title, style="bold")
            self.say()
            self.say(info.patient_intro)
        else:
            self.say(f"Intake {info.id} {info.version}, coordinator mode", style="bold")
            order = "month first" if self.settings.date_order == "MDY" else "day first"
            self.say(f"Keys: y/n/u, a number for a choice (several: 1 3), Enter keeps [shown], "
                     f"? help, < back, t today, Ctrl-C pauses. Dates {order}: "
                     f"{date_forms('partial_date', self.settings.date_order)}, or a month name (March 2024).")
        self.say(self.wording.saved_as_you_go if self.patient
                 else f"Answers are saved to {self.draft.where} after every answer.", style="dim")
        flags = self.interview.red_flags_yes()
        if flags and not self.scripted:
            self.red_flag_panel(flags[0])
        if self.interview.position and not self.patient:
            number, total = self.interview.progress()
            self.say(f"Resuming at question {number} of {total}.", style="dim")

    def _hidden_text(self, items) -> str:
        names = "; ".join(item.text if self.patient else item.label for item in items)
        if self.patient:
            return self.wording.dropped.format(questions=names)
        return f"Now not asked (skip logic): {names}. Their answers are kept until the end, in case this is changed back."

    # --- one question -------------------------------------------------------------------------------
    def ask(self, item):
        """Ask ``item`` until an answer is accepted (returns the Outcome) or the person goes back
        (returns "back"). Saves after the answer."""
        from triage.core.errors import InvalidInput
        from triage.core.interview import Back, Help, InputError, interpret, patient_error, problem_lines

        current = self.interview.answers.get(item.id)
        default = self.interview.default(item)
        prompt = self.show_question(item, current, default)
        while True:
            typed = self.lines.read(prompt)
            try:
                action = interpret(item, typed, mode=self.mode, date_order=self.settings.date_order,
                                   current=current, default=default,
                                   unknown_text=self.q.questionnaire.unknown_text,
                                   interactive=not self.scripted, not_after=self.interview.assessment_date())
            except InputError as error:
                self.not_understood(item, [str(error)], [(error.kind, error.params)])
                continue
            if isinstance(action, Help):
                self.say(item.help, indent=2)
                continue
            if isinstance(action, Back):
                return "back"
            try:
                outcome = self.interview.answer(item, action.value)
            except InvalidInput as error:
                reasons = problem_lines(error, item, self.q)
                if item.type in ("date", "partial_date") and typed.strip() != action.value:
                    # Show how a typed date was read: '6/31/2025' (read as 2025-06-31) ...
                    reasons = [r.replace(f"'{action.value}'", f"'{typed.strip()}' (read as {action.value})")
                               for r in reasons]
                kinds = [(patient_error(p.message) or "", {"min": item.min, "max": item.max}) for p in error.problems]
                self.not_understood(item, reasons, kinds if len(kinds) == len(reasons) else None)
                continue
            self.draft.save(self.interview.final_answers())
            self.after_answer(outcome, typed, year_alone=action.year_alone)
            return outcome

    def show_question(self, item, current, default) -> str:
        from triage.core.interview import coordinator_hint, patient_hints

        number, total = self.interview.progress()
        shown = current if current is not None else default
        if self.patient:
            section = next(s for s in self.q.sections if s.id == item.section)
            self.say()
            self.say(f"{section.patient_title} - {self.wording.progress.format(number=number, total=total)}",
                     style="dim")
            self.say(item.text, style="bold")
            for line in patient_hints(item, self.q, self.settings.date_order):
                self.say(line, indent=2)
            if shown is not None:
                self.say(self.wording.keep.format(answer=self.q.answer_text(item.id, shown, audience=self.mode)),
                         indent=2)
            return self.wording.prompt
        if item.section != self.last_section:
            section = next(s for s in self.q.sections if s.id == item.section)
            self.say(f"-- {section.title} --", style="bold")
            self.last_section = item.section
        if item.type in ("choice", "multi_choice"):
            self.say("   ".join(f"{n}={option.label}" for n, option in enumerate(item.options, start=1)), indent=6)
        keep = f" [{self.q.answer_text(item.id, shown, audience=self.mode)}]" if shown is not None else ""
        return f"{number:>2}/{total} {item.label} ({coordinator_hint(item, self.settings.date_order)}){keep}: "

    def after_answer(self, outcome, typed: str, *, year_alone: bool = False) -> None:
        """Echo how the answer was read (a number becomes its choice, a date its canonical form),
        then anything to check, hidden questions and a red flag."""
        item = outcome.item
        shown = self.q.answer_text(item.id, outcome.value, audience=self.mode)
        if year_alone:
            if self.patient:
                self.say(self.wording.year_alone.format(answer=shown), indent=2)
            else:
                end = "latest" if item.year_alone == "last_month" else "earliest"
                self.say(f"  = {shown} (year only: read as its {end} month, the safer reading)", style="dim")
        elif outcome.value not in (None, "unknown") and item.type not in ("text", "integer"):
            # Echo what a number or a shorthand stood for; a plain y/n is clear as typed.
            numbered = item.type in ("choice", "multi_choice") or (self.patient and item.type == "yes_no_unknown")
            if self.patient and (numbered or item.type in ("date", "partial_date")):
                self.say(self.wording.understood.format(answer=shown), indent=2)
            elif not self.patient and (numbered or item.type in ("date", "partial_date", "segments")) \
                    and typed.strip() and typed.strip().lower() != shown.lower():
                self.say(f"  = {shown}", style="dim")
        for kind, value in self.interview.warnings(item):
            answer = self.q.answer_text(item.id if kind != "mri_before_fusion" else "mri_date", value,
                                        audience=self.mode)
            if self.patient:
                self.say(getattr(self.wording, kind).format(answer=answer), style="bold", indent=2)
            elif kind == "date_in_future":
                self.note(f"! {answer} is in the future: every interval is measured to it. Check it, or < to change it.")
            else:
                self.note(f"! The MRI ({answer}) is before the fusion: it will not count as a current MRI. Check the date.")
        if outcome.hidden:
            self.note(self._hidden_text(outcome.hidden))
        if outcome.red_flag:
            self.red_flag(item)

    # --- red flags ----------------------------------------------------------------------------------
    def red_flag_tier(self) -> str:
        """The most urgent tier among the red flags answered yes so far: a later, less urgent yes
        must never show calmer words than an earlier one."""
        from triage.decision.patient_summary import most_urgent_tier

        return most_urgent_tier([item.id for item in self.interview.red_flags_yes()], self.ruleset)

    def emergency_text(self) -> str:
        """The instruction of the most urgent tier answered yes so far, in the patient's words (a
        coordinator reads it out)."""
        from triage.decision.patient_summary import red_flag_instructions

        if self.patient:
            return red_flag_instructions(self.red_flag_tier(), self.patient_texts, self.settings, self.patient_values)
        return red_flag_instructions(self.red_flag_tier(), self.ruleset, self.settings)

    def red_flag_panel(self, item) -> None:
        from rich import box
        from rich.panel import Panel
        from rich.text import Text

        # A heavy frame sets it apart without colour (plain ASCII on TERM=dumb; the patient's closing
        # instruction has the same frame: triage.decision.patient_summary.framed); patients get calm
        # words; coordinators the flag with its tier in words, and the words to tell the patient.
        from triage.core.result_values import URGENCY_WORDS

        if self.patient:
            title, text = self.wording.red_flag_title, self.emergency_text()
        else:
            word = URGENCY_WORDS[self.ruleset.red_flag_tier(item.id)]
            title = f"!! RED FLAG ({word}) answered yes: {item.label} !!"
            text = f"{URGENCY_WORDS[self.red_flag_tier()]}. Tell the patient now: {self.emergency_text()}"
        self.console.print()
        self.console.print(Panel(Text(text, style="bold"), title=title, box=box.ASCII2 if self.ascii_only else box.HEAVY,
                                 border_style="red", padding=(1, 2)))

    def red_flag(self, item) -> None:
        if self.scripted:
            self.note(f"red flag answered yes ({item.id}): {self.emergency_text()}")
            return
        self.red_flag_panel(item)
        prompt = self.wording.prompt if self.patient else "c = continue the intake, s = stop now (answers are saved): "
        if self.patient:
            self.say(self.wording.red_flag_choice)
        while True:
            choice = self.lines.read(prompt).strip().lower()
            if choice in ("c", "continue", "continuar"):  # Spanish: c (continuar), p (parar)
                return
            if choice in ("s", "stop", "p", "parar", "salir"):
                raise StopIntake()
            self.say(self.wording.red_flag_choice_invalid if self.patient else "  ! type c or s", style="bold")

    # --- review -------------------------------------------------------------------------------------
    def review(self):
        """Show every answer with its number, a screenful at a time (pages measured in the lines they
        take at this width, all with the same columns); returns the item to change, "back" (the last
        question again), or None to finish."""
        import textwrap

        from rich.table import Table
        from rich.text import Text

        rows = self.interview.review()
        numbers = {number: item for number, item, _ in rows}
        width = self.console.width
        number_width = len(str(max(numbers, default=1))) + 1
        room = max(width - number_width - 2, 20)  # two one-space gaps between the three columns
        question_width = room * 3 // 5 if self.patient else room // 2

        def grid(chunk) -> Table:
            table = Table.grid(padding=(0, 1))
            table.add_column(justify="right", no_wrap=True, width=number_width)
            table.add_column(width=question_width)
            table.add_column(width=room - question_width, overflow="fold")
            for number, item, value in chunk:
                answer = self.q.answer_text(item.id, value, audience=self.mode)
                if not self.patient and item.safety and value == "yes":
                    answer += "  !! RED FLAG"
                table.add_row(Text(f"{number}."), Text(item.text if self.patient else item.label), Text(answer))
            return table

        def lines(text: str) -> int:
            return len(textwrap.wrap(text, width)) or 1

        if self.patient:
            heading = [self.wording.review_title, self.wording.review_intro]
            more, done = self.wording.review_more, self.wording.review_prompt
            prompts = {False: self.wording.prompt, True: self.wording.prompt}
        else:
            heading = [f"-- Review: {len(rows)} questions --"]
            more = done = ""
            prompts = {False: "Number to change, < back, Enter for more: ",
                       True: "Number to change, < back, Enter to finish: "}
        # Each page ends with its instruction, the prompt line and a line for a "type a number" note.
        footer = max(lines(more), lines(done)) * bool(more) + 2
        heights = [len(self.console.render_lines(grid([row]), self.console.options.update(width=width)))
                   for row in rows]
        pages, used = [[]], 0
        budget = self.height - footer - 1 - sum(lines(text) for text in heading)  # the first page has the heading
        for row, height in zip(rows, heights):
            if pages[-1] and used + height > budget:
                pages.append([])
                used, budget = 0, self.height - footer
            pages[-1].append(row)
            used += height

        self.say()
        for number, text in enumerate(heading):
            self.say(text, style="bold" if number == 0 else "")
        for index, chunk in enumerate(pages):
            self.console.print(grid(chunk))
            last = index == len(pages) - 1
            if self.patient:  # on its own line: a long prompt would wrap at 80 columns
                self.say(done if last else more)
            while True:
                typed = self.lines.read(prompts[last]).strip()
                if not typed and not last:
                    break  # the next screenful
                if not typed:
                    return None
                if typed == "<":
                    return "back"
                if typed.isascii() and typed.isdigit() and int(typed) in numbers:
                    return numbers[int(typed)]
                self.say(self.wording.review_not_a_number if self.patient else
                         "  ! type one of the numbers shown, < to go back, or press Enter", style="bold")
        return None

    def edit_from_review(self, item) -> None:
        """Change one answer, ask any question that change opened up, then back to the review."""
        self.interview.go_to(item.id)
        self.last_section = None
        try:
            outcome = self.ask(item)
            if outcome != "back":
                for revealed in outcome.revealed:
                    self.interview.go_to(revealed.id)
                    if self.ask(revealed) == "back":
                        break
        except StopIntake:
            pass  # stopping after a red flag here is the same as finishing the review
        self.interview.to_review()


def come_back(draft, wording) -> str:
    """How a patient comes back, in words: the intake's number for the front desk (a store draft), or
    just "ask the front desk" (an answers file the staff chose). Never a path or a command."""
    code = getattr(draft, "intake_id", None)
    return wording.come_back_code.format(code=code) if code else wording.come_back_desk


def resume_command(draft, mode: str, language: str = "en") -> str:
    """The exact command to continue, spelled as this one was started (`triage` or `python cli.py`),
    in the same language."""
    import shlex

    started = sys.argv[0] if sys.argv and sys.argv[0] else "triage"
    program = "triage" if Path(started).name == "triage" else f"python {shlex.quote(started)}"
    lang = f" --lang {language}" if language != "en" else ""
    return f"{program} intake --mode {mode}{lang} {draft.resume_option()}"


def run(args, io: IO) -> int:
    from triage.records.drafts import FileDraft, StoreDraft, default_answers_path
    from triage.core.errors import Conflict, InvalidInput, Problem, StoreError
    from triage.core.interview import Interview
    from triage.core.languages import DEFAULT_LANGUAGE, load_language
    from triage.core.questionnaire import load_definition
    from triage.core.ruleset import load_ruleset

    if args.resume and args.out:
        raise InvalidInput([Problem("--out", "cannot be used with --resume (answers are saved back to "
                                    "the resumed file)")])
    if args.lang != DEFAULT_LANGUAGE and args.mode != "patient":
        raise InvalidInput([Problem("--lang", "applies to --mode patient only (coordinator wording is English)")])
    ruleset = load_ruleset()
    settings = common.load_settings(args)
    # Patient mode checks every translation at load: a missing text is exit 3, never a fallback.
    language = load_language(args.lang, questionnaire=load_definition(), ruleset=ruleset, settings=settings,
                             check_all=args.mode == "patient")
    questionnaire = language.questionnaire
    today = date.today()
    interactive = io.stdin.isatty()
    if args.mode == "patient" and interactive:
        io.patient = questionnaire.patient_wording  # lines for staff stay off the patient's screen

    if args.resume == "-" or args.out == "-":
        raise InvalidInput([Problem("--resume" if args.resume == "-" else "--out",
                                    "needs a file name: the answers are saved back to it after every answer")])
    if args.resume_intake is not None and (args.resume or args.out):
        raise InvalidInput([Problem("--resume-intake", "cannot be used with --resume or --out (it continues "
                                    "an intake kept in the store)")])
    # --patient-id: the reference is recorded from the start (and not asked again).
    preset = {"patient_id": args.patient_id} if args.patient_id is not None else {}
    if not (args.resume or args.out):
        # The embedded store by default: a draft autosaved after every answer, resumable by id.
        try:
            draft = StoreDraft(common.open_store(args, io), common.user(args), args.resume_intake,
                               language=args.lang if args.mode == "patient" else None)
        except StoreError as error:
            return _store_unavailable(error, io)
        interview = Interview(questionnaire, args.mode, today=today, answers={**draft.load(), **preset})
    elif args.resume:
        draft = FileDraft(Path(args.resume), _store_copy(args, io, questionnaire, interactive))
        raw = draft.load()
        if not isinstance(raw, dict):
            raise InvalidInput([Problem(args.resume, "must be a JSON object of question id -> answer")])
        interview = Interview(questionnaire, args.mode, today=today, answers={**raw, **preset})
    else:
        path = Path(args.out)
        if path.exists():
            raise InvalidInput([Problem(str(path), f"already exists; continue it with --resume {path}, "
                                        "or choose another --out")])
        draft = FileDraft(path, _store_copy(args, io, questionnaire, interactive))
        interview = Interview(questionnaire, args.mode, today=today, answers=preset)
    if args.mode == "patient" and "assessment_date" not in interview.answers:
        # Patients are not asked the date; the intake day is recorded so the file gives the same
        # result later (`triage assess` would otherwise measure to the day it is run).
        interview.answers["assessment_date"] = today.isoformat()
    try:
        draft.save(interview.final_answers())  # the file exists from the start, so the resume hint always works
    except StoreError as error:  # (an answers file's save raises InvalidInput: staff chose the file)
        return _store_unavailable(error, io)
    io.patient_started = io.patient is not None

    width = min(io.width(), 100)
    color = io.color()
    from triage.channels.render.terminal import terminal_console

    console = terminal_console(io.out, width=width, color=color, markup=False,
                               color_system="auto" if color else None, force_terminal=color or None)
    if interactive:
        try:
            import readline  # noqa: F401  (line editing and arrow keys at the prompt; input() uses it)
        except ImportError:
            pass
    lines = _Lines(interactive, io.stdin)
    session = Intake(interview, draft, questionnaire, ruleset, settings, console=console, lines=lines,
                     err=io.err, ascii_only=not io.unicode(), height=io.height(), language=language)

    previous = signal.signal(signal.SIGHUP, _hangup) if interactive else None
    try:
        stopped = _converse(session, interview, draft, lines, args, io, interactive)
        if stopped is None:
            return ExitCode.INTERRUPTED
        if isinstance(stopped, ExitCode):
            return stopped
        _finish(session, io, width=width, color=color, stopped_early=stopped)
        return ExitCode.OK
    except Conflict:
        # Someone else changed this intake meanwhile: keep this session's answers in a file, lose nothing.
        rescue = FileDraft(default_answers_path(datetime.now()))
        rescue.save(interview.final_answers())
        if session.patient and not session.scripted:  # words for the patient; staff find the file by its name
            io.tell_patient(session.wording.changed_elsewhere, blank_before=True)
            return ExitCode.CONFLICT
        raise Conflict(f"intake {getattr(draft, 'intake_id', '')} was changed by another session; this "
                       f"session's answers are kept in {rescue.where} (triage intake --resume {rescue.where})") from None
    except StoreError:
        # The store failed mid-intake (disk full, database gone): a patient reads a plain sentence in
        # their language; a coordinator (and a script) gets the store's own one-line error.
        if session.patient and not session.scripted:
            io.tell_patient(session.wording.save_failed, blank_before=True)
            return ExitCode.STORE
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGHUP, previous)
        if getattr(draft, "store_copy", None) is not None:
            draft.store_copy.close()


def _store_unavailable(error, io: IO) -> int:
    """The store cannot be opened (or written) as the intake starts. A patient at the terminal reads
    their language's sentence (no path, no reason they could act on); the store's one-line error goes
    to staff (standard error when it is not the patient's screen, see IO.staff_err). Anyone else gets
    the error itself."""
    if io.patient is None:
        raise error
    io.tell_patient(io.patient.store_unavailable)
    return common.report(error, io.staff_err, command=io.command)


def _store_copy(args, io: IO, questionnaire, interactive: bool):
    """An answers file's red flags reach staff: its answers are also kept in the store from the first
    red flag answered yes (triage.records.drafts.StoreCopy); said once, on standard error: to a coordinator
    (or a script) with the intake and the store; a patient at the terminal reads no path or command,
    only, if the store cannot be reached, their language's plea to ask the front desk."""
    from triage.records.drafts import StoreCopy

    patient = args.mode == "patient" and interactive

    def copied(intake_id: int, where) -> None:
        if not patient:
            io.note(f"note: a red flag was answered yes: these answers are also kept as intake {intake_id} in "
                    f"{where}, so that staff see it now (triage show {intake_id})")

    def failed(message: str) -> None:
        if patient:
            io.tell_patient(questionnaire.patient_wording.save_failed)
            return
        io.note(f"warning: a red flag was answered yes, and the store cannot be reached ({message}): staff are "
                "NOT alerted; tell them now")

    return StoreCopy(lambda: common.open_store(args), common.user(args), copied, failed)


def _converse(session, interview, draft, lines, args, io: IO, interactive: bool):
    """Run the conversation: True/False = stopped early after a red flag or not; None = the person
    left (Ctrl-C, Ctrl-D: answers saved, resume command printed); ExitCode.HANGUP = terminal closed."""
    from triage.core.errors import InvalidInput, Problem

    try:
        stopped = session.run()
        if not interactive:
            extra = lines.rest()
            if extra:
                number, text = extra[0]
                raise InvalidInput([Problem("standard input", f"line {number} ({text!r}) comes after the "
                                            f"last question; answers saved to {draft.where}")])
        return stopped
    except InputEnded:
        if not interactive:
            item = interview.current
            raise InvalidInput([Problem("standard input", f"ended before question {item.id if item else 'review'}"
                                        f"; answers so far saved to {draft.where} (continue with: "
                                        f"{resume_command(draft, args.mode, args.lang)})")]) from None
        if session.patient:
            io.tell_patient(f"{session.wording.input_ended} {come_back(draft, session.wording)}", blank_before=True)
        else:
            io.err.write(f"\nInput ended. Answers saved to {draft.where}. Resume with: "
                         f"{resume_command(draft, args.mode, args.lang)}\n")
        return None
    except KeyboardInterrupt:
        if session.patient:
            io.tell_patient(f"{session.wording.interrupted} {come_back(draft, session.wording)}", blank_before=True)
        else:
            io.err.write(f"\nInterrupted. Answers saved to {draft.where}. Resume with: "
                         f"{resume_command(draft, args.mode, args.lang)}\n")
        return None
    except TerminalClosed:
        # Nobody can read anything now; writing to the closed terminal would only raise EIO.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        return ExitCode.HANGUP


def _finish(session: Intake, io: IO, *, width: int, color: bool, stopped_early: bool) -> None:
    """The end of the intake: assess the answers, record the finished intake (a draft in the store
    becomes a version; an answers file is its own record), then show the result (coordinator) or the
    patient-safe summary (patient), and where the answers went."""
    from triage.core.answers import parse_answers
    from triage.decision.assess import assess

    interview, draft = session.interview, session.draft
    answers = parse_answers(interview.final_answers(), today=interview.today)
    result = assess(answers, session.ruleset, session.settings)
    recorded = None if stopped_early else draft.submit(answers.answered(), result.to_json())
    if recorded:
        io.saved.append((recorded.intake_id, recorded.version))  # committed: exit codes must say so from here
    if not session.scripted:
        session.console.print()
    if session.patient:
        from triage.decision.patient_summary import patient_summary, render_patient_summary

        summary = patient_summary(result, session.patient_texts, session.settings, stopped_early=stopped_early,
                                  values=session.patient_values)
        io.out.write(render_patient_summary(summary, session.q, width=width, ascii_only=session.ascii_only))
    else:
        from triage.channels.render.result import render_banner, render_text

        text = render_text(result, answers.answered(), session.q, width=width, color=color,
                           ascii_only=session.ascii_only)
        io.out.write(text)
        if not session.scripted and text.count("\n") > session.height - 2:
            # Taller than the screen: the banner (URGENT, its tier) has scrolled away; it is said again
            # last, where the coordinator's eyes are when the intake ends.
            io.out.write(render_banner(result, width=width, color=color, ascii_only=session.ascii_only))
    io.out.flush()
    saved = (f"recorded as intake {recorded.intake_id} version {recorded.version} in {recorded.path}" if recorded
             else f"answers saved to {draft.where}")
    if session.scripted:
        io.note(saved)
        return
    session.say()
    if session.patient:
        session.say(session.wording.saved_done, style="dim")
        if stopped_early:
            session.say(come_back(draft, session.wording), style="dim")
        return
    session.say(f"{saved[0].upper()}{saved[1:]}.", style="dim")
    if stopped_early:
        session.say(f"To continue later: {resume_command(draft, session.mode, session.q.language)}", style="dim")
    elif not session.patient:
        again = f"triage show {recorded.intake_id}" if recorded else f"triage assess {draft.where}"
        session.say(f"See it again: {again}", style="dim")
