"""Storing submissions: every one kept, by id, with its time, sha256 and late flag."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid

from ._errors import BadRequest, TooLarge

__all__ = ["receipt", "store_submission", "submission_files"]


def store_submission(course, lab, owner, files, *, releases, members=None, when=None):
    """Check and store a new submission of ``owner``; nothing earlier is touched.

    The files are checked (names of the lab's notebooks, size, valid
    nbformat 4 JSON) before anything is stored; a refused submission leaves
    no trace. The gradebook gives the submission its id and version (one
    writer at a time per owner, so two submissions in the same second get
    distinct ids and versions), and the files go to
    ``submissions/<lab>/<id>/``.

    Parameters
    ----------
    course : Course
    lab : str
    owner : Owner
    files : Mapping[str, bytes]
        Notebook name (as in lab.toml) -> content.
    releases : list of ReleaseInfo
        The releases that apply to the owner (their due date decides ``late``).
    members : Iterable[str], optional
        For a team: its members, recorded in the gradebook (export expands teams).
    when : datetime.datetime, optional
        Default now.

    Returns
    -------
    SubmissionInfo

    Raises
    ------
    BadRequest
        No files, a file that is not one of the lab's notebooks, or not a notebook.
    TooLarge
        A file above ``max_upload_bytes``.
    """
    from ai4scale.grading.autograde import SubmissionError, parse_notebook

    from ._labs import due_for

    glab = course.lab(lab)
    limit = course.config.max_upload_bytes
    if not files:
        raise BadRequest(
            f"nothing to submit: none of {', '.join(glab.lab.notebooks)} is in the folder {lab}/"
        )
    for name, data in files.items():
        if name not in glab.lab.notebooks:
            raise BadRequest(f"{name!r} is not a notebook of lab {lab!r}")
        if len(data) > limit:
            raise TooLarge(f"{name} is {len(data) / 2**20:.1f} MiB; the limit is {limit >> 20} MiB")
    incoming = course.path("submissions", ".incoming", uuid.uuid4().hex)
    incoming.mkdir(parents=True)
    try:
        for name, data in files.items():
            (incoming / name).write_bytes(data)
            try:
                parse_notebook(incoming / name, max_bytes=limit)
            except SubmissionError as e:
                raise BadRequest(f"not a notebook: {e}") from None
        when = when or dt.datetime.now(dt.UTC)
        due = due_for(releases)
        gb = course.gradebook
        if owner.kind == "team":
            gb.upsert_team(owner.name, members=sorted(set(members or ())))
        info = gb.add_submission(
            lab,
            files=dict(files),
            submitted_at=when,
            late=due is not None and when > due,
            submitted_by=owner.by,
            **owner.gradebook_key(),
        )
        target = course.path("submissions", lab, str(info.id))
        target.parent.mkdir(parents=True, exist_ok=True)
        incoming.rename(target)
        return info
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


def submission_files(course, info):
    """Return ``{notebook name: path}`` of a stored submission."""
    folder = course.path("submissions", info.lab, str(info.id))
    return {name: folder / name for name in info.files if (folder / name).is_file()}


def receipt(info):
    """Return a SubmissionInfo as the ``SubmissionReceipt`` schema."""
    return {
        "id": info.id,
        "version": info.version,
        "submitted_at": info.submitted_at.isoformat(),
        "sha256": info.sha256,
        "late": info.late,
        "files": [{"path": p, "sha256": h} for p, h in sorted(info.files.items())],
        "submitted_by": info.submitted_by,
    }
