from __future__ import annotations

import os
from pathlib import Path

from serving.reports import list_reports, report_file


def _report(path: Path, mtime: float) -> None:
    path.mkdir(parents=True)
    (path / "report.html").write_text("<html></html>")
    (path / "efficiency.csv").write_text("vin,l_per_100km\n")
    (path / "notes.txt").write_text("not served")
    os.utime(path / "report.html", (mtime, mtime))


def test_reports_newest_first_with_their_files(tmp_path: Path) -> None:
    assert list_reports(tmp_path / "missing") == []
    _report(tmp_path / "monday", 1_000_000)
    _report(tmp_path / "tuesday", 2_000_000)
    (tmp_path / "empty").mkdir()
    found = list_reports(tmp_path)
    assert [r.name for r in found] == ["tuesday", "monday"]
    assert found[0].files == ("efficiency.csv", "report.html")


def test_report_files_are_only_listed_ones(tmp_path: Path) -> None:
    _report(tmp_path / "monday", 1_000_000)
    _report(tmp_path / "tuesday", 2_000_000)
    assert report_file(tmp_path, name=None, file="report.html") == (
        tmp_path / "tuesday" / "report.html", "text/html",
    )  # fmt: skip
    assert report_file(tmp_path, name="monday", file="efficiency.csv") == (
        tmp_path / "monday" / "efficiency.csv", "text/csv",
    )  # fmt: skip
    assert report_file(tmp_path, name=None, file="notes.txt") is None
    assert report_file(tmp_path, name="monday", file="../tuesday/report.html") is None
    assert report_file(tmp_path, name="sunday", file="report.html") is None


def test_a_report_written_into_the_root_is_the_default(tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text("<html></html>")
    assert [r.name for r in list_reports(tmp_path)] == ["default"]
