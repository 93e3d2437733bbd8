"""A bar chart of an assessment or a scan: the share of each level met, the level reached."""

from __future__ import annotations

import textwrap

from .levels import LEVELS


def plot_assessment(result, ax=None, *, title: str | None = None):
    """Draw the share of each level that is met, with the level reached highlighted.

    Args:
        result: an :class:`Assessment` or a :class:`ScanResult` (anything with ``level``
            and ``scores``).
        ax: a matplotlib Axes to draw on; a new figure when None.
        title: the chart title; a default names the level reached.

    Returns:
        The Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    numbers = [item.number for item in LEVELS]
    values = [float(result.scores.get(n, 0.0)) for n in numbers]
    colors = [
        "#2a9d8f" if n == result.level else ("#8ab6d6" if n < result.level else "#d0d0d0")
        for n in numbers
    ]
    bars = ax.bar(numbers, values, color=colors, edgecolor="#444444")
    for bar, value in zip(bars, values, strict=True):
        ax.annotate(
            f"{value:.0%}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax.set_xticks(numbers)
    ax.set_xticklabels([f"{n}\n{textwrap.fill(LEVELS[n].name, 16)}" for n in numbers], fontsize=8)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("share of requirements met")
    ax.set_title(title or f"Maturity level reached: {result.level} ({LEVELS[result.level].name})")
    return ax
