"""Making text safe for where it is shown: one function per output kind.

Values that reach a terminal or a document come from people (answers, ``--user``, file names, keys
of a malformed file) or from a store someone may have edited by hand. Input refuses what cannot be
meant (``refuse_unsafe``: control and bidirectional-override characters in names and references);
output neutralises whatever still arrives, so an old or tampered record cannot act either:

- terminal (``for_terminal``): control characters (C0 but newline and tab, DEL, C1) and the
  invisible characters that reorder or hide text (bidi embeddings, overrides and isolates, line and
  paragraph separators) are shown as ``<U+001B>``, so an escape sequence cannot clear, recolour or
  rewrite the screen, and a right-to-left override cannot reverse what follows it;
- JSON (``json_text``): the same characters are written as ``\\uXXXX`` escapes (the value is
  unchanged for a JSON reader; a terminal that shows the file sees plain ASCII);
- Markdown (``for_markdown``): the terminal's neutralising, then every character that Markdown or
  inline HTML reads as syntax is escaped, so a value is always text, never a link, image or tag;
- HTML (``for_html``): the terminal's neutralising, then HTML escaping.

Domain neutral: stdlib only.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from typing import Any

# Bidirectional formatting characters (embeddings, overrides, isolates, marks) and the line and
# paragraph separators: invisible, yet they change how the text around them is displayed.
BIDI_AND_SEPARATORS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
)


def unsafe_character(text: str, *, allow_newline: bool = False) -> str | None:
    """The first character of ``text`` that must not reach a screen or a document, or None."""
    for char in text:
        if char in BIDI_AND_SEPARATORS:
            return char
        if unicodedata.category(char) == "Cc" and not (allow_newline and char in "\n\t"):
            return char
    return None


def describe(char: str) -> str:
    return f"U+{ord(char):04X}"


def refuse_unsafe(text: str) -> str:
    """For names and references at input: raise ValueError naming the first control or bidi
    character (the message is safe to print: it shows the code point, not the character)."""
    char = unsafe_character(text)
    if char is not None:
        kind = "a control character" if unicodedata.category(char) == "Cc" else "an invisible formatting character"
        raise ValueError(f"contains {kind} ({describe(char)}); use plain text")
    return text


@functools.cache
def _unsafe() -> re.Pattern[str]:
    """Compiled when first needed (~0.6 ms of start-up): JSON of ASCII text never needs it."""
    return re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + "".join(sorted(BIDI_AND_SEPARATORS)) + "]")


def for_terminal(text: Any) -> str:
    """Text for a terminal: newlines and tabs kept, every other unsafe character made visible."""
    return _unsafe().sub(lambda match: f"<{describe(match.group())}>", str(text))


def json_text(value: Any, *, indent: int | None = None, compact: bool = False) -> str:
    """JSON with UTF-8 kept (names stay readable) but every unsafe character escaped as \\uXXXX."""
    separators = (",", ":") if compact else None
    text = json.dumps(value, ensure_ascii=False, indent=indent, separators=separators)
    if text.isascii() and "\x7f" not in text:  # json.dumps escapes every other ASCII control character
        return text
    return _unsafe().sub(lambda match: f"\\u{ord(match.group()):04x}", text)


# The characters that open or close an inline Markdown construct (emphasis, code, link, image,
# table cell, strike-through) are escaped with a backslash; < > & become entities so no tag forms.
# Values are always placed mid-line, so line-start syntax (#, -, 1.) cannot take effect.
_MARKDOWN = re.compile(r"([\\`*_\[\]!|~])")


def for_markdown(text: Any) -> str:
    """A value as literal Markdown text: never a link, image, emphasis, heading or HTML tag."""
    import html  # imported where used: most commands write no Markdown or HTML

    safe = html.escape(for_terminal(text), quote=False)
    safe = _MARKDOWN.sub(r"\\\1", safe)
    return safe.replace("\n", " ")


def for_html(text: Any) -> str:
    import html

    return html.escape(for_terminal(text), quote=True)
