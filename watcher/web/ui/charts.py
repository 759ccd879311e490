"""A trial's three timelines as server-side SVG: status swimlane, enrollment steps,
planned completion dates against version dates.

Why hand-written SVG rather than a chart library: three small charts need a
linear scale, year ticks, rectangles, polylines and circles - about 200 lines.
The maintained Python chart libraries either draw with matplotlib (a large
dependency, slow to import, raster-minded, fonts and styles inline) or emit
SVG that carries inline ``<script>``/``style`` which our Content-Security-Policy
forbids (pygal). Writing the primitives keeps the output small, styled only
by the package's CSS classes (so print and dark colours come from one file),
readable without JavaScript, and reusable in a digest later. Every piece of
record text that reaches a chart (a status word) is escaped here.

Each chart marks its data with classes tests and readers can count:
``rect.seg`` (one per version in the swimlane), ``circle.pt.target`` /
``circle.pt.actual`` (one per version that states that enrollment) and
``circle.pt.primary`` / ``circle.pt.completion`` (one per version that states
that date). ``<title>`` children give every mark its words on hover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from markupsafe import Markup

from watcher.core.describe import STATUS_PATH, display_value
from watcher.core.timeline import parse_day
from watcher.store.timeline import StoryVersion

WIDTH = 720
LEFT, RIGHT, TOP, BOTTOM = 140, 16, 12, 28
LANE = 22


def _e(text: object) -> str:
    return escape(str(text), quote=True)


@dataclass(frozen=True)
class _Linear:
    """Maps a domain of numbers onto a range of pixels."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, value: float) -> float:
        span = self.d1 - self.d0 or 1.0
        return round(self.r0 + (value - self.d0) * (self.r1 - self.r0) / span, 1)


def _ordinal(day: date) -> float:
    return float(day.toordinal())


def _days(versions: Sequence[StoryVersion]) -> list[date]:
    out = []
    for v in versions:
        day = parse_day(v.date)
        out.append(day if day is not None else date(1970, 1, 1))
    return out


def _time_axis(start: date, end: date, scale: _Linear, y: float) -> list[str]:
    """Year ticks (every n years so at most ~8 labels) along ``y``."""
    parts = [f'<line class="axis" x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}"/>']
    years = range(start.year + (start > date(start.year, 1, 1)), end.year + 1)
    step = max(1, len(years) // 8 + (len(years) % 8 > 0))
    for year in years[::step]:
        x = scale(_ordinal(date(year, 1, 1)))
        parts.append(f'<line class="tick" x1="{x}" y1="{TOP}" x2="{x}" y2="{y}"/>')
        parts.append(f'<text class="label" x="{x}" y="{y + 16}" text-anchor="middle">{year}</text>')
    return parts


def _span(days: Sequence[date]) -> tuple[date, date]:
    start, end = min(days), max(days)
    if end - start < timedelta(days=60):
        start, end = start - timedelta(days=30), end + timedelta(days=30)
    return start, end


def _svg(name: str, height: float, parts: Sequence[str]) -> Markup:
    body = "".join(parts)
    return Markup(  # noqa: S704 - every record text inside went through _e
        f'<svg class="chart chart-{name}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{_e(name)} chart" preserveAspectRatio="xMinYMin meet">{body}</svg>'
    )


def status_chart(versions: Sequence[StoryVersion], today: date) -> Markup:
    """One lane per status (in order of first appearance), a bar per version from its
    date to the next version's (the newest to ``today``)."""
    days = _days(versions)
    statuses = list(dict.fromkeys(v.facts.status or "UNKNOWN" for v in versions))
    start, end = _span([*days, max(today, *days)])
    height = TOP + LANE * len(statuses) + BOTTOM
    scale = _Linear(_ordinal(start), _ordinal(end), LEFT, WIDTH - RIGHT)
    axis_y = TOP + LANE * len(statuses)
    parts = _time_axis(start, end, scale, axis_y)
    for lane, status in enumerate(statuses):
        words = display_value(STATUS_PATH, status) if status != "UNKNOWN" else "Unknown"
        y = TOP + lane * LANE
        parts.append(
            f'<text class="label lane" x="{LEFT - 6}" y="{y + LANE / 2 + 4}" '
            f'text-anchor="end">{_e(words)}</text>'
        )
    for index, version in enumerate(versions):
        status = version.facts.status or "UNKNOWN"
        lane = statuses.index(status)
        x0 = scale(_ordinal(days[index]))
        following = days[index + 1] if index + 1 < len(versions) else max(today, days[index])
        x1 = max(scale(_ordinal(following)), x0 + 2)
        words = display_value(STATUS_PATH, status) if status != "UNKNOWN" else "Unknown"
        tip = f"{version.ref} {version.date}: {words}"
        parts.append(
            f'<rect class="seg s-{_e(status.lower())}" x="{x0}" y="{TOP + lane * LANE + 3}" '
            f'width="{round(x1 - x0, 1)}" height="{LANE - 6}"><title>{_e(tip)}</title></rect>'
        )
    return _svg("status", height, parts)


def _value_axis(
    low: float, high: float, scale: _Linear, labels: Sequence[tuple[float, str]]
) -> list[str]:
    parts = [f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{scale(low)}"/>']
    for value, text in labels:
        y = scale(value)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}"/>')
        parts.append(
            f'<text class="label" x="{LEFT - 6}" y="{y + 4}" text-anchor="end">{_e(text)}</text>'
        )
    return parts


def _nice_counts(high: int) -> list[int]:
    if high <= 0:
        return [0]
    raw = high / 4
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, high + step, step))


