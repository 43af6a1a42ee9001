"""The design page the code cites (`DESIGN.md §N`) is in the repository, and every section cited exists in it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "docs" / "DESIGN.md"
SOURCES = ["README.md", "docs", "functions", "layers", "local", "migrations", "tests", "bench", "tools", "frontend"]
SUFFIXES = {".py", ".md", ".js", ".html", ".yaml", ".toml", ".sql"}
# "DESIGN.md §3", also when a docstring or a comment wraps between the two
CITATION = re.compile(r"DESIGN\.md\)?[\s#*/]*§\s*(\d+)")
HEADING = re.compile(r"^## (\d+)\. ", re.MULTILINE)


def _sources() -> list[Path]:
    files: list[Path] = []
    for name in SOURCES:
        path = ROOT / name
        if path.is_file():
            files.append(path)
            continue
        for file in path.rglob("*"):
            parts = set(file.relative_to(ROOT).parts)
            if file.suffix in SUFFIXES and file.is_file() and not parts & {"__pycache__", "vendor", "node_modules"}:
                files.append(file)
    return files


def citations(text: str) -> list[int]:
    return [int(n) for n in CITATION.findall(text)]


def test_citations_are_found_across_line_breaks_and_comment_markers() -> None:
    assert citations("the design (DESIGN.md §5) says") == [5]
    assert citations('"""... already analysed (DESIGN.md\n§3): when') == [3]
    assert citations("# see DESIGN.md\n    # §6: 401 -> 404") == [6]
    assert citations("[design](docs/DESIGN.md) §8") == [8]
    assert citations("DESIGN.md alone, no section") == []


def test_every_cited_section_of_the_design_page_exists() -> None:
    sections = {int(n) for n in HEADING.findall(DESIGN.read_text(encoding="utf-8"))}
    assert sections == set(range(1, len(sections) + 1)), f"sections numbered 1..n in order: {sorted(sections)}"
    cited: dict[str, list[int]] = {}
    for file in _sources():
        found = citations(file.read_text(encoding="utf-8", errors="replace"))
        if found and file not in (DESIGN, Path(__file__).resolve()):
            cited[str(file.relative_to(ROOT))] = found
    assert len(cited) >= 10, cited  # the code does cite it: a broken pattern would find nothing
    missing = {name: bad for name, found in cited.items() if (bad := [n for n in found if n not in sections])}
    assert not missing, f"sections cited but not in docs/DESIGN.md: {missing}"


PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_every_relative_link_of_the_readme_and_the_docs_resolves() -> None:
    checked = 0
    for page in PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).resolve().exists(), f"{page.relative_to(ROOT)} links to {target}, missing"
            checked += 1
    assert checked >= 10  # the README links every page under docs/


def test_every_docs_page_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {(ROOT / target).resolve() for target in LINK.findall(readme)}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []


def test_the_docs_pages_name_only_files_of_this_repository() -> None:
    folders = "functions|layers|migrations|tests|local|tools|bench|frontend|events"
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for ref in re.findall(rf"`((?:{folders})/[^`\s*<{{]+)`", text):
            path = ROOT / ref.split(":")[0].rstrip(".,")  # "worker.py:lambda_handler" names the file
            assert path.exists(), f"{page.relative_to(ROOT)} names {ref}, which does not exist"
        assert "shared/" not in text, f"{page.relative_to(ROOT)} points outside the repository"


def test_the_readme_is_a_front_door_not_the_manual() -> None:
    """At most 15 KB: what labfolio is, the Quickstart, the architecture, where to read on; depth goes to docs/."""
    assert (ROOT / "README.md").stat().st_size <= 15 * 1024
