"""Batch triage: one answers object per JSONL input line -> one record per output line, same order.

Domain layer: no terminal, no rich. ``triage/channels/cli/batch.py`` drives it, shows progress and the summary.

Records (one JSON object per line, the same count and order as the input lines):
- a result: ``{"line": N, "patient_id": ..., <the result contract, as `triage assess --format json`>}``
- an error: ``{"line": N, "patient_id": ..., "error": KIND, "errors": [{"field": ..., "message": ...}]}``
  where KIND is ``invalid_input`` (the line cannot be used: bad JSON, not an object, invalid answers),
  ``engine`` (the rules engine failed or broke a safety check: no result, as exit 4 of ``assess``) or
  ``internal`` (a bug).
- when a run stops early (Ctrl-C, a worker process died), one last line
  ``{"stopped_at_line": N, "reason": ..., "lines_done": N - 1}``: lines 1..N-1 are complete and in order.

Memory stays flat: lines are read one by one, in chunks, and at most ``window`` chunks are in flight.
Parallelism uses processes: durable_rules is not thread-safe and each process holds its own engine.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import sys
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from triage.core.errors import EngineError, InvalidInput, Problem
from triage.core.files import MAX_ANSWERS_BYTES, move_into_place, remove_stale_temporaries, temporary_beside
from triage.core.result_values import Status
from triage.core.safe_text import json_text
from triage.core.ruleset import Ruleset
from triage.core.settings import Settings

INVALID_INPUT = "invalid_input"
ENGINE = "engine"
INTERNAL = "internal"
OUTCOMES = (*(status.value for status in Status), INVALID_INPUT, ENGINE, INTERNAL)

STOP_INTERRUPTED = "interrupted"
STOP_WORKER_FAILED = "worker_failed"

CHUNK_LINES = 256  # lines per task: large enough to amortise inter-process traffic
CHUNKS_IN_FLIGHT_PER_WORKER = 4  # bounds memory; enough to keep every worker busy
_POLL_SECONDS = 0.2  # how often a waiting parent checks for Ctrl-C and refreshes progress


@dataclass(frozen=True)
class BatchConfig:
    """What every line is triaged with. ``today`` is fixed at batch start so that a run crossing
    midnight uses one date; ``as_of`` overrides each line's assessment_date, as in ``assess``."""

    ruleset: Ruleset
    settings: Settings
    today: date
    as_of: date | None = None
    keep: bool = False  # also hand back each valid line's answers and result (for `--save`)


@dataclass
class Summary:
    lines: int = 0  # records written (results and errors), not counting a stop record
    counts: Counter = field(default_factory=Counter)  # outcome -> records
    bytes_read: int = 0
    stopped_at_line: int | None = None
    stop_reason: str | None = None
    saved: int = 0  # lines recorded in the store (`--save`)
    already_saved: int = 0  # lines with the same content recorded before (skipped)
    next_line: int = 1  # the input line after the last one written


# --- one line -------------------------------------------------------------------------------

_JSON_POSITION = re.compile(r" \(line 1, column (\d+)\)$")


def _patient_id(raw: Any) -> str | None:
    value = raw.get("patient_id") if isinstance(raw, dict) else None
    return value.strip() if isinstance(value, str) and len(value) <= 200 else None


def _dumps(value: Any) -> str:
    return json_text(value, compact=True)


def error_record(number: int, kind: str, problems: list[Problem], patient_id: str | None = None) -> str:
    errors = [
        # Each line is one JSON text, so "line 1" inside a JSON message would mislead; keep the column.
        {"field": p.where, "message": _JSON_POSITION.sub(r" (column \1)", p.message)} for p in problems
    ]
    return _dumps({"line": number, "patient_id": patient_id, "error": kind, "errors": errors})


def triage_line(number: int, data: bytes | None, config: BatchConfig) -> tuple[str, str]:
    """One input line -> (outcome, its output record as one line of JSON without newline).

    ``data`` is None when the line was longer than an answers object can be (it was not kept)."""
    from triage.core.answers import parse_answers
    from triage.decision.batch_json import assess_record
    from triage.core.files import parse_json

    if data is None:
        problem = Problem("answers", "the line is longer than 1 MiB; an answers object is a few kB")
        return INVALID_INPUT, error_record(number, INVALID_INPUT, [problem])
    raw = None
    try:
        raw = parse_json(data, "answers")
        answers = parse_answers(raw, today=config.today, as_of=config.as_of)
        status, body = assess_record(answers, config.ruleset, config.settings)
    except InvalidInput as error:
        return INVALID_INPUT, error_record(number, INVALID_INPUT, error.problems, _patient_id(raw))
    except EngineError as error:
        return ENGINE, error_record(number, ENGINE, [Problem("engine", str(error))], _patient_id(raw))
    except Exception as error:  # a bug on one line must not cost the rest of the batch
        problem = Problem("internal", f"{type(error).__name__}: {error}")
        return INTERNAL, error_record(number, INTERNAL, [problem], _patient_id(raw))
    # The result's JSON: the bytes of ``assess(...).model_dump_json()`` without building the models
    # (tests/decision/test_batch_json.py). Splice in the record's two leading keys (the body is a JSON object, so it
    # starts with "{").
    record = f'{{"line":{number},"patient_id":{_dumps(answers.patient_id)},{body[1:]}'
    if config.keep:  # the parent records it: the answers contract and the result contract
        return status, record, (number, answers.answered(), body)
    return status, record


