"""The dashboard's chart of outcomes over time, drawn on the server as SVG (no CDN, no JS)."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from django_qstash.results.metrics import Bucket

#: Stacked bottom to top; the colours read on light and dark admin themes alike.
SERIES: tuple[tuple[str, str, str], ...] = (
    ("SUCCESS", "success", "#2e9e4f"),
    ("RETRY", "retry", "#e69500"),
    ("FAILURE", "failure", "#d93838"),
    ("STARTED", "started", "#3d8bd9"),
    ("PENDING", "pending", "#8c8c8c"),
)
WIDTH, HEIGHT = 960, 220
LEFT, BOTTOM, TOP = 44, 24, 10
X_LABELS = 6


def _label(bucket: Bucket, bucket_seconds: int) -> str:
    return bucket.start.strftime("%H:%M" if bucket_seconds < 86400 / 4 else "%b %d %H:%M")


def outcomes_svg(buckets: Sequence[Bucket], bucket_seconds: int) -> SafeString:
    """Stacked bars of outcomes per bucket, with a legend, axis labels and a tooltip per bar."""
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    peak = max((sum(b.counts.values()) for b in buckets), default=0) or 1
    slot = plot_w / max(len(buckets), 1)
    bar = max(slot * 0.8, 1.0)
    parts = [
        f'<svg class="dqr-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Outcomes over time" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="none">',
        f'<line class="dqr-axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 8}" '
        f'y2="{TOP + plot_h}" />',
        f'<text class="dqr-tick" x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end">{peak}</text>',
        f'<text class="dqr-tick" x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for index, bucket in enumerate(buckets):
        x = LEFT + index * slot + (slot - bar) / 2
        y = float(TOP + plot_h)
        total = sum(bucket.counts.values())
        tip = ", ".join(
            f"{bucket.counts[s]} {label}" for s, label, _ in SERIES if bucket.counts.get(s)
        )
        parts.append(
            f"<g><title>{escape(_label(bucket, bucket_seconds))}: {escape(tip or 'none')}</title>"
        )
        for status, label, colour in SERIES:
            count = bucket.counts.get(status, 0)
            if not count:
                continue
            height = plot_h * count / peak
            y -= height
            parts.append(
                f'<rect class="dqr-{label}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" fill="{colour}" />'
            )
        if not total:  # an empty slot still takes the tooltip
            parts.append(
                f'<rect x="{x:.1f}" y="{TOP}" width="{bar:.1f}" height="{plot_h}" '
                f'fill="transparent" />'
            )
        parts.append("</g>")
    step = max(len(buckets) // X_LABELS, 1)
    for index in range(0, len(buckets), step):
        x = LEFT + index * slot + slot / 2
        parts.append(
            f'<text class="dqr-tick" x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
            f"{escape(_label(buckets[index], bucket_seconds))}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def legend() -> list[tuple[str, str]]:
    """(label, colour) of each series, for the template's legend."""
    return [(label, colour) for _, label, colour in SERIES]
