"""Small plotting helpers: figures made without pyplot, safe on the Agg backend."""

from __future__ import annotations

import numpy as np

__all__ = ["bar_by_group", "new_figure"]


def new_figure(n_panels=1, *, cols=3, width=4.2, height=3.2):
    """Return a figure with `n_panels` side by side (wrapped by three) and its axes.

    Parameters
    ----------
    n_panels : int, default 1
        Number of plots.
    cols : int, default 3
        Plots per row at most.
    width, height : float
        Size of one plot, in inches.

    Returns
    -------
    (matplotlib.figure.Figure, list of matplotlib.axes.Axes)

    Examples
    --------
    >>> fig, axes = new_figure(2)
    >>> len(axes)
    2
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = max(int(n_panels), 1)
    cols = min(n, cols)
    rows = -(-n // cols)
    fig = Figure(figsize=(width * cols, height * rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def bar_by_group(ax, groups, values, *, low=None, high=None, title=None, ylabel=None):
    """Draw one bar per group, with an interval when `low` and `high` are given.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    groups : sequence of str
        Bar labels.
    values : sequence of float
        Bar heights.
    low, high : sequence of float, optional
        Lower and upper ends of each bar's confidence interval.
    title, ylabel : str, optional
        Labels.

    Examples
    --------
    >>> fig, (ax,) = new_figure()
    >>> bar_by_group(ax, ["a", "b"], [0.2, 0.4], low=[0.1, 0.3], high=[0.3, 0.5])
    """
    labels = [str(g) for g in groups]
    values = np.asarray(values, dtype=float)
    x = np.arange(len(labels))
    yerr = None
    if low is not None and high is not None:
        yerr = np.vstack(
            [values - np.asarray(low, dtype=float), np.asarray(high, dtype=float) - values]
        )
        yerr = np.clip(np.nan_to_num(yerr), 0, None)
    ax.bar(x, values, yerr=yerr, capsize=3, color="#4C72B0")
    long = max(map(len, labels), default=0) > 6
    ax.set_xticks(x, labels, rotation=30 if long else 0, ha="right" if long else "center")
    if title:
        ax.set_title(str(title))
    if ylabel:
        ax.set_ylabel(ylabel)