# (line number, answers, result JSON) of a valid line, for `--save`
Kept = tuple[int, dict[str, Any], str]
LineFunction = Callable[[int, "bytes | None", BatchConfig], "tuple"]


def triage_chunk(
    numbers: Sequence[int], lines: list[bytes | None], config: BatchConfig, line_function: LineFunction = triage_line
) -> tuple[list[str], bytes, list[Kept]]:
    """A chunk of lines (``numbers``: their line numbers in the input, a ``range`` unless a shard
    skipped some) -> (outcome of each line, their records as UTF-8 JSONL, the valid lines' answers
    and results when ``config.keep``). One bytes object per chunk keeps the parent's share of the
    work (unpickle, write) small."""
    outcomes, records, kept = [], [], []
    for number, data in zip(numbers, lines):
        outcome, record, *keep = line_function(number, data, config)
        outcomes.append(outcome)
        records.append(record)
        kept += keep
    records.append("")
    return outcomes, "\n".join(records).encode("utf-8"), kept


# --- worker processes -----------------------------------------------------------------------

_worker: tuple[BatchConfig, LineFunction] | None = None


def _init_worker(config: BatchConfig, line_function: LineFunction, parent: int | None = None) -> None:
    """Runs once in each worker: die with the parent, keep the definitions, leave Ctrl-C to the
    parent (a terminal sends SIGINT to the whole process group; the parent decides what is kept)."""
    global _worker
    if parent is not None:
        die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker = (config, line_function)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this process when its parent dies (a `kill -9` of `triage batch` must
    not leave workers running with parent 1). Linux only; elsewhere the workers still end when
    their task queue closes. The parent may already have died before the request was made: then
    its pid is no longer our parent's, and we leave at once."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl (not Linux): nothing more to do here
        pass
    if os.getppid() != parent:
        os._exit(1)


def _work(numbers: Sequence[int], lines: list[bytes | None]) -> tuple[list[str], bytes, list[Kept]]:
    config, line_function = _worker
    return triage_chunk(numbers, lines, config, line_function)


STOP_GRACE_SECONDS = 10.0  # a chunk takes well under a second; longer means a worker is stuck


def _context():
    # fork: workers inherit the imported modules and loaded definitions, so they start in ms, and
    # share those pages. Forking is only safe while this process has no durable threads: the command
    # never calls the engine in the parent when workers > 1, but a caller that already used the
    # engine in this process (a test run, a library user) gets spawned workers instead.
    from triage.decision import engine

    methods = multiprocessing.get_all_start_methods()
    safe_to_fork = "fork" in methods and not engine.started()
    return multiprocessing.get_context("fork" if safe_to_fork else "spawn")


# --- input ----------------------------------------------------------------------------------

def open_input(path: str, stdin: BinaryIO | None = None) -> tuple[BinaryIO, int | None]:
    """The input stream and its size in bytes (None for standard input). Problems -> InvalidInput."""
    if path == "-":
        return stdin or sys.stdin.buffer, None
    file = Path(path)
    try:
        if file.is_dir():
            raise InvalidInput([Problem(path, "is a folder, not a JSONL file of answers")])
        stream = open(file, "rb")
        return stream, os.fstat(stream.fileno()).st_size
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise InvalidInput([Problem(path, f"cannot be read ({reason.lower()})")]) from None


def read_lines(stream: BinaryIO, counter: Summary) -> Iterator[bytes | None]:
    """Each line without its line ending; None for a line too long to be an answers object (its
    bytes are skipped, never held). A final line without a newline is still a line."""
    limit = MAX_ANSWERS_BYTES
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        counter.bytes_read += len(line)
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # skip the rest of the overlong line
                line = stream.readline(limit + 1)
                counter.bytes_read += len(line)
            yield None
            continue
        yield line.rstrip(b"\n").rstrip(b"\r")


