"""The items-synced-per-day chart, laid out in Python and drawn as SVG by a template.

The geometry lives here (so it is tested as numbers) and the template only writes rectangles
and labels: no JavaScript, no chart library, nothing fetched by the browser.
"""

from __future__ import annotations

from dataclasses import dataclass

from kitab.web.data import DayCount

#: the series, bottom to top, as (DayCount attribute, CSS class)
SERIES = (("created", "created"), ("updated", "updated"), ("pulled", "pulled"))


@dataclass(frozen=True)
class Segment:
    series: str
    y: float
    height: float
    count: int


@dataclass(frozen=True)
class Bar:
    day: DayCount
    x: float
    width: float
    segments: list[Segment]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int  # room for the scale's numbers
    plot_width: int  # the bars' area, right of the numbers, short of the last day's label
    bottom: int  # room for the day labels
    bars: list[Bar]
    ticks: list[tuple[float, int]]  # (y, value) of the scale's lines
    labelled: list[Bar]  # the bars whose day is written under them

    @property
    def empty(self) -> bool:
        return all(bar.day.total == 0 for bar in self.bars)


def nice_top(value: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value`` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def build_chart(days: list[DayCount], width: int = 640, height: int = 180) -> Chart:
    left, right, bottom, top_pad = 40, 24, 22, 8  # room for numbers, the last day, the days
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    top = nice_top(max((d.total for d in days), default=0))
    slot = plot_w / max(len(days), 1)
    scale = plot_h / top
    bars = []
    for n, day in enumerate(days):
        y = top_pad + plot_h
        segments = []
        for attribute, css in SERIES:
            count = getattr(day, attribute)
            if count:
                h = count * scale
                y -= h
                segments.append(Segment(css, round(y, 1), round(h, 1), count))
        bars.append(
            Bar(day, round(left + n * slot + slot * 0.15, 1), round(slot * 0.7, 1), segments)
        )
    ticks = [(round(top_pad + plot_h - v * scale, 1), v) for v in sorted({0, top // 2, top})]
    every = max(1, len(days) // 6)
    labelled = [bar for n, bar in enumerate(bars) if (len(days) - 1 - n) % every == 0]
    return Chart(width, height, left, plot_w, bottom, bars, ticks, labelled)
