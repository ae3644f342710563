"""What instructors read: per-owner status, the dashboard's data, the gradebook table."""

from __future__ import annotations

import io

from ._grading import _gradebook_lab

__all__ = ["dashboard", "gradebook_csv", "gradebook_table", "lab_status", "set_archived"]


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


def _full_names():
    """Return ``{username: full name}`` of the roster's accounts (empty without a roster)."""
    try:
        from ai4scale.hub._settings import load_settings
        from ai4scale.hub.accounts import AccountStore

        store = AccountStore.from_settings(load_settings(), create=False)
    except Exception:  # noqa: BLE001 - names are a help; the grades show without them
        return {}
    if store is None:
        return {}
    try:
        return {a.username: a.full_name for a in store.list_accounts()}
    finally:
        store.close()


def _headers(course, columns):
    """Return ``{column: heading}``: the words an instructor reads above each column."""
    from ai4scale.grading.feedback import item_titles

    titles = {}
    heads = {"username": "Learner", "full_name": "Full name"}
    one_lab = len({c.partition(":")[0] for c in columns if ":" in c}) == 1
    for column in columns:
        if column in heads:
            continue
        lab, _, key = column.partition(":")
        if lab not in titles:
            try:
                found = item_titles(course.lab(lab).sources)
                titles[lab] = {gid: title for (_, gid), title in found.items()}
            except Exception:  # noqa: BLE001 - a lab no longer in the labs folder
                titles[lab] = {}
        if key == "total":
            heads[column] = "Total" if one_lab else f"{lab}: total"
        elif key == "flags":
            heads[column] = "Flags" if one_lab else f"{lab}: flags"
        else:
            title = titles[lab].get(key.rpartition("/")[2], key)
            heads[column] = f"{title} ({key})"
    return heads


def gradebook_table(course, *, lab=None, archived=False):
    """Return the gradebook as ``{"columns", "headers", "rows", "archived"}``.

    Teams are expanded to their members; full names come from the roster when
    the gradebook has none; ``headers`` names each column in words (items by
    their titles). Archived labs and learners are left out unless ``archived``.
    """
    from ai4scale.grading.gradebook import export_table

    columns, rows = export_table(course.gradebook, labs=_labs(course, lab), archived=archived)
    names = _full_names()
    for row in rows:
        if not row.get("full_name"):
            row["full_name"] = names.get(row["username"], "")
    return {
        "columns": columns,
        "headers": _headers(course, columns),
        "rows": rows,
        "archived": course.gradebook.archived(),
    }


def gradebook_csv(course, *, lab=None, archived=False):
    """Return the gradebook as CSV text (the rows of :func:`gradebook_table`)."""
    from ai4scale.grading.gradebook import write_csv

    table = gradebook_table(course, lab=lab, archived=archived)
    out = io.StringIO(newline="")
    write_csv(table["columns"], table["rows"], out)
    return out.getvalue()


def set_archived(course, *, lab=None, learner=None, archived=True):
    """Archive or restore a lab or a learner (``POST /api/instructor/archive``).

    Raises
    ------
    BadRequest
        Neither or both named.
    NotFound
        Unknown lab or learner.
    """
    from ._errors import BadRequest, NotFound

    if (lab is None) == (learner is None):
        raise BadRequest('name a lab or a learner: {"lab": "<id>"} or {"learner": "<name>"}')
    try:
        course.gradebook.set_archived(lab=lab, learner=learner, archived=archived)
    except KeyError as e:
        raise NotFound(str(e).strip("\"'")) from None
    return course.gradebook.archived()