def _chunks(lines: Iterator[bytes | None], size: int,
            shard: "Shard | None" = None) -> Iterator[tuple[Sequence[int], list[bytes | None]]]:
    """Chunks of ``size`` lines with their line numbers: a ``range`` (cheap to send to a worker), or
    the numbers of the lines a shard takes."""
    if shard is None:
        first, chunk = 1, []
        for data in lines:
            chunk.append(data)
            if len(chunk) == size:
                yield range(first, first + size), chunk
                first, chunk = first + size, []
        if chunk:
            yield range(first, first + len(chunk)), chunk
        return
    numbers: list[int] = []
    chunk = []
    for number, data in enumerate(lines, 1):
        if not shard.takes(number, data):
            continue
        numbers.append(number)
        chunk.append(data)
        if len(chunk) == size:
            yield numbers, chunk
            numbers, chunk = [], []
    if chunk:
        yield numbers, chunk


# --- shards and the key of a recorded line ---------------------------------------------------

@dataclass(frozen=True)
class Shard:
    """``--shard I/N``: this run takes the lines whose content falls in part I of N. The part is
    chosen by the SHA-256 of the line's bytes (surrounding white space aside), not by its number:
    a line goes to the same part whatever comes before it, so a file copied to N machines at
    different times, re-ordered or appended to, never leaves a line in no part. A line too long to
    read (an error record) goes by its number."""

    index: int  # 1..count
    count: int

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """``I/N`` with 1 <= I <= N; ValueError with a one-line reason otherwise."""
        part, slash, whole = text.partition("/")
        if not slash or not part.strip().isdigit() or not whole.strip().isdigit():
            raise ValueError(f"{text!r} is not I/N (for example 1/4: the first of four parts)")
        index, count = int(part), int(whole)
        if count < 1 or count > 1024:
            raise ValueError(f"{text!r}: N must be 1 to 1024")
        if not 1 <= index <= count:
            raise ValueError(f"{text!r}: I must be 1 to {count}")
        return cls(index, count)

    def takes(self, number: int, data: bytes | None) -> bool:
        if self.count == 1:
            return True
        if data is None:
            return (number - 1) % self.count == self.index - 1
        import hashlib

        digest = hashlib.sha256(data.strip()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def line_key(answers: dict[str, Any], result: dict[str, Any]) -> str:
    """What makes a recorded batch line the same as another (``batch:KEY`` in the store): its
    answers (the contract's normalised form, so key order, spelling of segments or true/yes do
    not matter), the date they were assessed to, and the ruleset and settings that assessed them.
    The same line in another file, a split or merged file, or a rerun, has the same key; the same
    answers assessed under a new ruleset version or other settings do not."""
    import hashlib

    content = {"answers": answers, "assessment_date": result.get("assessment_date"),
               "ruleset": result.get("ruleset"), "settings": result.get("settings")}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "batch:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the run --------------------------------------------------------------------------------

def stop_record(stopped_at_line: int, reason: str, lines_done: int | None = None) -> str:
    """``lines_done``: the records before it (with a shard, fewer than ``stopped_at_line - 1``)."""
    done = stopped_at_line - 1 if lines_done is None else lines_done
    return _dumps({"stopped_at_line": stopped_at_line, "reason": reason, "lines_done": done})


def run_batch(
    source: BinaryIO,
    sink: BinaryIO,
    config: BatchConfig,
    *,
    workers: int = 1,
    should_stop: Callable[[], bool] = lambda: False,
    on_progress: Callable[[Summary], None] = lambda summary: None,
    chunk_lines: int = CHUNK_LINES,
    line_function: LineFunction = triage_line,
    on_chunk: Callable[[list[Kept], Summary], None] | None = None,
    shard: Shard | None = None,
) -> Summary:
    """Triage every line of ``source`` into ``sink`` (binary; UTF-8 JSONL), in order. Stops between
    chunks once ``should_stop()`` is true, keeping every record finished in order, then a stop record.
    With ``workers`` <= 1 everything runs in this process; otherwise in that many worker processes.
    ``line_function`` exists for the benchmarks' floor pipeline (same reading, workers and writing,
    no rules); the command always uses ``triage_line``. ``shard``: only the lines of that part (each
    record keeps its line number in the whole input)."""
    summary = Summary()
    chunks = _chunks(read_lines(source, summary), chunk_lines, shard)

    def write(numbers: Sequence[int], done: tuple[list[str], bytes, list[Kept]]) -> None:
        outcomes, blob, kept = done
        if on_chunk is not None:  # `--save`: the chunk is recorded (one transaction) before it is written
            on_chunk(kept, summary)
        sink.write(blob)
        summary.counts.update(outcomes)
        summary.lines += len(outcomes)
        summary.next_line = numbers[-1] + 1
        on_progress(summary)

    def stop(reason: str) -> Summary:
        summary.stopped_at_line, summary.stop_reason = summary.next_line, reason
        sink.write((stop_record(summary.stopped_at_line, reason, summary.lines) + "\n").encode("utf-8"))
        return summary

    if workers <= 1:
        for numbers, lines in chunks:
            if should_stop():
                return stop(STOP_INTERRUPTED)
            write(numbers, triage_chunk(numbers, lines, config, line_function))
        return summary

    window = workers * CHUNKS_IN_FLIGHT_PER_WORKER
    pending: deque[tuple[Sequence[int], Future]] = deque()
    others = set(multiprocessing.active_children())
    executor = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init_worker,
                                   initargs=(config, line_function, os.getpid()))
    finished = False
    try:
        exhausted = broken = False
        while True:
            while not exhausted and len(pending) < window and not should_stop():
                try:
                    numbers, lines = next(chunks)
                except StopIteration:
                    exhausted = True
                    break
                try:
                    pending.append((numbers, executor.submit(_work, numbers, lines)))
                except BrokenProcessPool:  # a worker died before this chunk went out: write what is done
                    exhausted = broken = True
            if not pending:
                if broken:
                    return stop(STOP_WORKER_FAILED)
                finished = True
                return summary
            # Wait for the oldest chunk (output keeps input order), waking up to notice Ctrl-C.
            while not pending[0][1].done() and not should_stop():
                wait([pending[0][1]], timeout=_POLL_SECONDS)
                on_progress(summary)
            if should_stop():
                while pending and pending[0][1].done() and not pending[0][1].exception():
                    numbers, future = pending.popleft()
                    write(numbers, future.result())  # finished in order: keep it
                return stop(STOP_INTERRUPTED)
            try:
                numbers, future = pending.popleft()
                write(numbers, future.result())
            except BrokenProcessPool:  # a worker died (durable can segfault); keep what is done
                return stop(STOP_WORKER_FAILED)
    finally:
        for _numbers, future in pending:
            future.cancel()
        if finished:
            executor.shutdown(wait=True)
        else:
            _stop_workers(executor, others)


