"""Releasing labs, and which labs a learner sees."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from ._errors import BadRequest, Conflict, NotFound
from ._names import check_group, check_lab_id, parse_due

__all__ = [
    "applicable_releases",
    "due_for",
    "instructor_labs",
    "learner_labs",
    "release",
    "released_files",
    "track_for",
]


def release(course, lab, *, group="learners", due=None, released_by="", track="guided"):
    """Release ``lab`` to hub group ``group``, with an optional due date.

    First the lab's reference solution is graded with the course's grading
    executor and settings (the self-check, remembered while nothing
    changes): a lab this environment cannot grade is not released. Then the
    learner versions are built from the lab's sources into the service
    directory (``releases/<lab>/``), so what learners fetch is exactly what
    was released, and the lab and its items are put in the gradebook.
    Releasing again rebuilds them and updates the due date.

    Parameters
    ----------
    course : Course
    lab : str
        Lab id.
    group : str
        Hub group (default ``learners``).
    due : str or datetime.datetime, optional
        ISO 8601 with a time zone.
    released_by : str
        Who released it.
    track : {"guided", "analyst"}
        Which learner version the group gets: the guided one (the code given,
        blanks to complete) or the analyst one (written from scratch). A lab
        without a guided version gives the same notebooks either way.

    Returns
    -------
    ReleaseInfo

    Raises
    ------
    BadRequest, NotFound
    Conflict
        Among others: the sandbox cannot run, or the reference solution does
        not get full marks (the message names the failing cell and shows its
        traceback).
    """
    from ai4scale.grading.autograde import gradebook_items
    from ai4scale.grading.labformat import TRACKS, LabError, build_lab, track_dir

    from ._grading import check_reference, make_executor

    check_group(group)
    if track not in TRACKS:
        raise BadRequest(f"unknown track {track!r}: choose one of {', '.join(TRACKS)}")
    due_at = due if isinstance(due, dt.datetime) else parse_due(due)
    if due_at is not None and due_at.tzinfo is None:
        due_at = parse_due(due_at.isoformat())  # refuses the naive datetime
    glab = course.lab(lab)
    executor = make_executor(course.config)
    check = check_reference(course, glab, executor)
    if not check.passed:
        raise Conflict(check.message().replace("grading refused", "release refused", 1))
    root = course.path("releases")
    root.mkdir(exist_ok=True)
    # Build beside the release, then swap: a learner never fetches half a build.
    staging = Path(tempfile.mkdtemp(prefix=f".{lab}-", dir=root))
    try:
        try:
            build_lab(glab.lab.path, staging)
        except LabError as e:
            raise Conflict(f"lab {lab!r} is invalid: {e}") from None
        for name in TRACKS:
            built, target = track_dir(staging, lab, name), track_dir(root, lab, name)
            old = target.with_name(f".{lab}-old")
            shutil.rmtree(old, ignore_errors=True)
            if target.exists():
                target.rename(old)
            if built.is_dir():
                target.parent.mkdir(exist_ok=True)
                built.rename(target)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    gb = course.gradebook
    try:
        gb.upsert_lab(glab.id, notebooks=gradebook_items(glab), title=glab.lab.title)
    except ValueError as e:  # an item with results was removed from the lab
        raise Conflict(str(e)) from None
    return gb.record_release(
        glab.id, group=group, due_at=due_at, released_by=released_by, track=track
    )


def released_files(course, lab, track="guided"):
    """Return ``{relative path: file}`` of the learner files of a released lab.

    ``track`` picks the learner version; a lab without that track gives its
    only one.

    Raises
    ------
    Conflict
        The lab was never released.
    """
    from ai4scale.grading.labformat import track_dir

    check_lab_id(lab)
    root = track_dir(course.path("releases"), lab, track)
    if not root.is_dir():
        root = course.path("releases", lab)
    if not root.is_dir():
        raise Conflict(f"lab {lab!r} is not released")
    return {
        str(p.relative_to(root)): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def applicable_releases(course, lab, person):
    """Return the releases of ``lab`` to groups ``person`` is in (maybe empty)."""
    try:
        releases = course.gradebook.releases(lab)
    except KeyError:
        return []
    return [r for r in releases if r.group in person.groups]


def track_for(releases):
    """Return the learner version that applies: the newest release's track."""
    if not releases:
        return "guided"
    return max(releases, key=lambda r: r.released_at).track


def due_for(releases):
    """Return the due date that applies: the latest, or None when one release has none."""
    dues = [r.due_at for r in releases]
    if not dues or any(d is None for d in dues):
        return None
    return max(dues)


