"""A batch line's result as JSON, from templates kept between lines: the bytes of the plain result
(triage/decision/result_builder.py) serialised whole, at batch speed.

Used by ``triage batch`` and by the re-triage of a whole store (triage/decision/retriage.py); every other
channel builds its result with triage/decision/assess.py. The decisions are the same: the engine's checked
fired rules (``assess.checked_fire``) and the safety invariants (``assess.check_invariants``), checked
on every line before any JSON is made. What is kept is only how the result is written out.

Everything in a result except its words and four reported values follows from the rules that fired,
the facts they read, the ruleset and the settings: the status, the urgency, the red flags, which
items are missing, the steps and their statuses, the discussion points, the trace. That part is the
result's *shape*: the head (everything but the trace) is made from the fired rules (``_shape``), each
trace entry from its rule and the values of the facts it read (``_trace_shape``), both from the
plain builder's conclusions. Its holes are the texts, each still a template (``_Words``), and the
line's own values (``_Value``, ``_Inputs``); ``_Line`` fills them in. ``_Template`` keeps a shape as
JSON text around its holes, so that a batch line serialises only what is its own. A template is kept
only once the bytes it gives for the line that made it are those of the plain builder's result for
that line (``_Template.check``).
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from pydantic_core import to_json

from triage.decision import assess, result_builder
from triage.core.answers import QUESTION_IDS, Answers, answer_as_json
from triage.core.facts import Derived, derive
from triage.core.result_values import STATUS_ORDER, URGENCY_ORDER
from triage.core.ruleset import Rule, Ruleset
from triage.core.settings import Settings


def assess_record(answers: Answers, ruleset: Ruleset, settings: Settings) -> tuple[str, str]:
    """(status, the result as compact JSON): what a batch line needs. The JSON between the line's own
    words and values is kept from earlier lines (``_Template``); only those are serialised."""
    derived = derive(answers, settings)
    fired = assess.checked_fire(ruleset, derived.fact)
    kept = _kept(ruleset, settings)
    combination = kept.combination(fired)
    # ``checked`` holds every field the invariants read; only words and reported values are left to fill in.
    assess.check_invariants(answers, combination.checked, ruleset)
    line, head = _Line(answers, derived, combination), combination.head
    template = head.template or kept.json_template(head, line)
    return head.status, template.fill(line).decode()


def assess_json(answers: Answers, ruleset: Ruleset, settings: Settings) -> str:
    """The same result as compact JSON: the bytes of ``assess(...).model_dump_json()``
    (tests/decision/test_batch_json.py compares them)."""
    return assess_record(answers, ruleset, settings)[1]


class _RuleParts(NamedTuple):
    """What a rule contributes to every trace entry; fixed by its definition, so computed once."""

    rule: Rule
    facts: tuple[str, ...]
    concluded: dict[str, Any]
    settings: tuple[str, ...]


# Keyed by the ruleset's content fingerprint, so an edited definition never meets stale parts.
_parts_by_ruleset: dict[str, dict[str, _RuleParts]] = {}


def _rule_parts(ruleset: Ruleset) -> dict[str, _RuleParts]:
    parts = _parts_by_ruleset.get(ruleset.fingerprint)
    if parts is None:
        parts = {
            rule.id: _RuleParts(rule, tuple(rule.when.facts_used()), rule.then.as_dict(), tuple(rule.settings_used))
            for rule in ruleset.rules
        }
        _parts_by_ruleset[ruleset.fingerprint] = parts
    return parts


class _Hole:
    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.key == self.key

    def __hash__(self) -> int:
        return hash((type(self), self.key))


class _Words(_Hole):
    """A text of the result: its template (``key``), put in words with the line's values."""


class _Value(_Hole):
    """A value the result reports from the line: adjacent_levels, months_since_fusion,
    unfused_tear_levels (``Derived`` attributes), assessment_date, or its red flags."""


class _Inputs(_Hole):
    """A trace entry's inputs: the answers its rule reads (``key``), as given."""


class _Trace(_Hole):
    """The head's trace: one entry per fired rule, in ruleset order."""


_TRACE = _Trace(None)


