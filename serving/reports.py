"""The fleet reports ``python -m cold_path report --out REPORTS_DIR/<name>`` wrote.

A report is a directory holding ``report.html`` (and its CSV files); one
written straight into the reports directory is listed as ``default``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PAGE = "report.html"
ROOT_NAME = "default"
SUFFIXES = {".html": "text/html", ".csv": "text/csv"}


@dataclass(frozen=True, slots=True)
class ReportDir:
    name: str
    path: Path
    created_at: datetime
    files: tuple[str, ...]


def _report(name: str, path: Path) -> ReportDir | None:
    page = path / PAGE
    if not page.is_file():
        return None
    files = tuple(sorted(f.name for f in path.iterdir() if f.is_file() and f.suffix in SUFFIXES))
    created = datetime.fromtimestamp(page.stat().st_mtime, tz=UTC)
    return ReportDir(name, path, created, files)


def list_reports(root: Path) -> list[ReportDir]:
    """Every report under ``root``, newest first."""
    if not root.is_dir():
        return []
    found = [_report(d.name, d) for d in root.iterdir() if d.is_dir() and d.name != ROOT_NAME]
    found.append(_report(ROOT_NAME, root))
    return sorted((r for r in found if r), key=lambda r: (r.created_at, r.name), reverse=True)


def report_file(root: Path, *, name: str | None, file: str) -> tuple[Path, str] | None:
    """The listed file ``file`` of report ``name`` (None: the newest) and its media type."""
    reports = list_reports(root)
    chosen = reports[:1] if name is None else [r for r in reports if r.name == name]
    if not chosen or file not in chosen[0].files:
        return None
    return chosen[0].path / file, SUFFIXES[Path(file).suffix]
