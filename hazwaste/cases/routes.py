"""The route plot of a manifest as plain data for an inline SVG (no map tiles are reachable).

Equirectangular projection around the mean latitude: x = lon·cos(φ₀), y = −lat, scaled to
fit the drawing. Good enough at the scale of one prefecture, and honest: the scale bar is
computed with the same projection. Coordinates are floats (drawing only, not quantities).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

KM_PER_DEGREE = 111.32  # length of one degree of latitude (and of longitude at the equator)
WIDTH, HEIGHT, PAD = 640.0, 360.0, 48.0
NICE_KM = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)


@dataclass
class PlotPoint:
    x: float
    y: float
    label: str
    kind: str  # "producer" | "receiver" | "event"
    detail: str = ""


@dataclass
class RoutePlot:
    width: float = WIDTH
    height: float = HEIGHT
    points: list[PlotPoint] = field(default_factory=list)
    path: list[tuple[float, float]] = field(default_factory=list)  # events in time order
    scale_km: int = 0
    scale_px: float = 0.0

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.path)


def plot(sites: list[dict[str, Any]], events: list[dict[str, Any]]) -> RoutePlot | None:
    """Project ``sites`` (dicts with lat, lon, label, kind) and ``events`` (lat, lon, label,
    detail; already in time order) into one drawing. ``None`` if nothing has a position."""
    located = [
        p for p in [*sites, *events] if p.get("lat") is not None and p.get("lon") is not None
    ]
    if not located:
        return None
    lat0 = sum(p["lat"] for p in located) / len(located)
    coslat = math.cos(math.radians(lat0))

    def raw(p: dict[str, Any]) -> tuple[float, float]:
        return float(p["lon"]) * coslat, -float(p["lat"])

    xs = [raw(p)[0] for p in located]
    ys = [raw(p)[1] for p in located]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 0.01)  # at least ~1 km across
    scale = min(WIDTH - 2 * PAD, HEIGHT - 2 * PAD) / span  # px per (projected) degree
    cx = (max(xs) + min(xs)) / 2
    cy = (max(ys) + min(ys)) / 2

    def project(p: dict[str, Any]) -> tuple[float, float]:
        x, y = raw(p)
        return WIDTH / 2 + (x - cx) * scale, HEIGHT / 2 + (y - cy) * scale

    result = RoutePlot()
    for p in located:
        x, y = project(p)
        result.points.append(
            PlotPoint(x, y, p.get("label", ""), p.get("kind", "event"), p.get("detail", ""))
        )
    result.path = [
        project(p) for p in events if p.get("lat") is not None and p.get("lon") is not None
    ]
    px_per_km = scale / KM_PER_DEGREE
    target = (WIDTH - 2 * PAD) / 4 / px_per_km  # about a quarter of the width
    km = max((k for k in NICE_KM if k <= target), default=1)
    result.scale_km, result.scale_px = km, km * px_per_km
    return result
