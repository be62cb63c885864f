"""Replace one "## " section of a Markdown page (docs/benchmarks.md), leaving the rest alone."""

from __future__ import annotations

from pathlib import Path


def write_section(page: Path, heading: str, section: str) -> None:
    """Put ``section`` (which starts with ``heading``) in place of the page's section of that
    heading, or at the end of the page when it has none.
    """
    text = page.read_text() if page.is_file() else "# Benchmarks\n"
    section = section.strip("\n") + "\n"
    start = text.find(heading + "\n")
    if start < 0:
        page.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    end = text.find("\n## ", start + len(heading))
    rest = "\n" + text[end + 1:] if end >= 0 else ""
    page.write_text(text[:start] + section + rest)
