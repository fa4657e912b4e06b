"""Build probe output the way ``grep -Hs '' FILES`` prints it, from fixture files or text."""
from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "parsers"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def grep_h(files: dict[str, str]) -> str:
    """{host path: file text} → ``path:line`` lines, files in the given order."""
    return "".join(f"{path}:{line}\n" for path, text in files.items() for line in text.splitlines())
