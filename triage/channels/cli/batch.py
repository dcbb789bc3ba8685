"""`triage batch IN.jsonl --out OUT.jsonl`: the terminal side of batch triage (progress, summary,
Ctrl-C, exit codes). The work itself is triage/channels/batch.py."""

from __future__ import annotations

import argparse
import os
import time
from datetime import date
from typing import TextIO

from triage.channels.cli import common
from triage.channels.cli.common import IO, ExitCode
from triage.core.errors import Problem

# signal and threading are imported where used: this module is imported by every `triage` start.

BATCH_NOTES = """output:
  One JSON record per input line, same order: the result (as `assess --format json`) with "line"
  and "patient_id" in front, or an error record {"line", "patient_id", "error", "errors": [{"field",
  "message"}]}. A run that stops early ends with {"stopped_at_line", "reason", "lines_done"}.
  Every line gets a record, so invalid lines exit 0 (their error records and the summary count
  them); 4 when the engine failed on some lines (error records "engine") or a worker process died
  (output truncated, with a stop record); 70 for a bug on some lines (error records "internal");
  130 on Ctrl-C (output truncated, with a stop record; a third Ctrl-C stops at once and writes no
  output). A broken definition (3) writes nothing.
"""

_PLAIN_PROGRESS_SECONDS = 5.0
_BAR_REFRESH_SECONDS = 0.1


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{value} is outside 1 to 64")
    return value


RECENT_DAYS = 14  # a backlog's red flags older than this are not live news (docs/red-flags.md)


def _recent_days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 0 <= value <= 3650:
        raise argparse.ArgumentTypeError(f"{value} is outside 0 to 3650 days")
    return value


def _shard(text: str):
    from triage.channels.batch import Shard

    try:
        return Shard.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def register(commands) -> None:
    batch = common.add_command(
        commands, "batch", help="triage a JSONL file of answers, one result per line",
        description="Triage many intakes: one answers object per line of IN (JSONL; - reads standard\n"
        "input), one record per line of OUT, in the same order. Invalid lines get error records and\n"
        "the batch goes on. OUT is written beside its name and renamed into place at the end.",
        notes=BATCH_NOTES, handler=run, exit_codes=(ExitCode.DEFINITION, ExitCode.ENGINE, ExitCode.STORE),
        exit_words={ExitCode.OK: "every line has its record (invalid lines have error records)",
                    ExitCode.INTERRUPTED: "interrupted (Ctrl-C): the output ends with a stop record"},
        examples=("triage batch intakes.jsonl -o results.jsonl",
                  "triage batch backlog.jsonl -o results.jsonl --save   # also record each valid line",
                  "triage batch - -o results.jsonl --workers 1 < intakes.jsonl",
                  "jq -c 'select(.errors) | {line, errors}' results.jsonl   # the lines that could not be used"),
    )
    batch.add_argument("file", metavar="IN", help="JSONL file of answers objects, or - for standard input")
    batch.add_argument("-o", "--out", required=True, metavar="OUT", help="JSONL file to write (replaced if it exists)")
    batch.add_argument("--workers", type=_workers, default=None, metavar="N",
                       help=f"worker processes (default: the CPUs available, here {default_workers()})")
    batch.add_argument("--as-of", type=common.as_of_date, metavar="DATE",
                       help="assessment date YYYY-MM-DD for every line (overrides each line's "
                       "assessment_date, as in assess; default: the line's, else today at the start)")
    batch.add_argument("--shard", type=_shard, metavar="I/N",
                       help="only part I of N of IN (each line's part is set by its content), to run "
                       "one part on each machine; records keep IN's line numbers, so the parts' "
                       "outputs merge in order by line (see docs/terminal.md)")
    common.add_settings_option(batch)
    group = batch.add_argument_group("store", common.STORE_HELP)
    group.add_argument("--save", action="store_true",
                       help="also record each valid line as an intake, one transaction per chunk of lines; a "
                       "line whose answers, date, ruleset and settings are already recorded by a batch is "
                       "skipped, so a rerun, a split or a merged file records nothing twice")
    group.add_argument("--recent-days", type=_recent_days, default=RECENT_DAYS, metavar="DAYS",
                       help="with --save: a red flag in a line assessed within DAYS days before today raises a "
                       "live alert; an older line's is a backlog alert, listed apart for staff (default "
                       f"{RECENT_DAYS}; docs/red-flags.md)")
    group.add_argument("--by-patient", action="store_true",
                       help="with --save: a line whose patient_id is already in the store becomes a new version "
                       "of that intake instead of a new intake")
    common.add_store_options(group, who_help="who records them")