def _shape(fired: list[Rule], ruleset: Ruleset, settings: Settings) -> dict[str, Any]:
    """The result's head as ``result_builder.build_result`` makes it, with holes for its texts and the
    line's own values."""
    discussion_points = []
    va_criteria, va_to_do = result_builder.va_conclusions(fired)
    for key, text in result_builder.raised_discussion_points(fired, ruleset):
        point: dict[str, Any] = {"id": key}
        if key == "va_community_care":
            point["criteria"], point["to_do"] = va_criteria, va_to_do
        elif text.levels_from:
            point["levels"] = _Value(text.levels_from)
        point["text"] = _Words(text.text)
        discussion_points.append(point)
    urgency = result_builder.consult_urgency(fired)
    return {
        "status": result_builder.result_status(fired).value,
        "physician_consult": {"recommended": True, "urgency": urgency,
                              "message": _Words(ruleset.messages.consult(urgency))},
        "red_flags": _Value("red_flags"),  # the combination's (``_Combination``): heads are shared
        "missing_items": [
            # One reason per rule, joined by spaces: joined templates fill in as the joined texts.
            {"id": key, "label": label, "reason": _Words(" ".join(reasons))}
            for key, label, reasons in result_builder.missing_items(fired, ruleset)
        ],
        "steps": [{"step": number, "title": title, "status": status.value, "reasons": [_Words(r) for r in reasons]}
                  for number, title, status, reasons in result_builder.steps(fired, ruleset)],
        "discussion_points": discussion_points,
        "adjacent_levels": _Value("adjacent_levels"),
        "months_since_fusion": _Value("months_since_fusion"),
        "assessment_date": _Value("assessment_date"),
        "ruleset": {"name": ruleset.ruleset.name, "version": ruleset.ruleset.version},
        "settings": dict(settings.json_data),
        "trace": _TRACE,
        "disclaimer": _Words(ruleset.messages.disclaimer),
    }


