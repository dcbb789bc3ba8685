"""The rich console helpers every terminal rendering shares: one console set-up, lists with a hanging
indent, section titles, trimmed lines."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

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


def console(out: io.StringIO, width: int, color: bool) -> Console:
    return Console(file=out, width=width, no_color=not color, force_terminal=color, highlight=False,
                   emoji=False, legacy_windows=False)


def section(console: Console, title: str) -> None:
    console.print(Text(f"\n{title}", style="bold"))


