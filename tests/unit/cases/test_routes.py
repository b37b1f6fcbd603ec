"""The route plot's projection and scale bar."""

from __future__ import annotations

import math

from hazwaste.cases import routes


def test_no_positions_no_plot():
    assert routes.plot([{"lat": None, "lon": None, "label": "x", "kind": "producer"}], []) is None


def test_projection_fits_and_keeps_order():
    sites = [
        {"lat": 39.348, "lon": 106.959, "label": "产废", "kind": "producer"},
        {"lat": 39.81, "lon": 109.98, "label": "接收", "kind": "receiver"},
    ]
    events = [
        {"lat": 39.348, "lon": 106.959, "label": "1", "kind": "event"},
        {"lat": None, "lon": None, "label": "2", "kind": "event"},
        {"lat": 39.6, "lon": 108.5, "label": "3", "kind": "event"},
        {"lat": 39.81, "lon": 109.98, "label": "4", "kind": "event"},
    ]
    plot = routes.plot(sites, events)
    assert plot is not None
    assert len(plot.points) == 5  # the event without a position is left out
    for p in plot.points:
        assert routes.PAD - 1 <= p.x <= plot.width - routes.PAD + 1
        assert routes.PAD - 1 <= p.y <= plot.height - routes.PAD + 1
    xs = [x for x, _ in plot.path]
    assert xs == sorted(xs)  # west to east in time order
    producer, receiver = plot.points[0], plot.points[1]
    assert receiver.y < producer.y  # north is up
    # Scale bar: the drawn distance equals the projected great-circle-ish distance.
    coslat = math.cos(
        math.radians(sum(p["lat"] for p in [*sites, events[0], events[2], events[3]]) / 5)
    )
    km_east = (109.98 - 106.959) * coslat * routes.KM_PER_DEGREE
    px_east = receiver.x - producer.x
    assert abs(px_east / km_east - plot.scale_px / plot.scale_km) < 1e-6
    assert plot.scale_km in routes.NICE_KM


def test_single_point_still_draws():
    plot = routes.plot([{"lat": 39.0, "lon": 107.0, "label": "a", "kind": "producer"}], [])
    assert plot is not None and plot.scale_km >= 1
    assert plot.points[0].x == plot.width / 2


def test_evidence_rows_units_and_times(app):
    from hazwaste.cases.services import evidence_rows

    with app.test_request_context(headers={"Accept-Language": "en"}):
        rows = {
            r["key"]: r
            for r in evidence_rows(
                {
                    "gap_kg": "-123.000",
                    "gap_pct": "-7.59",
                    "distance_km": "6.37",
                    "delivered_at": "2026-11-09T06:51:57+00:00",
                    "position": [39.4, 106.99],
                }
            )
        }
    assert rows["gap_kg"]["unit"] == "kg" and str(rows["gap_kg"]["label"]) == "Gap"
    assert rows["gap_pct"]["unit"] == "%" and rows["distance_km"]["unit"] == "km"
    assert rows["delivered_at"]["value"] == "2026-11-09 14:51"  # China time
    assert rows["position"]["value"] == "[39.4, 106.99]"