def _trace_shape(parts: _RuleParts, fact: dict[str, str], settings: Settings) -> dict[str, Any]:
    rule = parts.rule
    return {
        "rule": rule.id,
        "version": rule.version,
        "title": rule.title,
        "step": rule.step,
        "source": rule.source,
        "concluded": dict(parts.concluded),
        "reason": _Words(rule.then.reason),
        "inputs": _Inputs(rule.reads),
        "facts": {name: fact[name] for name in parts.facts},
        "settings": {name: _plain(getattr(settings, name)) for name in parts.settings},
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class _Line:
    """One line's answers and derived facts, as the holes of a shape take them."""

    __slots__ = ("answers", "derived", "combination", "_values")

    def __init__(self, answers: Answers, derived: Derived, combination: "_Combination") -> None:
        self.answers, self.derived, self.combination = answers, derived, combination
        self._values: dict[str, Any] | None = None

    def values(self) -> dict[str, Any]:
        """The placeholders of the line's texts (``result_builder.text_values``), made once asked."""
        if self._values is None:
            head = self.combination.head
            self._values = result_builder.text_values(self.derived, head.va_criteria, head.va_to_do, head.ruleset)
        return self._values

    def value(self, hole: _Hole) -> Any:
        kind = type(hole)
        if kind is _Words:
            return hole.key.format_map(self.values())
        if kind is _Inputs:
            answers = self.answers
            return {name: answers.as_json(name) for name in hole.key}
        if hole.key == "assessment_date":
            return str(self.answers.assessment_date)
        if hole.key == "red_flags":
            return list(self.combination.red_flags)
        value = getattr(self.derived, hole.key)
        return list(value) if isinstance(value, (list, tuple)) else value

    def rules(self) -> list[Rule]:
        return [rule.parts.rule for rule in self.combination.rules]

    def plain_head(self) -> bytes:
        """The plain builder's result for this line, without its trace: what a head's template must give."""
        head = self.combination.head
        result = result_builder.build_result(self.answers, self.derived, self.rules(), head.ruleset, head.settings)
        result["trace"] = []
        return to_json(result)

    def plain_entry(self, rule: Rule) -> bytes:
        """The plain builder's trace entry of ``rule`` for this line: what its template must give."""
        head = self.combination.head
        return to_json(result_builder.trace_entry(rule, self.answers, self.derived.fact, head.settings, self.values()))


# The placeholders whose value is the same for every line with the same settings (the clinic's words and
# intervals); any other placeholder is the line's own.
_LINE_PLACEHOLDERS = frozenset({*QUESTION_IDS, "months_since_fusion", "healing_window_ends", "mri_currency_starts",
                                "unfused_tear_levels", "adjacent_levels", "open_red_flags", "levels",
                                "va_criteria", "va_to_do"})
_QUESTIONS = frozenset(QUESTION_IDS)
_HOLE_MARK = re.compile(rb'"\\u0000(\d+)\\u0000"')


@functools.cache
def _placeholders(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)


def _constant_values(settings: Settings) -> dict[str, Any]:
    return {k: v for k, v in settings.text_data.items() if k not in _LINE_PLACEHOLDERS}


def _getter(make: Callable[..., Callable[[Any], Any]], names: tuple[str, ...]) -> Callable[[Any], Any]:
    """``itemgetter``/``attrgetter`` of ``names`` (a value for one name, a tuple for several)."""
    return make(*names) if names else (lambda _: ())


class _Template:
    """A shape as JSON text split around its holes: serialised once by the same serialiser as the
    data, with a text whose placeholders are all clinic settings put in words once, here."""

    def __init__(self, shape: dict[str, Any], settings: Settings) -> None:
        constant = _constant_values(settings)
        holes: dict[_Hole, int] = {}

        def marked(node: Any) -> Any:
            if isinstance(node, dict):
                return {key: marked(value) for key, value in node.items()}
            if isinstance(node, list):
                return [marked(value) for value in node]
            if type(node) is _Words and _placeholders(node.key) <= constant.keys():
                return node.key.format_map(constant)
            if isinstance(node, _Hole):
                return f"\x00{holes.setdefault(node, len(holes))}\x00"
            return node

        text = to_json(marked(shape))
        pieces: list[bytes] = []
        slots: list[tuple[int, int]] = []
        at = 0
        for match in _HOLE_MARK.finditer(text):
            pieces.append(text[at:match.start()])
            slots.append((len(pieces), int(match.group(1))))
            pieces.append(b"")
            at = match.end()
        pieces.append(text[at:])
        self._pieces, self._slots, self.holes = pieces, tuple(slots), tuple(holes)
        self.constant = constant.keys()  # the placeholders put in words here
        self.encoders: list[Callable[[_Line], bytes]] = []  # one per hole (``_Kept.encoder``)

    def fill(self, line: _Line) -> bytes:
        return self._join([encode(line) for encode in self.encoders])

    def _join(self, encoded: list[bytes]) -> bytes:
        pieces = self._pieces.copy()
        for position, hole in self._slots:
            pieces[position] = encoded[hole]
        return b"".join(pieces)

    def check(self, line: _Line, plain: bytes, name: str) -> None:
        """Before a template is kept: the bytes it gives for the line that made it must be ``plain``,
        those of the plain builder's result for that line (a head's trace is checked entry by entry, as
        each entry's template is made). A template that would give other bytes is never used."""
        encoded = [b"[]" if hole is _TRACE else encode(line) for hole, encode in zip(self.holes, self.encoders)]
        if self._join(encoded) != plain:
            raise AssertionError(f"the kept JSON of {name} differs from the result's data")


class _Head:
    """The head of a result (all but its red flags and trace), shared by every combination of fired
    rules with the same ``_head_key``."""

    def __init__(self, fired: list[Rule], ruleset: Ruleset, settings: Settings) -> None:
        self.ruleset, self.settings = ruleset, settings
        self.shape = _shape(fired, ruleset, settings)
        self.va_criteria, self.va_to_do = result_builder.va_conclusions(fired)  # named by texts
        self.status: str = self.shape["status"]
        self.template: _Template | None = None  # made for the first JSON (``_Kept.json_template``)


# Bounds what a pathological input stream could make us hold (100,000 generated intakes make about
# 2,800 heads and a few hundred trace entries).
MAX_KEPT = 20_000
# Per text, rule or answer field: what takes more values than this (a rule reading dates) is filled in
# on every line instead.
MAX_FILLED = 1_000


class _KeptWords:
    """A text's JSON, by the answers it names, when it names nothing but answers and settings: equal
    answers, equal text. (Each field keeps one type per kind of answer, so equal values are the same
    answer.) Any other text is put in words on every line."""

    def __init__(self, template: str, settings: Settings) -> None:
        self.template = template
        names = tuple(sorted(_placeholders(template) - _constant_values(settings).keys()))
        self.by_answers = bool(names) and set(names) <= _QUESTIONS
        self.key = _getter(attrgetter, names)
        self.texts: dict[Any, bytes] = {}

    def encoded(self, line: _Line) -> bytes:
        if not self.by_answers:
            return to_json(self.template.format_map(line.values()))
        key = self.key(line.answers)
        text = self.texts.get(key)
        if text is None:
            text = to_json(self.template.format_map(line.values()))
            if len(self.texts) >= MAX_FILLED:
                self.by_answers = False  # its answers vary too much for reuse
            else:
                self.texts[key] = text
        return text


class _KeptRule:
    """A rule's trace entries: a template per values of the facts it read, and when every hole of the
    entry is filled from the answers the rule reads, the entries already filled, by those answers."""

    def __init__(self, parts: _RuleParts) -> None:
        self.parts = parts
        self.fact_key = _getter(itemgetter, parts.facts)
        self.answers_key = _getter(attrgetter, parts.rule.reads)
        self.templates: dict[Any, _Template] = {}
        self.filled: dict[Any, bytes] | None = None  # decided with the first template

    def json(self, line: _Line, kept: "_Kept", settings: Settings) -> bytes:
        fact_key = self.fact_key(line.derived.fact)
        if self.filled is not None:
            key = (fact_key, self.answers_key(line.answers))
            text = self.filled.get(key)
            if text is not None:
                return text
        template = self.templates.get(fact_key)
        if template is None:
            if len(self.templates) >= MAX_KEPT:
                self.templates.clear()
            shape = _trace_shape(self.parts, line.derived.fact, settings)
            template = _Template(shape, settings)
            template.encoders = [kept.encoder(hole) for hole in template.holes]
            kept.checked(template, line, line.plain_entry(self.parts.rule), self.parts.rule.id)
            self.templates[fact_key] = template
            if self.filled is None and not self.templates.keys() - {fact_key}:
                reads = set(self.parts.rule.reads)
                if all(type(hole) is _Inputs or (type(hole) is _Words and _placeholders(hole.key) - template.constant <= reads)
                       for hole in template.holes):
                    self.filled = {}
        text = template.fill(line)
        if self.filled is not None:
            if len(self.filled) >= MAX_FILLED:
                self.filled = None  # its answers vary too much for reuse: filled in on every line from now on
            else:
                self.filled[(fact_key, self.answers_key(line.answers))] = text
        return text


# What a rule's conclusion puts in a result's head beyond the status, the consult's tier and its red
# flag (read by ``_shape``): two combinations of fired rules with the same status, tier and rules
# concluding any of these have the same head (their red flags and trace are their own).
_HEAD_CONCLUSIONS = ("missing", "step_status", "discussion", "va_criterion", "va_to_do")


def _head_key(fired: list[Rule]) -> tuple[Any, ...]:
    statuses = {rule.then.status for rule in fired if rule.then.status}
    urgencies = {rule.then.consult for rule in fired if rule.then.consult}
    status = next((s for s in STATUS_ORDER if s in statuses), None)
    urgency = next((u for u in URGENCY_ORDER if u in urgencies), None)
    return status, urgency, tuple(rule.id for rule in fired
                                  if any(getattr(rule.then, name) is not None for name in _HEAD_CONCLUSIONS))


class _Combination:
    """One combination of fired rules: its head, its red flags, its rules' trace entries, and the fields
    the safety invariants check (``checked``: the head's, with these red flags)."""

    def __init__(self, head: _Head, red_flags: list[str], rules: list[_KeptRule]) -> None:
        self.head, self.red_flags, self.rules = head, red_flags, rules
        self.checked = {**head.shape, "red_flags": red_flags}


class _Kept:
    """What the results made so far under one ruleset and settings (by fingerprint) have in common:
    heads, the combinations of fired rules that use them, trace entries per rule, texts by the answers
    they name."""

    def __init__(self, ruleset: Ruleset, settings: Settings) -> None:
        self.ruleset, self.settings = ruleset, settings
        self.heads: dict[tuple[Any, ...], _Head] = {}
        self.combinations: dict[tuple[str, ...], _Combination] = {}
        self.rules: dict[str, _KeptRule] = {}
        self._words: dict[str, _KeptWords] = {}
        self._answer_json: dict[str, dict[Any, bytes]] = {}  # per field: an answer's value -> its JSON

    def combination(self, fired: list[str]) -> _Combination:
        key = tuple(fired)
        combination = self.combinations.get(key)
        if combination is None:
            if len(self.combinations) >= MAX_KEPT:
                self.forget()
            parts = _rule_parts(self.ruleset)
            rules = [parts[rule_id].rule for rule_id in fired]
            head_key = _head_key(rules)
            head = self.heads.get(head_key)
            if head is None:
                head = self.heads[head_key] = _Head(rules, self.ruleset, self.settings)
            combination = self.combinations[key] = _Combination(
                head, result_builder.red_flags(rules), [self._rule(rule_id) for rule_id in fired])
        return combination

    def json_template(self, head: _Head, line: _Line) -> _Template:
        """The head's JSON around its holes, made when a line first asks for its JSON."""
        template = _Template(head.shape, self.settings)
        template.encoders = [self.encoder(hole) for hole in template.holes]
        head.template = self.checked(template, line, line.plain_head(), head.status)
        return template

    def checked(self, template: _Template, line: _Line, plain: bytes, name: str) -> _Template:
        try:
            template.check(line, plain, name)
        except AssertionError:
            self.forget()  # nothing made alongside it is kept either
            raise
        return template

    def _rule(self, rule_id: str) -> _KeptRule:
        rule = self.rules.get(rule_id)
        if rule is None:
            rule = self.rules[rule_id] = _KeptRule(_rule_parts(self.ruleset)[rule_id])
        return rule

    def words(self, template: str) -> _KeptWords:
        words = self._words.get(template)
        if words is None:
            words = self._words[template] = _KeptWords(template, self.settings)
        return words

    def encoder(self, hole: _Hole) -> Callable[[_Line], bytes]:
        """How a hole is filled in, as JSON, on every line."""
        if type(hole) is _Words:
            return self.words(hole.key).encoded
        if hole is _TRACE:
            return self.trace_json
        if type(hole) is _Inputs:
            return self._inputs_encoder(hole.key)
        return lambda line: to_json(line.value(hole))

    def _inputs_encoder(self, reads: tuple[str, ...]) -> Callable[[_Line], bytes]:
        """A trace entry's inputs as the JSON object ``{name: answers.as_json(name), ...}``, each answer
        serialised once per value it takes (equal values of a field are the same answer)."""
        fields = [(to_json(name) + b":", attrgetter(name), self._answer_json.setdefault(name, {})) for name in reads]

        def encode(line: _Line) -> bytes:
            answers, members = line.answers, []
            for prefix, read, known in fields:
                value = read(answers)
                text = known.get(value)
                if text is None:
                    text = to_json(answer_as_json(value))
                    if len(known) < MAX_FILLED:  # beyond: the first ones stay, others are serialised
                        known[value] = text
                members.append(prefix + text)
            return b"{" + b",".join(members) + b"}"

        return encode

    def trace_json(self, line: _Line) -> bytes:
        fact, answers = line.derived.fact, line.answers
        entries = []
        for rule in line.combination.rules:
            filled = rule.filled
            if filled is not None:  # the common case, inline: one look-up per entry
                text = filled.get((rule.fact_key(fact), rule.answers_key(answers)))
                if text is not None:
                    entries.append(text)
                    continue
            entries.append(rule.json(line, self, self.settings))
        return b"[" + b",".join(entries) + b"]"

    def forget(self) -> None:
        self.heads.clear()
        self.combinations.clear()
        self.rules.clear()
        self._words.clear()
        self._answer_json.clear()


def forget() -> None:
    """Drop everything kept (tests start from nothing)."""
    _kept_by_definitions.clear()


_kept_by_definitions: dict[tuple[str, str], _Kept] = {}


def _kept(ruleset: Ruleset, settings: Settings) -> _Kept:
    key = (ruleset.fingerprint, settings.fingerprint)
    kept = _kept_by_definitions.get(key)
    if kept is None:
        kept = _kept_by_definitions[key] = _Kept(ruleset, settings)
    return kept
