"""Bar charts of inspection results, drawn on matplotlib's Agg canvas (no display needed;
the global pyplot backend of a notebook is left alone).

Examples
--------
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "bars.png")
>>> grouped_bars(path, ["a", "b"], {"n": [3, 1]}, "title", "count").stat().st_size > 0
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from lester.errors import LesterError


class PlotError(LesterError, ImportError):
    """Plotting needs matplotlib (``pip install 'lester[plot]'``)."""


def grouped_bars(
    path: str | Path,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    title: str,
    ylabel: str,
) -> Path:
    """Draw one group of bars per category, one bar per series, and save it to ``path``."""
    path = Path(path)
    width = 0.8 / max(len(series), 1)
    figure = _agg_figure(figsize=(min(16.0, max(4.0, 1.2 * len(categories) + 2)), 3.5))
    axes = figure.subplots()
    for index, (label, values) in enumerate(series.items()):
        offsets = [i + (index - (len(series) - 1) / 2) * width for i in range(len(categories))]
        bars = axes.bar(offsets, values, width, label=label)
        axes.bar_label(bars, labels=[_number(value) for value in values], fontsize=8)
    rotation = 45 if len(categories) > 8 else 0
    axes.set_xticks(range(len(categories)), [str(c) for c in categories], rotation=rotation)
    axes.set_title(title, fontsize=10)
    axes.set_ylabel(ylabel)
    if len(series) > 1:
        axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path


def _number(value: float) -> str:
    """``2,414`` for counts, ``0.238`` for rates."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:.3f}"


def _agg_figure(**options: object):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotError("plots need matplotlib: pip install 'lester[plot]'") from None
    figure = Figure(**options)
    FigureCanvasAgg(figure)
    return figure
