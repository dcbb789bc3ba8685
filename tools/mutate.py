"""Mutation testing of the rules adapter and the derived-facts code (a small AST mutator).

Why not mutmut: mutmut 3 rewrites every function into trampolines and runs mutants by forking one
pytest process that has already started durable_rules' host (two timer threads, C state); a forked
child of that process is exactly the kind of misuse that crashes durable. Here every mutant runs in a
fresh interpreter on a mutated copy of the checkout, so a crash or a hang only kills that mutant.

    python tools/mutate.py                       # every target, 2 workers
    python tools/mutate.py triage/decision/engine.py -j 1  # one target
    python tools/mutate.py --list                 # print the mutants without running them

For each mutant it runs the fast tests relevant to the file (``TESTS`` below, first failure stops
it) and prints the score and every surviving mutant. A mutant is killed when the tests fail, crash or
time out. Exit code: 0 when every survivor is listed in ``EQUIVALENT`` (explained), else 1.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = ["-x", "-q", "-p", "no:cacheprovider", "-m", "not slow",
          "--deselect", "tests/decision/test_engine.py::test_concurrent_threads_are_serialised"]
TESTS = {  # the fast tests that exercise each file, quickest killers first
    "triage/decision/engine.py": ["tests/decision/test_engine.py", "tests/decision/test_differential.py", "tests/decision/test_scenarios.py"],
    "triage/core/facts.py": ["tests/core/test_facts.py", "tests/decision/test_scenarios.py", "tests/decision/test_differential.py",
                        "tests/decision/test_exhaustive.py", "tests/decision/test_properties.py"],
    "triage/core/dates.py": ["tests/core/test_dates_and_levels.py", "tests/core/test_facts.py", "tests/decision/test_scenarios.py",
                        "tests/core/test_answers.py"],
    "triage/core/segments.py": ["tests/core/test_dates_and_levels.py", "tests/core/test_facts.py", "tests/decision/test_scenarios.py",
                           "tests/core/test_answers.py", "tests/core/test_malformed.py"],
}
TIMEOUT = 120  # seconds per mutant: 4x the slowest relevant test set, so a busy machine cannot fake a kill; a mutant that loops forever counts as killed

# Survivors that cannot be killed because they do not change behaviour, with the reason. Keyed by
# "file:line:description" as printed.
EQUIVALENT = {
    # engine.py: names that only need to be unique, never shown or compared.
    "triage/decision/engine.py:81:1 -> 2": "the sid counter's start; sids only need to be unique per process",
    "triage/decision/engine.py:81:1 -> 0": "the sid counter's start; sids only need to be unique per process",
    "triage/decision/engine.py:108:'e' -> 'XXe'": "the sid prefix; any unique text is a valid sid",
    "triage/decision/engine.py:52:'-' -> 'XX-'": "a separator in the engine name; the fingerprint in it keeps "
                                       "definitions apart (test_a_changed_definition_gets_its_own_engine_name)",
    "triage/decision/engine.py:58:'m' -> 'XXm'": "durable's name for the matched fact in a one-pattern rule; our "
                                       "actions never read it, so any name behaves the same",
    # dates.py whole_months_between: the first estimate may be too high; the loop corrects it downwards.
    "triage/core/dates.py:28:Lt -> LtE": "end == start gives 0 through the loop as well",
    "triage/core/dates.py:30:Sub -> Add": "(end.month + start.month) only over-estimates; the while loop steps "
                                     "down to the same answer (the year variant loops ~48,000 times and is "
                                     "killed by the timeout)",
    "triage/core/dates.py:30:12 -> 13": "13 per year only over-estimates; the loop corrects it",
    "triage/core/dates.py:31:Gt -> GtE": "with end >= start (guarded above), add_months(start, 0) = start <= end "
                                    "ends the loop at 0 either way",
    # segments.py adjacent_levels
    "triage/core/segments.py:39:Add -> Sub": "i - step over steps (-1, 1) is the same set as i + step",
}

COMPARE_SWAPS = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
                 ast.GtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult}
NAME_SWAPS = {"min": "max", "max": "min", "any": "all", "all": "any"}


@dataclass(frozen=True)
class Mutant:
    path: str
    index: int  # position of the node in ast.walk order
    line: int
    description: str

    @property
    def key(self) -> str:
        return f"{self.path}:{self.line}:{self.description}"


def _docstring_ids(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
                found.add(id(node.body[0].value))
    return found


def _annotation_ids(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations.append(node.returns)
            annotations += [a.annotation for a in node.args.args + node.args.kwonlyargs]
        for annotation in filter(None, annotations):
            found |= {id(n) for n in ast.walk(annotation)}
    return found


def _mutations(node: ast.AST, skip: set[int]):
    """(description, function that mutates the node in place) for each mutation of one node."""
    if id(node) in skip:
        return
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            swap = COMPARE_SWAPS.get(type(op))
            if swap:
                def apply(n, i=i, swap=swap):
                    n.ops[i] = swap()
                yield f"{type(op).__name__} -> {swap.__name__}", apply
    elif isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield f"{type(node.op).__name__} -> {other.__name__}", lambda n, other=other: setattr(n, "op", other())
    elif isinstance(node, ast.BinOp) and type(node.op) in BINOP_SWAPS:
        swap = BINOP_SWAPS[type(node.op)]
        yield f"{type(node.op).__name__} -> {swap.__name__}", lambda n, swap=swap: setattr(n, "op", swap())
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        yield f"drop {type(node.op).__name__}", "unwrap"
    elif isinstance(node, ast.Constant) and type(node.value) in (bool, int, str):
        value = node.value
        if isinstance(value, bool):
            yield f"{value} -> {not value}", lambda n: setattr(n, "value", not n.value)
        elif isinstance(value, int):
            yield f"{value} -> {value + 1}", lambda n: setattr(n, "value", n.value + 1)
            if value != 0:
                yield f"{value} -> 0", lambda n: setattr(n, "value", 0)
        elif " " not in value:  # strings with spaces are prose (messages, meanings), not behaviour
            yield f"{value!r} -> 'XX{value}'", lambda n: setattr(n, "value", "XX" + n.value)
    elif isinstance(node, ast.Name) and node.id in NAME_SWAPS:
        yield f"{node.id} -> {NAME_SWAPS[node.id]}", lambda n: setattr(n, "id", NAME_SWAPS[n.id])
    elif isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant):
        yield "delete statement", "delete"


def mutants(path: str) -> list[Mutant]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    skip = _docstring_ids(tree) | _annotation_ids(tree)
    found = []
    for index, node in enumerate(ast.walk(tree)):
        if isinstance(node, (ast.ImportFrom, ast.Import)):
            skip |= {id(n) for n in ast.walk(node)}
        for description, _ in _mutations(node, skip):
            found.append(Mutant(path, index, getattr(node, "lineno", 0), description))
    return found


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, how: str):
        self.target, self.how = target, how

    def visit(self, node):
        if node is self.target:
            return node.operand if self.how == "unwrap" else ast.Pass()
        return self.generic_visit(node)


def mutated_source(mutant: Mutant) -> str:
    tree = ast.parse((ROOT / mutant.path).read_text(encoding="utf-8"))
    skip = _docstring_ids(tree) | _annotation_ids(tree)
    node = list(ast.walk(tree))[mutant.index]
    for description, apply in _mutations(node, skip):
        if description == mutant.description:
            if isinstance(apply, str):
                tree = _Replace(node, apply).visit(tree)
            else:
                apply(node)
            return ast.unparse(ast.fix_missing_locations(tree))
    raise LookupError(mutant.key)


def _copy_checkout(into: Path) -> None:
    for name in ("triage", "rules", "questionnaires", "settings", "tests", "examples"):
        shutil.copytree(ROOT / name, into / name, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
    for name in ("pyproject.toml", "cli.py"):
        shutil.copy2(ROOT / name, into / name)


def _run_tests(checkout: Path, tests: list[str], show: bool = False, timeout: int = TIMEOUT) -> tuple[str, float]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # the differential test at its CI size
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", *PYTEST, *[t for t in tests if (checkout / t).exists()]],
                              cwd=checkout, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "killed (timeout)", time.monotonic() - started
    outcome = "survived" if done.returncode == 0 else "killed"
    if show and done.returncode:
        print(done.stdout[-3000:], done.stderr[-3000:])
    if done.returncode not in (0, 1):
        outcome = f"killed (pytest exit {done.returncode})"
    return outcome, time.monotonic() - started


def run_all(selected: list[Mutant], jobs: int) -> list[tuple[Mutant, str, float]]:
    workers = [Path(tempfile.mkdtemp(prefix="triage-mutate-")) for _ in range(jobs)]
    for checkout in workers:
        _copy_checkout(checkout)
    free = list(workers)
    results = []

    def one(mutant: Mutant):
        checkout = free.pop()
        target = checkout / mutant.path
        original = target.read_text(encoding="utf-8")
        try:
            target.write_text(mutated_source(mutant), encoding="utf-8")
            outcome, seconds = _run_tests(checkout, TESTS[mutant.path])
        finally:
            target.write_text(original, encoding="utf-8")
            free.append(checkout)
        print(f"{outcome:<22} {seconds:5.1f}s  {mutant.key}", flush=True)
        return mutant, outcome, seconds

    try:
        # The unmutated code must pass in the copy, or every mutant would look killed.
        baseline, _ = _run_tests(workers[0], sorted({t for p in {m.path for m in selected} for t in TESTS[p]}), show=True, timeout=20 * TIMEOUT)
        if baseline != "survived":
            raise SystemExit("the tests fail on the unmutated copy; fix that first")
        with ThreadPoolExecutor(jobs) as pool:
            results = list(pool.map(one, selected))
    finally:
        for checkout in workers:
            shutil.rmtree(checkout, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=list(TESTS))
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--only", help="run only mutants whose key contains this text")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    selected = [m for path in args.files for m in mutants(path) if not args.only or args.only in m.key]
    if args.list:
        print("\n".join(m.key for m in selected))
        print(f"{len(selected)} mutants")
        return 0
    started = time.monotonic()
    results = run_all(selected, args.jobs)
    survivors = [m for m, outcome, _ in results if outcome == "survived"]
    print(f"\n{len(results)} mutants in {time.monotonic() - started:.0f} s")
    for path in args.files:
        mine = [(m, o) for m, o, _ in results if m.path == path]
        killed = sum(o != "survived" for _, o in mine)
        print(f"  {path}: {killed}/{len(mine)} killed ({100 * killed / max(len(mine), 1):.1f}%)")
    killed = len(results) - len(survivors)
    print(f"  total: {killed}/{len(results)} killed ({100 * killed / max(len(results), 1):.1f}%)")
    unexplained = [m for m in survivors if m.key not in EQUIVALENT]
    for m in survivors:
        print(f"survived: {m.key}" + (f"  [equivalent: {EQUIVALENT[m.key]}]" if m.key in EQUIVALENT else ""))
    if args.json:
        args.json.write_text(json.dumps([{"mutant": m.key, "outcome": o, "seconds": round(s, 1)}
                                         for m, o, s in results], indent=1), encoding="utf-8")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