class _StopFlag:
    """Ctrl-C asks the batch to stop between chunks instead of raising mid-write. A third press
    calls ``give_up`` (it ends the process at once), in case a worker or the clean-up hangs."""

    def __init__(self, give_up) -> None:
        self.presses = 0
        self.previous = None
        self.give_up = give_up

    def __call__(self) -> bool:
        return self.presses > 0

    def _handle(self, _signum, _frame) -> None:
        self.presses += 1
        if self.presses >= 3:
            self.give_up()

    def __enter__(self) -> "_StopFlag":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *_exc) -> None:
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class _Progress:
    """A rich bar on a terminal (refreshed from the main thread: no thread may run when workers
    fork); plain lines every few seconds otherwise."""

    def __init__(self, err: TextIO, total_bytes: int | None):
        self.err = err
        self.total = total_bytes
        self.started = self.last = time.monotonic()
        self.bar = None
        self.summary = None
        if err.isatty():
            from rich.console import Console
            from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            color = "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
            console = Console(file=err, no_color=not color, highlight=False)
            # Standard input has no known size: no share done and no time left to show.
            known = (TaskProgressColumn(),) if total_bytes is not None else ()
            left = (TextColumn("left"), TimeRemainingColumn()) if total_bytes is not None else ()
            self.bar = Progress(
                TextColumn("triage batch"), BarColumn(), *known,
                TextColumn("{task.fields[lines]:>9,} lines  {task.fields[rate]:>6,.0f}/s"),
                TimeElapsedColumn(), *left,
                console=console, auto_refresh=False,
            )
            self.task = self.bar.add_task("batch", total=total_bytes, lines=0, rate=0.0)
            self.bar.start()

    def __call__(self, summary, force: bool = False) -> None:
        self.summary = summary
        now = time.monotonic()
        interval = _BAR_REFRESH_SECONDS if self.bar else _PLAIN_PROGRESS_SECONDS
        if not force and now - self.last < interval:
            return
        self.last = now
        rate = summary.lines / max(now - self.started, 1e-9)
        if self.bar:
            self.bar.update(self.task, completed=summary.bytes_read, lines=summary.lines, rate=rate)
            self.bar.refresh()
        else:
            share = f", {summary.bytes_read / self.total:.0%} of input" if self.total else ""
            self.err.write(f"batch: {summary.lines:,} lines{share}, {rate:,.0f} lines/s\n")
            self.err.flush()

    def close(self) -> None:
        if self.bar:
            if self.summary is not None:
                self(self.summary, force=True)
            self.bar.stop()


def _print_summary(io: IO, summary, path: str, seconds: float, shard=None) -> None:
    from rich.table import Table

    from triage.channels.batch import ENGINE, INTERNAL, OUTCOMES
    from triage.channels.render.terminal import terminal_console

    console = terminal_console(io.out, width=min(io.width(), 100), color=io.color(), force_terminal=io.color())
    table = Table(title="batch summary", title_justify="left")
    table.add_column("outcome")
    table.add_column("lines", justify="right")
    table.add_column("share", justify="right")
    for outcome in OUTCOMES:
        count = summary.counts.get(outcome, 0)
        if outcome in (ENGINE, INTERNAL) and not count:
            continue
        share = f"{count / summary.lines:.1%}" if summary.lines else "-"
        table.add_row(outcome, f"{count:,}", share)
    table.add_section()
    table.add_row("total", f"{summary.lines:,}", "")
    console.print(table)
    rate = summary.lines / seconds if seconds > 0 else 0.0
    if summary.stopped_at_line is None:
        console.print(f"wrote {path}: {summary.lines:,} lines in {seconds:.1f} s ({rate:,.0f} lines/s)")
    else:
        part = f" of part {shard}" if shard else ""
        console.print(f"stopped at line {summary.stopped_at_line:,} ({summary.stop_reason}): {path} holds "
                      f"lines 1-{summary.stopped_at_line - 1:,}{part} and a last stop record")
    if summary.saved or summary.already_saved:
        console.print(f"store: {summary.saved:,} lines recorded as intakes"
                      + (f"; {summary.already_saved:,} already recorded (skipped)"
                         if summary.already_saved else ""))


