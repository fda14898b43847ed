"""The documentation builds as a site (mkdocs.yml) in which a broken link, a broken anchor or a page left out of
the nav fails the build, the way CI builds it (`mkdocs build --strict`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def site_source(repo_root: Path, tmp_path: Path) -> Path:
    """A copy of what the site is built from, to plant faults in."""
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(repo_root / "mkdocs.yml", source)
    shutil.copy(repo_root / "README.md", source)
    shutil.copytree(repo_root / "docs", source / "docs")
    return source


def _build(source: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice about MkDocs 2.0, not about this site
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(source.parent / "site")],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_the_site_builds_with_the_readme_as_its_home_page(site_source: Path) -> None:
    done = _build(site_source)
    assert done.returncode == 0, done.stderr[-3000:]
    home = (site_source.parent / "site" / "index.html").read_text(encoding="utf-8")
    assert "Quick start" in home
    assert 'href="cluster/' in home  # the README's docs/cluster.md, one level up on the site
    assert (site_source.parent / "site" / "options" / "index.html").is_file()


@pytest.mark.parametrize(
    ("page", "planted", "complaint"),
    [
        ("docs/checks.md", "\nSee [the missing page](missing.md).\n", "'missing.md'"),
        ("docs/checks.md", "\nSee [TLS](cluster.md#no-such-section).\n", "'#no-such-section'"),
        ("docs/checks.md", "\nSee [above](#no-such-section).\n", "'#no-such-section'"),
        ("README.md", "\nSee [the missing page](docs/missing.md).\n", "'missing.md'"),
        ("docs/unlisted.md", "# A page the nav does not list\n", "unlisted.md"),
    ],
    ids=["broken-link", "broken-anchor", "broken-anchor-on-the-page", "broken-link-in-the-readme", "not-in-nav"],
)
def test_a_planted_fault_fails_the_build(site_source: Path, page: str, planted: str, complaint: str) -> None:
    path = site_source / page
    if path.exists():
        _append(path, planted)
    else:
        path.write_text(planted, encoding="utf-8")
    done = _build(site_source)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-3000:]
    assert "Aborted with" in output
    assert complaint in output
