"""MkDocs hook: the README is the site's home page, written once.

Its links point into docs/ as GitHub shows them (``docs/cluster.md#tls``); on the site the pages are one level
up, so the prefix is dropped. Any other relative link in the README has no page on the site, and the strict
build fails on it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

_DOCS_LINK = re.compile(r"\]\(docs/")


def readme_as_home(readme: str) -> str:
    return _DOCS_LINK.sub("](", readme)


def on_files(files: Files, config: Any) -> Files:
    readme = Path(config.config_file_path).parent / "README.md"
    files.append(File.generated(config, "index.md", content=readme_as_home(readme.read_text(encoding="utf-8"))))
    return files