class _Saver:
    """`--save`: each chunk's valid lines in one transaction, each named by its content
    (``batch.line_key``: answers, assessment date, ruleset, settings), so that a line recorded before,
    from this input or any other, is skipped. The store is opened at the first chunk, after the
    workers were forked: a database connection must not be carried into a forked process."""

    def __init__(self, args, today):
        from datetime import timedelta

        self.args, self.user, self.store = args, common.user(args), None
        # Lines assessed before this day raise their red-flag alerts as a backlog's, apart from the live ones.
        self.backlog_before = (today - timedelta(days=args.recent_days)).isoformat()

    def __call__(self, kept, summary) -> None:
        import json

        from triage.channels.batch import line_key

        entries = []
        for _line, answers, result in kept:
            result = json.loads(result)
            entries.append((line_key(answers, result), answers, result))
        if not entries:
            return
        if self.store is None:
            self.store = common.open_store(self.args)
        recorded, skipped = self.store.record_batch(entries, user=self.user, by_patient=self.args.by_patient,
                                                    backlog_before=self.backlog_before)
        summary.saved += recorded
        summary.already_saved += skipped

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def run(args, io: IO) -> int:
    import sys

    from triage.channels import batch
    from triage.core.ruleset import load_ruleset

    err = io.err
    if args.by_patient and not args.save:
        raise common.UsageError([Problem("--by-patient", "only goes with --save")])
    # Definitions first: a broken one exits 3 before any file is touched.
    config = batch.BatchConfig(load_ruleset(), common.load_settings(args), date.today(), args.as_of,
                               keep=args.save)
    workers = args.workers or default_workers()
    import triage.decision.assess  # noqa: F401  (loaded before forking, so workers start with it)

    source, size = batch.open_input(args.file)
    try:
        if args.save:
            common.open_store(args, io).close()  # an unusable store stops the run now (exit 5), not mid-way
        output = batch.Output(args.out, args.file)
    except BaseException:
        if source is not sys.stdin.buffer:
            source.close()
        raise
    saver = _Saver(args, config.today) if args.save else None

    for leftover in output.removed_leftovers:
        io.note(f"note: removed {leftover}, left by an earlier run that was killed")
    committed = False

    def give_up() -> None:
        """The third Ctrl-C: no waiting for anything. Runs inside the signal handler, so it uses only
        calls that cannot meet a lock the interrupted code holds (no buffered writes)."""
        import multiprocessing

        for child in multiprocessing.active_children():  # this command's workers
            child.terminate()
        if committed:
            message = "\ninterrupted\n"
        else:
            output.temporary.unlink(missing_ok=True)
            message = f"\ninterrupted again: stopped at once without writing {args.out}\n"
        show_cursor = "\x1b[?25h" if err.isatty() else ""  # the progress bar hides it
        os.write(err.fileno(), (show_cursor + message).encode())
        os._exit(ExitCode.INTERRUPTED)

    started = time.monotonic()
    # The handler stays until the summary is printed: a press that arrives late must still count
    # as a stop request, not cut the commit short as a KeyboardInterrupt.
    with _StopFlag(give_up) as stop:
        try:
            with source:
                progress = _Progress(err, size)
                try:
                    summary = batch.run_batch(source, output.stream, config, workers=workers,
                                              should_stop=stop, on_progress=progress, on_chunk=saver,
                                              shard=args.shard)
                finally:
                    progress.close()
            output.commit()
            committed = True
        except BaseException:
            output.discard()
            raise
        finally:
            if saver is not None:
                saver.close()
        _print_summary(io, summary, args.out, time.monotonic() - started, args.shard)
    if summary.stop_reason == batch.STOP_INTERRUPTED:
        return ExitCode.INTERRUPTED
    if summary.stop_reason == batch.STOP_WORKER_FAILED:
        io.error("engine: a worker process died; the output stops where it did (please report this)")
        return ExitCode.ENGINE
    if summary.counts.get(batch.INTERNAL):
        return ExitCode.INTERNAL
    if summary.counts.get(batch.ENGINE):
        return ExitCode.ENGINE
    return ExitCode.OK
