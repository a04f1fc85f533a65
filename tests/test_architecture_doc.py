"""docs/architecture.md stays the map of the code.

Every path it names exists, every top-level module and package of `tui_recepcion` has its
line under «Where things live», and every section a comment cites
(`docs/architecture.md, «Crash safety»`) is a heading of the document.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
PACKAGE = REPO / "tui_recepcion"
CITATION = re.compile(r"docs/architecture\.md,?\s*«([^»]+)»")
CITING_TREES = ("tui_recepcion", "tests", "bench", "plugins", "scripts")


def headings(text: str) -> set[str]:
    return {line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")}


def section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def exists(path: Path) -> bool:
    """`x.py` also stands for a package `x/` (a module being split keeps its line)."""
    return path.exists() or (path.suffix == ".py" and (path.with_suffix("") / "__init__.py").exists())


def layout_rows(text: str) -> dict[str, str]:
    """The «Where things live» table: path → description."""
    rows = {}
    for line in section(text, "Where things live").splitlines():
        match = re.match(r"\| `([^`]+)` \| (.*) \|$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def missing_paths(text: str) -> list[str]:
    problems = [
        path
        for path in sorted(set(re.findall(r"`((?:tui_recepcion|tests|plugins|bench|docs|scripts)/[^`\s]*)`", text)))
        if not exists(REPO / path.rstrip("/"))
    ]
    for folder, description in layout_rows(text).items():
        if not folder.endswith("/"):
            continue
        for name in re.findall(r"`([\w/]+(?:\.py|\.tcss|/))`", description):
            if not exists(REPO / folder / name.rstrip("/")):
                problems.append(f"{folder}{name}")
    return problems


def unlisted_modules(text: str) -> list[str]:
    listed = set(layout_rows(text))
    found = [
        f"tui_recepcion/{entry.name}/" if entry.is_dir() else f"tui_recepcion/{entry.name}"
        for entry in sorted(PACKAGE.iterdir())
        if (entry.is_dir() and (entry / "__init__.py").exists())
        or (entry.suffix == ".py" and entry.name not in {"__init__.py", "__main__.py"})
    ]
    return [name for name in found if name not in listed]


def citations() -> list[tuple[str, str]]:
    found = []
    for tree in CITING_TREES:
        for path in sorted((REPO / tree).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            # A citation may wrap inside a comment: join the lines first.
            joined = re.sub(r"\s*\n\s*(#\s*)?", " ", text)
            found += [(str(path.relative_to(REPO)), title.strip()) for title in CITATION.findall(joined)]
    return found


TEXT = DOC.read_text(encoding="utf-8")


def test_every_path_the_map_names_exists() -> None:
    assert missing_paths(TEXT) == []


def test_every_top_level_module_has_its_line() -> None:
    assert unlisted_modules(TEXT) == []


def test_every_cited_section_exists() -> None:
    sections = headings(TEXT)
    assert [(path, title) for path, title in citations() if title not in sections] == []


def test_the_checks_catch_drift() -> None:
    drifted = TEXT.replace("| `tui_recepcion/events.py` |", "| `tui_recepcion/eventos.py` |").replace(
        "`imap_folders.py`", "`carpetas.py`"
    )
    assert missing_paths(drifted) == ["tui_recepcion/eventos.py", "tui_recepcion/mailbox/carpetas.py"]
    assert unlisted_modules(drifted) == ["tui_recepcion/events.py"]
    assert "Crash safety" in headings(TEXT)
    assert CITATION.findall("see docs/architecture.md, «Crash safety»") == ["Crash safety"]


def test_no_comment_cites_the_outside_design_document() -> None:
    cited = [
        str(path.relative_to(REPO))
        for tree in CITING_TREES
        for path in sorted((REPO / tree).rglob("*.py"))
        if re.search(r"design §\d", path.read_text(encoding="utf-8"))
    ]
    assert cited == []
