"""What instructors read: per-owner status, the dashboard's data, the gradebook table."""

from __future__ import annotations

import io

from ._grading import _gradebook_lab

__all__ = ["dashboard", "gradebook_csv", "gradebook_table", "lab_status"]


def _iso(when):
    return when.isoformat() if when is not None else None


def _all_submissions(course, lab):
    """Return (submissions of every version, {submission id: total}) of a lab."""
    gb = course.gradebook
    scores = gb.scores(lab, current_only=False)
    totals = {row["submission"].id: row["total"] for row in scores}
    return [row["submission"] for row in scores], totals


def lab_status(course, lab, roster):
    """Return one row per owner: fetched, submitted, late, collected, score (``.../status``).

    Parameters
    ----------
    course : Course
    lab : str
    roster : Mapping[str, Iterable[str]]
        The owners the lab is released to: username -> [username] for an
        individual lab, team name -> members for a team lab. Owners who
        submitted without being in it are listed too.

    Returns
    -------
    list of dict
        As the ``OwnerStatus`` schema, sorted by owner.
    """
    glab = _gradebook_lab(course, lab)
    kind = "team" if glab.lab.team else "learner"
    gb = course.gradebook
    subs, totals = _all_submissions(course, lab)
    fetches = gb.fetches(lab)
    collected = {s.owner: s for s in gb.collected_submissions(lab) if s.owner_kind == kind}
    by_owner = {}
    for s in subs:
        if s.owner_kind == kind:
            by_owner.setdefault(s.owner, []).append(s)
    rows = []
    for owner in sorted(set(roster) | set(by_owner)):
        mine = sorted(by_owner.get(owner, []), key=lambda s: s.version)
        last = mine[-1] if mine else None
        fetch = fetches.get((kind, owner))
        col = collected.get(owner)
        rows.append(
            {
                "owner": owner,
                "kind": kind,
                "members": sorted(roster.get(owner, [owner] if kind == "learner" else [])),
                "fetched_at": _iso(fetch.fetched_at) if fetch else None,
                "submitted_at": _iso(last.submitted_at) if last else None,
                "submissions": len(mine),
                "late": bool(last and last.late),
                "collected": col is not None,
                "status": col.status if col else None,
                **_flag_summary(gb.submission_state(col.id)[1] if col else {}),
                "score": totals.get(col.id) if col else None,
                "max_score": float(glab.lab.points),
                "feedback_released_at": _iso(col.feedback_released_at) if col else None,
            }
        )
    return rows


def _flag_summary(flags):
    """Return what the owners' table shows of a collected submission's grading flags."""
    return {
        "setup_failed": bool(flags.get("setup_failed")),
        "tampered": bool(flags.get("tampered")),
        "review": bool(flags.get("review")),
    }


def dashboard(course, lab, roster, *, bins=10):
    """Return the data of the dashboard's plots (``.../dashboard``).

    Parameters
    ----------
    course : Course
    lab : str
    roster : Mapping[str, Iterable[str]]
        As for :func:`lab_status`.
    bins : int
        Bins of the score distribution.

    Returns
    -------
    dict
        As the ``Dashboard`` schema: ``submissions_over_time`` (cumulative
        owners who have submitted, at each first submission), ``score_distribution``
        (of the collected, graded submissions), ``mean_per_item`` (which
        questions were hard) and ``late`` (owners whose newest submission is late).
    """
    from ai4scale.grading.labformat import lab_items

    glab = _gradebook_lab(course, lab)
    gb = course.gradebook
    subs, totals = _all_submissions(course, lab)
    first, last = {}, {}
    for s in sorted(subs, key=lambda s: (s.submitted_at, s.id)):
        key = (s.owner_kind, s.owner)
        first.setdefault(key, s.submitted_at)
        last[key] = s
    over_time = [
        {"time": _iso(when), "submitted": i + 1} for i, when in enumerate(sorted(first.values()))
    ]
    graded = [s for s in gb.collected_submissions(lab) if s.status == "graded"]
    top = float(glab.lab.points) or 1.0
    scores = [totals[s.id] for s in graded if totals.get(s.id) is not None]
    counts = [0] * bins
    for score in scores:
        counts[min(int(score / top * bins), bins - 1)] += 1
    edges = [round(top * i / bins, 6) for i in range(bins + 1)]
    per_item = {}
    for s in graded:
        for r in gb.submission_results(s.id).values():
            if r["score"] is not None:
                per_item.setdefault((r["notebook"], r["grade_id"]), []).append(r["score"])
    means = []
    for spec in lab_items(glab.sources):
        got = per_item.get((spec["notebook"], spec["grade_id"]), [])
        means.append(
            {
                "notebook": spec["notebook"],
                "grade_id": spec["grade_id"],
                "mean": sum(got) / len(got) if got else None,
                "max_points": spec["points"],
                "graded": len(got),
            }
        )
    releases = gb.releases(lab)
    due = None
    if releases and all(r.due_at is not None for r in releases):
        due = max(r.due_at for r in releases)
    return {
        "lab": lab,
        "owners": len(roster),
        "submitted": len(first),
        "submissions_over_time": over_time,
        "score_distribution": {"bins": edges, "counts": counts, "scores": scores},
        "mean_per_item": means,
        "late": sum(s.late for s in last.values()),
        "due": _iso(due),
    }


def _labs(course, lab):
    if lab is None:
        return None
    _gradebook_lab(course, lab)
    return [lab]


def gradebook_table(course, *, lab=None):
    """Return the gradebook as ``{"columns", "rows"}`` (teams expanded to their members)."""
    from ai4scale.grading.gradebook import export_table

    columns, rows = export_table(course.gradebook, labs=_labs(course, lab))
    return {"columns": columns, "rows": rows}


def gradebook_csv(course, *, lab=None):
    """Return the gradebook as CSV text (the rows of :func:`gradebook_table`)."""
    from ai4scale.grading.gradebook import export_csv

    out = io.StringIO(newline="")
    export_csv(course.gradebook, out, labs=_labs(course, lab))
    return out.getvalue()
