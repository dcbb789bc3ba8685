"""The rich console helpers every terminal rendering shares: one console set-up, lists with a hanging
indent, section titles, trimmed lines."""

from __future__ import annotations

import io

from rich.console import Console, RenderHook
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from triage.core.safe_text import for_terminal, unsafe_character


def hanging_list(console: Console, rows: list[tuple[str, Text | str]], indent: int = 2) -> None:
    """Marker + text with a hanging indent, so wrapped lines stay under their item."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    for marker, text in rows:  # plain strings as Text: "[x]" must not be read as rich markup
        grid.add_row(Text(" " * indent + marker), text if isinstance(text, Text) else Text(text))
    console.print(grid)


def trimmed(rendered: str) -> str:
    """rich pads table rows to the full width; trailing spaces only make diffs and copies noisy."""
    return "\n".join(line.rstrip() for line in rendered.split("\n"))


class _Neutralised:
    """Renders what it wraps, with every text segment passed through ``for_terminal``: a stored or
    typed value cannot carry an escape sequence or a bidi override onto the screen. rich applies
    its own styling after this, so colours still work."""

    def __init__(self, inner):
        self.inner = inner

    def __rich_console__(self, console, options):
        for segment in console.render(self.inner, options):
            if segment.control or unsafe_character(segment.text, allow_newline=True) is None:
                yield segment
            else:
                yield Segment(for_terminal(segment.text), segment.style)


class _NeutraliseHook(RenderHook):
    def process_renderables(self, renderables):
        return [_Neutralised(renderable) for renderable in renderables]


def terminal_console(file, *, width: int, color: bool, **options) -> Console:
    """The one way a rich console for the terminal is made: every text it prints is neutralised
    (triage/core/safe_text.py). Every text rendering, `triage intake` and `triage batch` use it."""
    made = Console(file=file, width=width, no_color=not color, highlight=False, emoji=False,
                   legacy_windows=False, **options)
    made.push_render_hook(_NeutraliseHook())
    return made


def console(out: io.StringIO, width: int, color: bool) -> Console:
    return terminal_console(out, width=width, color=color, force_terminal=color)


def section(console: Console, title: str) -> None:
    console.print(Text(f"\n{title}", style="bold"))


