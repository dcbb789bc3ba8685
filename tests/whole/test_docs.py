"""The README and docs/ hold together: every relative link names a file that exists and, with #anchor,
a heading in it; every file in docs/ is reachable from the README's documentation table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT

PAGES = [ROOT / "README.md", ROOT / "SAFETY.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*```")


def prose(path: Path) -> list[str]:
    """The lines of a Markdown file outside fenced code blocks."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    found = set()
    for line in prose(path):
        if m := re.match(r"^#{1,6} (.+)$", line):
            found.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return found


def links(path: Path) -> list[str]:
    return [target for line in prose(path) for target in LINK.findall(line) if "://" not in target]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_the_anchor_rule_matches_headings_with_punctuation(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# The staff pages (`/staff/`)\n## Speed: batch and start-up (2026-11-27)\n```\n# not a heading\n```\n")
    assert anchors(page) == {"the-staff-pages-staff", "speed-batch-and-start-up-2026-11-27"}


def test_every_docs_page_is_listed_in_the_readme():
    listed = {Path(t.partition("#")[0]).name for t in links(ROOT / "README.md") if t.startswith("docs/")}
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert pages <= listed, f"docs pages missing from the README's table: {sorted(pages - listed)}"
