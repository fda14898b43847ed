"""Markdown read back the way GitHub shows it: a CommonMark renderer with GitHub's table extension, and the
tables and folded sections of what it rendered."""

from __future__ import annotations

from html.parser import HTMLParser

from markdown_it import MarkdownIt


class _Page(HTMLParser):
    """The tables (rows of cell texts) and the folded sections (summary texts) of rendered Markdown."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.summaries: list[str] = []
        self._cell: list[str] | None = None
        self._summary: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "summary":
            self._summary = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "summary" and self._summary is not None:
            self.summaries.append("".join(self._summary).strip())
            self._summary = None

    def handle_data(self, data: str) -> None:
        for part in (self._cell, self._summary):
            if part is not None:
                part.append(data)


def rendered(markdown: str) -> _Page:
    page = _Page()
    page.feed(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))
    return page
