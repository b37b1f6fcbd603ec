"""Where a hand-off happened relative to the site it should have happened at.

Each pickup is expected at the producer's registered site and each arrival, receipt or
rejection at the receiver's. The distance is computed once, when the event is recorded, and
kept with it as evidence ("scanned 37 km from the registered site"): a later change of an
organization's registered position does not rewrite what was observed at the time, and the
LOCATION_MISMATCH rule reads it with an index instead of recomputing great circles over
every event of the database.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hazwaste.manifests.models import EventKind

if TYPE_CHECKING:
    from hazwaste.accounts.models import Organization
    from hazwaste.manifests.models import Manifest

EARTH_RADIUS_M = 6371000.0

#: Which party's site each hand-off kind is expected at.
EXPECTED_SITE = {
    EventKind.PICKED_UP: "producer",
    EventKind.DELIVERED: "receiver",
    EventKind.RECEIVED: "receiver",
    EventKind.REJECTED: "receiver",
}


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """Great-circle distance in whole metres (haversine on a sphere of radius 6,371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a))))


def expected_site(manifest: Manifest, kind: EventKind) -> Organization | None:
    """The organization whose site the hand-off should happen at, or None for other kinds."""
    party = EXPECTED_SITE.get(kind)
    if party is None:
        return None
    return manifest.producer if party == "producer" else manifest.receiver


def site_distance_m(
    manifest: Manifest, kind: EventKind, latitude: float | None, longitude: float | None
) -> int | None:
    """Metres between the reported position and the expected site; None when either the
    position or the site's registered coordinates are unknown, or the kind has no site."""
    site = expected_site(manifest, kind)
    if site is None or latitude is None or longitude is None:
        return None
    if site.latitude is None or site.longitude is None:
        return None
    return distance_m(latitude, longitude, site.latitude, site.longitude)
