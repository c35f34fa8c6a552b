"""``GET /reports`` and the report files, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import FileResponse

from serving.api.deps import SettingsDep
from serving.models import Problem, Report, Reports
from serving.reports import PAGE, list_reports, report_file

router = APIRouter(prefix="/reports", tags=["reports"])
FileName = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")]
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the report page or one of its CSV files",
        "content": {"text/html": {}, "text/csv": {}},
    },
    404: {"model": Problem, "description": "no such report, or no such file in it"},
}


@router.get("", response_model=Reports)
def reports(settings: SettingsDep) -> Reports:
    found = list_reports(settings.reports())
    return Reports(
        latest=found[0].name if found else None,
        reports=[Report(name=r.name, created_at=r.created_at, files=list(r.files)) for r in found],
    )


def _serve(settings: SettingsDep, name: str | None, file: str) -> FileResponse:
    hit = report_file(settings.reports(), name=name, file=file)
    if hit is None and not list_reports(settings.reports()):
        raise HTTPException(
            status_code=404,
            detail="no report yet: `python -m cold_path report --out DATA_DIR/reports/NAME` "
            "writes one",
        )
    if hit is None:
        which = "the latest report" if name is None else f"report {name!r}"
        raise HTTPException(
            status_code=404,
            detail=f"no file {file!r} in {which}: GET /reports lists the reports and their files",
        )
    path, media_type = hit
    return FileResponse(path, media_type=media_type)


@router.get("/latest", response_class=FileResponse, responses=FILE_RESPONSES)
def latest(settings: SettingsDep) -> FileResponse:
    """The newest report's HTML page."""
    return _serve(settings, None, PAGE)


@router.get("/latest/{file}", response_class=FileResponse, responses=FILE_RESPONSES)
def latest_file(settings: SettingsDep, file: FileName) -> FileResponse:
    """A file (``report.html`` or a CSV) of the newest report."""
    return _serve(settings, None, file)


@router.get("/{name}/{file}", response_class=FileResponse, responses=FILE_RESPONSES)
def named_file(settings: SettingsDep, name: FileName, file: FileName) -> FileResponse:
    return _serve(settings, name, file)
