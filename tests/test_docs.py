"""The documentation points at things that exist.

- A reference to a README section ("README \"Configuration\"", "bench/README.md,
  \"Variants\"") names a heading of that README.
- A repository path written in backticks in a README (`channels/turn.py`) exists.
- The folder tree in README.md lists exactly the repository's top-level folders.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Dict, List, Set, Tuple

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# README "Section" / README 'Section' / path/README.md "Section" / README.md, "Section"
SECTION_REFERENCE = re.compile(
    r"""(?P<doc>(?:[\w./-]+/)?README(?:\.md)?)[,:]?\s*\(?(?P<quote>["'])(?P<title>[A-Z][^"'\n]{2,60})(?P=quote)"""
)
# `some/path.ext` or `some/folder/`
BACKTICKED_PATH = re.compile(r"`((?:\.?[\w.-]+/)+[\w.-]*)`")


def tracked_files() -> List[str]:
    out = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.splitlines() if line]


def headings(readme: Path) -> List[str]:
    return [
        line.lstrip("#").strip().lower()
        for line in readme.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    ]


def section_references() -> List[Tuple[str, str, str]]:
    """(file that refers, README path, section title) for every reference."""
    found = []
    for rel in tracked_files():
        if not rel.endswith((".md", ".py", ".yml", ".yaml", ".sh", ".txt", ".j2")) and Path(
            rel
        ).name not in {"Makefile", "Procfile"}:
            continue
        if rel.startswith(("data/", "eval/", "tests/triage/")) or rel == "tests/test_docs.py":
            continue  # patient-message data, not documentation
        text = (PROJECT_ROOT / rel).read_text(encoding="utf-8", errors="replace")
        for match in SECTION_REFERENCE.finditer(text):
            doc = match.group("doc")
            doc_path = doc if doc.endswith(".md") else doc + ".md"
            if (
                "/" not in doc_path
                and Path(rel).name == "README.md"
                and "/" in rel
                and not doc.endswith(".md")
            ):
                doc_path = "README.md"  # a folder README's "README" means the top one
            found.append((rel, doc_path, match.group("title")))
    return found


def test_section_references_name_existing_headings():
    references = section_references()
    assert len(references) >= 10, references  # the pattern still finds the references
    cache: Dict[str, List[str]] = {}
    broken = []
    for rel, doc_path, title in references:
        readme = PROJECT_ROOT / doc_path
        if not readme.exists():
            broken.append((rel, doc_path, title, "no such README"))
            continue
        titles = cache.setdefault(doc_path, headings(readme))
        wanted = title.lower().rstrip(".")
        if not any(h.startswith(wanted) or wanted in h for h in titles):
            broken.append((rel, doc_path, title))
    assert not broken, broken


def test_paths_in_readmes_exist():
    files = tracked_files()
    present: Set[str] = set(files)
    present |= {
        str(parent) + "/" for f in files for parent in Path(f).parents if str(parent) != "."
    }
    top_level = {f.split("/")[0] for f in files if "/" in f}
    generated = ("var/", "models/", ".venv/", "build/", "results/", "test-artifacts/", "/tmp/")
    missing = []
    for readme in [f for f in files if f.endswith(".md")]:
        text = (PROJECT_ROOT / readme).read_text(encoding="utf-8")
        base = Path(readme).parent
        for path in BACKTICKED_PATH.findall(text):
            if (
                any(ch in path for ch in "*<>{}$")
                or path.startswith(generated)
                or "://" in path
                or path.startswith(("~", "/", "http"))
            ):
                continue
            first = path.split("/")[0]
            if first not in top_level and first not in {
                p.name for p in (PROJECT_ROOT / base).iterdir()
            }:
                continue  # not a repository path (a rate "20/minute", a folder under var/)
            candidates = {path, str(base / path)}
            if not any(
                c in present or c.rstrip("/") in present or c + "/" in present for c in candidates
            ):
                missing.append((readme, path))
    assert not missing, missing


def readme_tree() -> Set[str]:
    """Top-level folders named in README.md's tree block (lines like
    `channels/        input channels ...` inside a code block)."""
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    blocks, current = [], None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    tree = [b for b in blocks if len(re.findall(r"^[\w.-]+/ +\S", b, flags=re.M)) >= 5]
    assert len(tree) == 1, "README.md should have one folder tree"
    return set(re.findall(r"^([\w.-]+)/ +\S", tree[0], flags=re.M))


def test_readme_tree_lists_every_top_level_folder():
    tree = readme_tree()
    folders = {f.split("/")[0] for f in tracked_files() if "/" in f}
    folders -= {".ci"}  # CI's own entry point, named in the README text
    assert tree == folders, {"only in README": tree - folders, "not in README": folders - tree}
