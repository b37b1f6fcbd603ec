"""Inline SVG bar charts (no JavaScript, no external assets).

Values are exact ``Decimal`` kg; only the drawing coordinates are floats. The y axis is in
tonnes with "nice" ticks (1, 2 or 5 × 10ⁿ); every bar has a ``<title>`` with its exact value
so hovering shows it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

from hazwaste.db import KG_PER_TONNE

#: Colour-blind-safe palette (Okabe–Ito) for up to four series.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7")
WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 36, 44


def nice_step(maximum: float, ticks: int = 5) -> float:
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power  # pragma: no cover


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == 0 else f"{value:g}"


def bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Decimal]]],
    *,
    title: str,
    unit: str,
    value_text: str = "{name} {label}: {value} t",
) -> Markup:
    """Grouped bars: one group per label (month), one bar per series. Values in kg, drawn in
    tonnes. ``unit`` is the axis caption (already translated)."""
    tonnes = [[float(v / KG_PER_TONNE) for v in values] for _n, values in series]
    top = max([max(vals, default=0.0) for vals in tonnes] + [0.0])
    step = nice_step(top)
    y_max = step * max(1, math.ceil(top / step)) if top > 0 else step * 5
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    groups = max(1, len(labels))
    group_w = plot_w / groups
    bar_w = max(2.0, (group_w * 0.8) / max(1, len(series)))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="14" class="chart-unit">{escape(unit)}</text>',
    ]
    tick = 0.0
    while tick <= y_max + 1e-9:
        y = TOP + plot_h - tick / y_max * plot_h
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{_fmt(tick)}</text>"
        )
        tick += step
    every = max(1, math.ceil(groups / 12))
    for gi, label in enumerate(labels):
        x0 = LEFT + gi * group_w + group_w * 0.1
        for si, (name, _values) in enumerate(series):
            value = tonnes[si][gi]
            h = value / y_max * plot_h
            exact = series[si][1][gi] / KG_PER_TONNE
            text = value_text.format(name=name, label=label, value=format(exact.normalize(), "f"))
            parts.append(
                f'<rect x="{x0 + si * bar_w:.1f}" y="{TOP + plot_h - h:.1f}" '
                f'width="{bar_w - 1:.1f}" height="{h:.1f}" fill="{PALETTE[si % len(PALETTE)]}">'
                f"<title>{escape(text)}</title></rect>"
            )
        if gi % every == 0:
            parts.append(
                f'<text x="{LEFT + gi * group_w + group_w / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="middle" class="tick">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'class="axis"/>'
    )
    lx = LEFT
    for si, (name, _values) in enumerate(series):
        parts.append(
            f'<rect x="{lx}" y="{HEIGHT - 16}" width="12" height="12" '
            f'fill="{PALETTE[si % len(PALETTE)]}"/>'
            f'<text x="{lx + 16}" y="{HEIGHT - 6}" class="legend">{escape(name)}</text>'
        )
        lx += 40 + sum(12 if ord(c) > 0x2E7F else 7 for c in name)
    if not labels:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" class="tick">'
            "—</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def sankey(
    sources: Sequence[tuple[int, str]],
    targets: Sequence[tuple[int, str]],
    flows: dict[tuple[int, int], Decimal],
    *,
    title: str,
) -> Markup:
    """A two-column Sankey: sources (left) to targets (right), band width ∝ tonnes.

    Node heights are each node's total; bands leave and arrive stacked in the order of the
    other column, so they do not cross needlessly. Every band has a ``<title>`` with its
    exact tonnage.
    """
    width, node_w, gap, top, label_w = 760, 14, 14, 10, 250
    total = float(sum(flows.values(), Decimal(0)))
    if total <= 0:
        return Markup("")
    count = max(len(sources), len(targets))
    height = max(160, 40 * count + 40)
    usable = height - 2 * top - gap * (count - 1)
    scale = usable / total

    def totals(index: int) -> dict[int, float]:
        out: dict[int, float] = {}
        for key, value in flows.items():
            out[key[index]] = out.get(key[index], 0.0) + float(value)
        return out

    src_tot, dst_tot = totals(0), totals(1)
    x_left, x_right = label_w, width - label_w

    def place(nodes: Sequence[tuple[int, str]], tot: dict[int, float]) -> dict[int, float]:
        y, pos = float(top), {}
        for node_id, _name in nodes:
            pos[node_id] = y
            y += tot.get(node_id, 0.0) * scale + gap
        return pos

    src_y, dst_y = place(sources, src_tot), place(targets, dst_tot)
    parts = [
        f'<svg class="chart sankey" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    src_off = dict(src_y)
    dst_off = dict(dst_y)
    order = {node_id: i for i, (node_id, _n) in enumerate(targets)}
    for s_id, _s in sources:
        for (a, b), value in sorted(flows.items(), key=lambda kv: order.get(kv[0][1], 0)):
            if a != s_id or value <= 0:
                continue
            h = float(value) * scale
            y0, y1 = src_off[a], dst_off[b]
            src_off[a] += h
            dst_off[b] += h
            xa, xb = x_left + node_w, x_right
            mid = (xa + xb) / 2
            tonnes = format((value / KG_PER_TONNE).normalize(), "f")
            parts.append(
                f'<path d="M{xa},{y0:.1f} C{mid},{y0:.1f} {mid},{y1:.1f} {xb},{y1:.1f} '
                f'L{xb},{y1 + h:.1f} C{mid},{y1 + h:.1f} {mid},{y0 + h:.1f} {xa},{y0 + h:.1f} Z" '
                f'fill="{PALETTE[list(src_y).index(a) % len(PALETTE)]}" fill-opacity="0.35">'
                f"<title>{tonnes} t</title></path>"
            )
    for nodes, pos, tot, x, anchor, tx in (
        (sources, src_y, src_tot, x_left, "end", x_left - 6),
        (targets, dst_y, dst_tot, x_right, "start", x_right + node_w + 6),
    ):
        for i, (node_id, name) in enumerate(nodes):
            h = tot.get(node_id, 0.0) * scale
            colour = PALETTE[i % len(PALETTE)] if nodes is sources else "#5b6573"
            tonnes = f"{tot.get(node_id, 0.0) / 1000:,.3f}".rstrip("0").rstrip(".")
            parts.append(
                f'<rect x="{x}" y="{pos[node_id]:.1f}" width="{node_w}" height="{max(h, 1):.1f}" '
                f'fill="{colour}"/><text x="{tx}" y="{pos[node_id] + h / 2:.1f}" '
                f'text-anchor="{anchor}" class="legend">{escape(name)}'
                f'<tspan x="{tx}" dy="14" class="tick">{tonnes} t</tspan></text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
