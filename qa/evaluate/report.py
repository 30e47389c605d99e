"""Write an evaluation run's results to a folder: results.jsonl, summary.md and chart.png.

matplotlib is imported lazily, only to draw the chart; without it the chart is skipped with a warning.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["write_report"]


def _fmt(value: Any) -> str:
    """A summary value as table text: floats to 3 decimals, None as "n/a", pipes escaped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _unit_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The metrics that are real numbers within 0..1 (booleans excluded): the ones the chart shows."""
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v) and 0 <= v <= 1
    }


def _markdown(title: str, summary: dict[str, Any]) -> str:
    metrics: dict[str, Any] = summary.get("metrics") or {}
    targets: dict[str, Any] = summary.get("targets") or {}
    settings: dict[str, Any] = summary.get("settings") or {}
    lines = [f"# {title}", ""]
    for key, value in summary.items():  # scalars such as n, model, date
        if key not in {"metrics", "targets", "settings", "abstention_tradeoff"}:
            lines.append(f"- **{key}**: {_fmt(value)}")
    if lines[-1]:
        lines.append("")
    lines += ["## Metrics", ""]
    if targets:
        lines += ["| Metric | Value | Target |", "|---|---:|---:|"]
        lines += [f"| {k} | {_fmt(v)} | {_fmt(targets.get(k, ''))} |" for k, v in metrics.items()]
    else:
        lines += ["| Metric | Value |", "|---|---:|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in metrics.items()]
    tradeoff = summary.get("abstention_tradeoff") or []
    if tradeoff:
        columns = list(tradeoff[0])
        lines += ["", "## Abstention trade-off (normal answers, by min_relevance)", ""]
        lines += ["| " + " | ".join(columns) + " |", "|" + "---:|" * len(columns)]
        lines += ["| " + " | ".join(_fmt(row[c]) for c in columns) + " |" for row in tradeoff]
    lines += ["", "## Settings", ""]
    lines += [f"- **{k}**: {_fmt(v)}" for k, v in settings.items()] or ["(none)"]
    return "\n".join(lines) + "\n"


def _chart(path: Path, title: str, metrics: dict[str, float], targets: dict[str, Any]) -> bool:
    """Draw a horizontal bar chart of the 0..1 metrics with target marks; False if matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        log.warning("matplotlib is not installed; %s not written", path.name)
        return False
    names = list(metrics)
    fig = Figure(figsize=(7, 1.2 + 0.45 * max(len(names), 1)))
    FigureCanvasAgg(fig)  # Agg without touching pyplot's global backend
    ax = fig.add_subplot()
    if names:
        ys = range(len(names))
        ax.barh(list(ys), [metrics[n] for n in names], color="#4c72b0")
        ax.set_yticks(list(ys), names)
        ax.invert_yaxis()
        labelled = False
        for y, name in zip(ys, names, strict=True):
            ax.text(min(metrics[name] + 0.01, 0.93), y, f"{metrics[name]:.2f}", va="center", fontsize=8)
            target = targets.get(name)
            if isinstance(target, (int, float)) and not isinstance(target, bool):
                ax.vlines(
                    target,
                    y - 0.4,
                    y + 0.4,
                    colors="#c44e52",
                    linestyles="--",
                    zorder=3,
                    label=None if labelled else "target",
                )
                labelled = True
        if labelled:
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no 0..1 metrics", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_xlim(0, 1)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def write_report(
    folder: Path, rows: list[dict[str, Any]], summary: dict[str, Any], title: str
) -> dict[str, Path | None]:
    """Write ``results.jsonl``, ``summary.md`` and ``chart.png`` into ``folder`` (created if needed).

    ``rows`` are the per-question results, one JSON object per line. ``summary`` holds ``metrics``
    (name -> value), optional ``targets`` (name -> target value, drawn as dashed lines on the chart),
    ``settings`` (listed under "Settings") and any other scalars (listed at the top). The chart shows the
    metrics whose values lie within 0..1. Returns the written paths; ``chart`` is None when matplotlib is
    not installed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    results = folder / "results.jsonl"
    with results.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    summary_md = folder / "summary.md"
    summary_md.write_text(_markdown(title, summary), encoding="utf-8")
    chart = folder / "chart.png"
    metrics = _unit_metrics(summary.get("metrics") or {})
    drawn = _chart(chart, title, metrics, summary.get("targets") or {})
    return {"results": results, "summary": summary_md, "chart": chart if drawn else None}
