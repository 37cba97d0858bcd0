"""Whitespace-separated list files (`timestamp filename`, associations): parsed with line numbers."""

from __future__ import annotations

from pathlib import Path

from ..errors import DatasetError


def read_rows(path: Path, columns: int, layout: str) -> list[tuple[int, list[str]]]:
    """Non-comment rows of a list file as (line number, first `columns` tokens).

    Lines starting with '#' and blank lines are skipped. A row with fewer than `columns` tokens is
    a DatasetError naming the file, the line and the expected `layout` (e.g. "timestamp filename").
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise DatasetError(f"cannot read list file {path}: {exc.strerror or exc}") from None
    rows = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        tokens = stripped.replace(",", " ").split()
        if len(tokens) < columns:
            raise DatasetError(f"{path}, line {line_no}: expected '{layout}', got {stripped!r}")
        rows.append((line_no, tokens[:columns]))
    return rows


def parse_stamp(path: Path, line_no: int, token: str) -> float:
    """A finite float timestamp, or a DatasetError naming file and line."""
    try:
        value = float(token)
    except ValueError:
        raise DatasetError(f"{path}, line {line_no}: timestamp {token!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise DatasetError(f"{path}, line {line_no}: timestamp {token!r} is not finite")
    return value