def visible_lab(course, lab, person):
    """Return ``(glab, releases)`` of a lab released to ``person``, else raise NotFound."""
    check_lab_id(lab)
    releases = applicable_releases(course, lab, person)
    if not releases:
        raise NotFound(f"no lab {lab!r} is released to you")
    return course.lab(lab), releases


def _iso(when):
    return when.isoformat() if when is not None else None


def owner_state(course, lab, owner):
    """Return a learner's (or team's) progress in a lab.

    Returns
    -------
    dict
        ``status`` (new, fetched, submitted, graded, feedback), ``submissions``
        (count), ``fetched_at``, ``last``: newest SubmissionInfo or None,
        ``released``: newest SubmissionInfo whose feedback is released, or None.
    """
    gb = course.gradebook
    subs = gb.owner_submissions(lab, **owner.gradebook_key())
    fetch = gb.fetches(lab).get((owner.kind, owner.name))
    released = [s for s in subs if s.feedback_released_at is not None]
    collected = [s for s in subs if s.collected_at is not None]
    if released:
        status = "feedback"
    elif collected and collected[-1].status in ("graded", "rejected"):
        status = "graded"
    elif subs:
        status = "submitted"
    elif fetch is not None:
        status = "fetched"
    else:
        status = "new"
    return {
        "status": status,
        "submissions": len(subs),
        "fetched_at": fetch.fetched_at if fetch else None,
        "last": subs[-1] if subs else None,
        "released": released[-1] if released else None,
    }


def learner_labs(course, person):
    """Return the labs released to ``person`` with their status (``GET /labs``).

    The next lab due comes first. A team lab is listed only for members of a
    team (anyone else could not fetch or submit it).

    Parameters
    ----------
    course : Course
    person : Person

    Returns
    -------
    list of dict
        As the ``LearnerLab`` schema of ``openapi.yaml``.
    """
    from ._grading import feedback_totals
    from ._people import owner_of

    by_lab = {}
    for r in course.gradebook.releases():
        if r.group in person.groups:
            by_lab.setdefault(r.lab, []).append(r)
    out = []
    for lab in sorted(by_lab):
        try:
            glab = course.lab(lab)
        except (NotFound, Conflict):
            continue  # removed or broken since the release: nothing to fetch
        team = glab.lab.team
        entry = {
            "id": lab,
            "title": glab.lab.title,
            "summary": glab.lab.summary,
            "due": _iso(due_for(by_lab[lab])),
            "late_after_due": True,
            "team": team,
            "team_name": person.team if team else None,
            "notebooks": list(glab.lab.notebooks),
            "path": lab,
            "score": None,
            "max_score": None,
        }
        try:
            owner = owner_of(glab, person)
        except Conflict:
            continue  # a team lab, and no team: shown to team members only
        state = owner_state(course, lab, owner)
        entry.update(status=state["status"], submissions=state["submissions"])
        entry["server_url"] = f"/user/{owner.server_user}/"
        if state["released"] is not None:
            entry["score"], entry["max_score"] = feedback_totals(course, state["released"].id)
        out.append(entry)
    # The next one due first; labs without a deadline after them.
    out.sort(key=lambda e: (e["due"] is None, e["due"] or "", e["title"] or e["id"]))
    return out


def instructor_labs(course):
    """Return every lab of the labs folder with its release state (``GET /instructor/labs``)."""
    from ._grading import setup_alert

    gb = course.gradebook
    releases = {}
    for r in gb.releases():
        releases.setdefault(r.lab, []).append(r)
    out = []
    for lab in course.lab_ids():
        entry = {"id": lab, "released": lab in releases, "releases": []}
        entry["releases"] = [release_dict(r) for r in releases.get(lab, [])]
        try:
            glab = course.lab(lab)
        except (NotFound, Conflict) as e:
            entry.update(title=lab, team=False, error=str(e))
            out.append(entry)
            continue
        entry.update(
            title=glab.lab.title,
            summary=glab.lab.summary,
            team=glab.lab.team,
            late_after_due=True,
            max_score=float(glab.lab.points),
        )
        entry["setup_alert"] = setup_alert(course, lab)
        if lab in releases:
            current = gb.submissions(lab)
            entry["submissions"] = len(current)
            entry["collected"] = len(gb.collected_submissions(lab))
            entry["feedback_released"] = sum(s.feedback_released_at is not None for s in current)
        else:
            entry.update(submissions=0, collected=0, feedback_released=0)
        out.append(entry)
    return out


def release_dict(r):
    """Return a ReleaseInfo as the ``Release`` schema."""
    return {
        "lab": r.lab,
        "group": r.group,
        "due": _iso(r.due_at),
        "released_at": _iso(r.released_at),
        "released_by": r.released_by,
        "track": r.track,
    }
