"""The instructor dashboard's plots, drawn on the server with matplotlib as inline SVG.

Each function takes the dashboard data of one lab (the ``Dashboard`` schema of
``openapi.yaml``, as :func:`ai4scale.hub.course._reports.dashboard` returns it)
and returns an SVG string ready to put in a page, or ``None`` when there is
nothing to draw yet (the page says so in words instead). Text stays text in
the SVG (``svg.fonttype = "none"``), so screen readers and page search find
it; every plot also has a caption and a table of its numbers in the page.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from xml.sax.saxutils import quoteattr

__all__ = [
    "dashboard_plots",
    "plot_late",
    "plot_mean_per_item",
    "plot_score_distribution",
    "plot_submissions_over_time",
]

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
_BLUE, _ORANGE, _VERMILLION, _GREEN, _GREY = "#0072B2", "#E69F00", "#D55E00", "#009E73", "#999999"

#: Below this share of the points, a question counts as hard (drawn in another colour).
HARD_SHARE = 0.5

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "ai4scale-course",  # stable element ids: same data, same bytes
    "font.family": "sans-serif",
    "font.size": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
}


def _figure(width=6.4, height=3.2):
    # Figure without pyplot: no global state, safe in the service's worker threads.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig, label):
    """Return ``fig`` as an inline SVG element labelled ``label`` for assistive technology."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]  # drop the XML declaration and DOCTYPE
    # Scale with the page (CSS sets the width); the viewBox keeps the proportions.
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", text, count=1)
    return text.replace(
        "<svg", f'<svg role="img" aria-label={quoteattr(label)} class="course-plot"', 1
    )


def _parse(when):
    value = dt.datetime.fromisoformat(when)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _draw(draw, *args, width=6.4, height=3.2):
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig = _figure(width, height)
        label = draw(fig, *args)
        return _svg(fig, label)


def plot_submissions_over_time(data):
    """Cumulative number of learners (or teams) who have submitted, over time.

    A dashed line marks everyone the lab is released to, a vertical line the due date.

    Parameters
    ----------
    data : dict
        The lab's dashboard data.

    Returns
    -------
    str or None
        Inline SVG, or None before the first submission.
    """
    points = data.get("submissions_over_time") or []
    if not points:
        return None

    def draw(fig):
        import matplotlib.dates as mdates

        ax = fig.add_subplot()
        times = [_parse(p["time"]) for p in points]
        counts = [p["submitted"] for p in points]
        # Start the line at zero just before the first submission, so one point is a step.
        times = [times[0] - dt.timedelta(minutes=1), *times]
        counts = [0, *counts]
        end = max(times[-1], dt.datetime.now(dt.UTC))
        due = _parse(data["due"]) if data.get("due") else None
        if due is not None:
            end = max(end, due)
        ax.step([*times, end], [*counts, counts[-1]], where="post", color=_BLUE, linewidth=2)
        owners = data.get("owners") or 0
        if owners:
            ax.axhline(owners, color=_GREY, linestyle="--", linewidth=1)
            ax.annotate(
                f"everyone ({owners})",
                (times[0], owners),
                xytext=(2, 3),
                textcoords="offset points",
                color="#555555",
                fontsize=9,
            )
        if due is not None:
            ax.axvline(due, color=_VERMILLION, linestyle=":", linewidth=1.5)
            ax.annotate(
                "due",
                (due, 0),
                xytext=(3, 3),
                textcoords="offset points",
                color=_VERMILLION,
                fontsize=9,
            )
        ax.set_ylim(0, max(owners, counts[-1]) * 1.12 + 0.5)
        ax.yaxis.get_major_locator().set_params(integer=True)
        locator = mdates.AutoDateLocator(maxticks=6)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_xlabel("time (UTC)")
        ax.set_ylabel("have submitted")
        ax.set_title("Submission progress")
        from ai4scale.grading.feedback import when

        verb = "has" if counts[-1] == 1 else "have"
        return f"Submission progress: {counts[-1]} of {owners or counts[-1]} {verb} submitted" + (
            f", due {when(due)}" if due else ""
        )

    return _draw(draw)