def _steps(points: Sequence[tuple[float, float]], end_x: float) -> str:
    """A step path: hold each value until the next point, the last to ``end_x``."""
    first_x, first_y = points[0]
    path = [f"M{first_x},{first_y}"] + [f"H{x}V{y}" for x, y in points[1:]]
    return "".join([*path, f"H{end_x}"])


def _empty(what: str, height: float) -> str:
    """A line in the middle of a chart with nothing to draw."""
    middle = (LEFT + WIDTH - RIGHT) / 2
    return (
        f'<text class="label empty" x="{middle}" y="{(height - BOTTOM) / 2}" '
        f'text-anchor="middle">{_e(what)} is not stated in any stored version</text>'
    )


def enrollment_chart(versions: Sequence[StoryVersion], today: date) -> Markup:
    """Target (ESTIMATED) and actual (ACTUAL) enrollment as two step lines over versions."""
    days = _days(versions)
    start, end = _span([*days, max(today, *days)])
    height = 220
    counts = [v.facts.enrollment for v in versions if v.facts.enrollment is not None]
    ticks = _nice_counts(max(counts, default=0))
    x = _Linear(_ordinal(start), _ordinal(end), LEFT, WIDTH - RIGHT)
    y = _Linear(0, ticks[-1] or 1, height - BOTTOM, TOP)
    parts = _value_axis(0, ticks[-1], y, [(t, f"{t:,}") for t in ticks])
    parts += _time_axis(start, end, x, height - BOTTOM)
    for series, wanted in (("target", "ESTIMATED"), ("actual", "ACTUAL")):
        points: list[tuple[float, float]] = []
        marks = []
        until = x(_ordinal(end))  # held until the series stops being stated
        for index, (day, version) in enumerate(zip(days, versions, strict=True)):
            facts = version.facts
            if facts.enrollment is None or (facts.enrollment_type or "ESTIMATED") != wanted:
                continue
            point = (x(_ordinal(day)), y(facts.enrollment))
            points.append(point)
            following = days[index + 1] if index + 1 < len(days) else end
            until = x(_ordinal(following))
            tip = f"{version.ref} {version.date}: {series} {facts.enrollment:,}"
            marks.append(
                f'<circle class="pt {series}" cx="{point[0]}" cy="{point[1]}" r="3">'
                f"<title>{_e(tip)}</title></circle>"
            )
        if points:
            parts.append(f'<path class="line {series}" d="{_steps(points, until)}"/>')
            parts += marks
    if not counts:
        parts.append(_empty("Enrollment", height))
    return _svg("enrollment", height, parts)


def dates_chart(versions: Sequence[StoryVersion], today: date, due: date | None) -> Markup:
    """Planned primary completion (and completion) date of each version against the
    version's date: a date that keeps slipping reads as a rising line. A dashed line
    marks the results due date when one applies, a diagonal where planned = version date."""
    days = _days(versions)
    start, end = _span([*days, max(today, *days)])
    planned: list[date] = []
    for version in versions:
        for value in (version.facts.primary_completion, version.facts.completion):
            day = value.day if value is not None else None
            if day is not None:
                planned.append(day)
    low, high = _span([*planned, *([due] if due else []), start] if planned else [start, end])
    height = 240
    x = _Linear(_ordinal(start), _ordinal(end), LEFT, WIDTH - RIGHT)
    y = _Linear(_ordinal(low), _ordinal(high), height - BOTTOM, TOP)
    years = range(low.year + 1, high.year + 1)
    step = max(1, -(-len(years) // 6))
    labels = [(_ordinal(date(yr, 1, 1)), str(yr)) for yr in years[::step]]
    parts = _value_axis(_ordinal(low), _ordinal(high), y, labels)
    parts += _time_axis(start, end, x, height - BOTTOM)
    d0, d1 = max(start, low), min(end, high)
    if d0 < d1:
        parts.append(
            f'<line class="diagonal" x1="{x(_ordinal(d0))}" y1="{y(_ordinal(d0))}" '
            f'x2="{x(_ordinal(d1))}" y2="{y(_ordinal(d1))}"/>'
        )
    if due is not None:
        dy = y(_ordinal(due))
        parts.append(f'<line class="due" x1="{LEFT}" y1="{dy}" x2="{WIDTH - RIGHT}" y2="{dy}"/>')
        parts.append(
            f'<text class="label due-label" x="{WIDTH - RIGHT - 4}" y="{dy - 4}" '
            f'text-anchor="end">results due {due.isoformat()}</text>'
        )
    for series in ("primary", "completion"):
        parts += _planned_series(series, days, versions, x, y)
    if not planned:
        parts.append(_empty("A completion date", height))
    return _svg("dates", height, parts)


def _planned_series(
    series: str, days: Sequence[date], versions: Sequence[StoryVersion], x: _Linear, y: _Linear
) -> list[str]:
    """One planned date (``primary`` completion or ``completion``) as a line and a point
    per version that states it."""
    points: list[str] = []
    marks: list[str] = []
    name = "primary completion" if series == "primary" else "completion"
    for day, version in zip(days, versions, strict=True):
        facts = version.facts
        value = facts.primary_completion if series == "primary" else facts.completion
        planned_day = value.day if value is not None else None
        if value is None or planned_day is None:
            continue
        cx, cy = x(_ordinal(day)), y(_ordinal(planned_day))
        points.append(f"{cx},{cy}")
        kind = (value.type or "").lower()
        tip = f"{version.ref} {version.date}: {name} {value.date} {kind}".strip()
        marks.append(
            f'<circle class="pt {series}" cx="{cx}" cy="{cy}" r="3">'
            f"<title>{_e(tip)}</title></circle>"
        )
    if not points:
        return []
    return [f'<polyline class="line {series}" points="{" ".join(points)}"/>', *marks]