def _stop_workers(executor: ProcessPoolExecutor, others: set) -> None:
    """Stopped early (Ctrl-C, a dead worker, an error). Queued chunks are cancelled and each worker
    finishes the chunk in hand (well under a second), then exits. Two ways to hang were seen, so
    neither is done: terminating workers while the executor still feeds them (its feeder thread then
    blocks on a pipe nobody reads), and reaping workers here (it races the executor's own thread,
    which then waits for a child that is already gone). Only when the executor's own shutdown has
    not finished after the grace period (a worker stuck in the engine) are our workers terminated."""
    stopper = threading.Thread(target=executor.shutdown, kwargs={"wait": True, "cancel_futures": True},
                               name="batch-stop", daemon=True)
    stopper.start()
    stopper.join(STOP_GRACE_SECONDS)
    if stopper.is_alive():
        for child in multiprocessing.active_children():
            if child not in others:
                child.terminate()
        queue = getattr(executor, "_call_queue", None)  # no public way to say "do not wait for the feeder"
        if queue is not None:
            queue.cancel_join_thread()


# --- output ---------------------------------------------------------------------------------

class Output:
    """The output file, written beside its final name and renamed into place when the run ends
    (completed or stopped), so OUT never holds half a run; mode 0600 (records name patients)."""

    def __init__(self, path: str, source_path: str | None = None):
        self.path = Path(path)
        if path == "-":
            raise InvalidInput([Problem("--out", "needs a file name (standard output is not supported: the "
                                        "output is renamed into place when the run ends)")])
        if self.path.is_dir():
            raise InvalidInput([Problem(path, "is a folder; --out needs a file name")])
        if source_path and source_path != "-" and self.path.exists():
            try:
                same = os.path.samefile(self.path, source_path)
            except OSError:
                same = False
            if same:
                raise InvalidInput([Problem(path, "is the input file; choose another --out")])
        self.temporary = temporary_beside(self.path)
        # A run killed earlier (kill -9) left its temporary file here: removed now, and reported.
        self.removed_leftovers = remove_stale_temporaries(self.path)
        try:
            descriptor = os.open(self.temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as error:
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise InvalidInput([Problem(path, f"cannot be written ({reason.lower()})")]) from None
        self.stream: BinaryIO = os.fdopen(descriptor, "wb")

    def commit(self) -> None:
        """Flush, fsync and rename into place."""
        self.stream.flush()
        os.fsync(self.stream.fileno())
        self.stream.close()
        move_into_place(self.temporary, self.path)

    def discard(self) -> None:
        if not self.stream.closed:
            self.stream.close()
        self.temporary.unlink(missing_ok=True)
