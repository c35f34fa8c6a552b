"""The dashboard page at ``/``, its static files and ``GET /network``, the map it draws."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from serving.network import RoadNetwork, road_network

STATIC = Path(__file__).resolve().parents[2] / "static"

router = APIRouter(tags=["dashboard"])


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/network", response_model=RoadNetwork)
def network() -> RoadNetwork:
    """The fixed road network: zones and every route as a lat/lon polyline."""
    return road_network()


def mount_static(app: FastAPI) -> None:
    """The page's CSS, JS and icon under ``/static`` (shipped in the package: no CDN)."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