def plot_score_distribution(data):
    """Histogram of the total scores of the graded submissions.

    Parameters
    ----------
    data : dict
        The lab's dashboard data.

    Returns
    -------
    str or None
        Inline SVG, or None before anything is graded.
    """
    dist = data.get("score_distribution") or {}
    counts, edges = dist.get("counts") or [], dist.get("bins") or []
    if not counts or not sum(counts) or len(edges) != len(counts) + 1:
        return None

    def draw(fig):
        ax = fig.add_subplot()
        widths = [b - a for a, b in zip(edges, edges[1:], strict=False)]
        ax.bar(edges[:-1], counts, width=widths, align="edge", color=_BLUE, edgecolor="white")
        scores = dist.get("scores") or []
        if scores:
            mean = sum(scores) / len(scores)
            ax.axvline(mean, color=_ORANGE, linewidth=2)
            # Label on the side with room: left of the line when it is near the right edge.
            right = mean > edges[0] + 0.7 * (edges[-1] - edges[0])
            ax.annotate(
                f"mean {mean:.3g}",
                (mean, max(counts)),
                xytext=(-4 if right else 4, 4),
                textcoords="offset points",
                ha="right" if right else "left",
                color="#8a5a00",
                fontsize=9,
            )
        ax.set_ylim(0, max(counts) * 1.15)
        ax.set_xlim(edges[0], edges[-1])
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel(f"total score (points, out of {edges[-1]:g})")
        ax.set_ylabel("submissions")
        ax.set_title("Score distribution")
        return f"Score distribution of {sum(counts)} graded submissions, out of {edges[-1]:g}"

    return _draw(draw)


def plot_mean_per_item(data):
    """Mean score of each question as a share of its points: which questions were hard.

    Parameters
    ----------
    data : dict
        The lab's dashboard data.

    Returns
    -------
    str or None
        Inline SVG, or None when no question has a grade yet.
    """
    items = [i for i in data.get("mean_per_item") or [] if i.get("max_points")]
    if not any(i.get("mean") is not None for i in items):
        return None

    def draw(fig):
        ax = fig.add_subplot()
        labels = [i["grade_id"] for i in items]
        shares = [(i["mean"] or 0) / i["max_points"] * 100 for i in items]
        colours = [
            _GREY if i["mean"] is None else _VERMILLION if s < HARD_SHARE * 100 else _GREEN
            for i, s in zip(items, shares, strict=True)
        ]
        rows = list(range(len(items)))
        ax.barh(rows, shares, color=colours)
        ax.set_yticks(rows, labels)
        ax.invert_yaxis()  # first question on top, in notebook order
        for row, item, share in zip(rows, items, shares, strict=True):
            text = (
                "not graded"
                if item["mean"] is None
                else f"{item['mean']:.2g} / {item['max_points']:g}"
            )
            ax.annotate(
                text,
                (share, row),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=9,
            )
        ax.axvline(HARD_SHARE * 100, color=_GREY, linestyle="--", linewidth=1)
        ax.set_xlim(0, 118)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.set_xlabel("mean score (% of the question's points)")
        ax.set_title("Mean score per question")
        hard = [
            i["grade_id"]
            for i, s in zip(items, shares, strict=True)
            if i["mean"] is not None and s < HARD_SHARE * 100
        ]
        return "Mean score per question" + (
            f"; hardest: {', '.join(hard)}" if hard else "; no question below half the points"
        )

    return _draw(draw, height=max(2.4, 0.45 * len(items) + 1.2))


def plot_late(data):
    """Learners (or teams) by their newest submission: on time, late, or none yet.

    Parameters
    ----------
    data : dict
        The lab's dashboard data.

    Returns
    -------
    str or None
        Inline SVG, or None when the lab is released to nobody and nobody submitted.
    """
    owners = data.get("owners") or 0
    submitted = data.get("submitted") or 0
    late = data.get("late") or 0
    if not owners and not submitted:
        return None
    values = [submitted - late, late, max(owners - submitted, 0)]
    labels = ["on time", "late", "not submitted"]

    def draw(fig):
        ax = fig.add_subplot()
        bars = ax.bar(labels, values, color=[_GREEN, _VERMILLION, _GREY])
        ax.bar_label(bars, padding=2)
        ax.set_ylim(0, max(values) * 1.2 + 0.5)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel("learners or teams")
        ax.set_title("Late submissions")
        return f"{values[0]} on time, {values[1]} late, {values[2]} not submitted"

    return _draw(draw)


def dashboard_plots(data):
    """Return every plot of the dashboard: ``{name: svg or None}``.

    Parameters
    ----------
    data : dict
        The lab's dashboard data.

    Returns
    -------
    dict
        Keys ``progress``, ``scores``, ``items``, ``late``.
    """
    return {
        "progress": plot_submissions_over_time(data),
        "scores": plot_score_distribution(data),
        "items": plot_mean_per_item(data),
        "late": plot_late(data),
    }
