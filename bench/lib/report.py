"""What a benchmark returns, and how the runner prints and saves it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Row:
    """One measured (case, target) pair.

    ``metrics`` keeps its insertion order; the table shows the union of every row's keys.
    A row naming a ``baseline`` (another target of the same case) gets a ratio column:
    its ``Report.ratio_metric`` divided by the baseline row's.
    """

    case: str
    target: str
    metrics: Mapping[str, float]
    baseline: str | None = None


@dataclass(frozen=True)
class Report:
    """A benchmark's result: rows, the metric its ratios compare, and notes for the reader."""

    title: str
    rows: Sequence[Row]
    ratio_metric: str | None = None
    notes: Sequence[str] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def ratio(self, row: Row) -> float | None:
        """``row``'s ratio metric over its baseline's, or ``None`` without a baseline."""
        if row.baseline is None or self.ratio_metric is None:
            return None
        for other in self.rows:
            if other.case == row.case and other.target == row.baseline:
                base = other.metrics.get(self.ratio_metric, math.nan)
                value = row.metrics.get(self.ratio_metric, math.nan)
                return value / base if base else math.nan
        return None


def _metric_names(rows: Sequence[Row]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row.metrics))
    return list(names)


def _format_number(value: float) -> str:
    if math.isnan(value):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if value == int(value) and abs(value) >= 100:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(report: Report) -> str:
    """The report's rows as an aligned plain-text (and Markdown-compatible) table."""
    metrics = _metric_names(report.rows)
    ratio_header = f"{report.ratio_metric} vs baseline" if report.ratio_metric else None
    header = ["case", "target", *metrics]
    if ratio_header and any(row.baseline for row in report.rows):
        header.append(ratio_header)
    lines: list[list[str]] = []
    for row in report.rows:
        cells = [row.case, row.target]
        cells += [_format_number(row.metrics.get(name, math.nan)) for name in metrics]
        if len(header) > len(cells):
            ratio = report.ratio(row)
            cells.append("" if ratio is None else f"{ratio:.2f}x ({row.baseline})")
        lines.append(cells)
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    numeric = [False, False, *([True] * len(metrics)), False]

    def render(cells: list[str]) -> str:
        padded = [
            cell.rjust(width) if numeric[i] else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (w + 1) + ":" if numeric[i] else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([render(header), rule, *(render(cells) for cells in lines)])


def as_json(report: Report) -> dict[str, Any]:
    """A JSON-ready copy of the report (NaN becomes ``None``)."""

    def clean(value: float) -> float | None:
        return None if math.isnan(value) else value

    return {
        "title": report.title,
        "parameters": dict(report.parameters),
        "ratio_metric": report.ratio_metric,
        "rows": [
            {
                "case": row.case,
                "target": row.target,
                "metrics": {k: clean(v) for k, v in row.metrics.items()},
                "baseline": row.baseline,
                "ratio": None if (r := report.ratio(row)) is None else clean(r),
            }
            for row in report.rows
        ],
        "notes": list(report.notes),
    }
