"""Check my work: the visible tests on a learner's current notebooks, sandboxed."""

from __future__ import annotations

import shutil
import uuid

from tornado.log import app_log

from ._errors import BadRequest, Conflict, TooLarge

__all__ = ["check_work"]


def check_work(course, lab, files, *, name="check"):
    """Run the visible tests of ``lab`` on a learner's notebooks; record nothing.

    The notebooks are graded against the *learner versions* of the lab's
    sources, so hidden tests never run and solutions are never near the
    learner's code; the run is sandboxed like autograding (executor of
    ``CourseConfig.sandbox``).

    Parameters
    ----------
    course : Course
    lab : str
    files : Mapping[str, bytes]
        Notebook name -> the learner's current file.
    name : str
        Who (for the sandbox's logs).

    Returns
    -------
    dict
        ``items``: ``{notebook, grade_id, passed, points, max_points, message}``
        per automatically graded item of the notebooks given; ``errors``: runs
        that ended early. When a setup cell of the lab failed (see
        :mod:`ai4scale.grading.autograde._setup`), the items it stopped say
        so in plain words (:data:`SETUP_FAILED_MESSAGE`), not as the learner's
        wrong answers, and the failure is logged for the trainer.

    Raises
    ------
    BadRequest
        No notebooks, or one that is not a notebook.
    TooLarge
        A file above ``max_upload_bytes``.
    """
    from ai4scale.grading.autograde import SETUP_FAILED, GradingLab, grade_submission
    from ai4scale.grading.feedback import (
        LYING_VALUES_MESSAGE,
        hidden_fragments,
        item_titles,
        plain_message,
        safe_message,
    )
    from ai4scale.grading.labformat import learner_version

    from ._grading import SETUP_FAILED_MESSAGE, make_executor, record_setup_alert

    glab = course.lab(lab)
    if not files:
        raise BadRequest(
            f"nothing to check: none of {', '.join(glab.lab.notebooks)} is in the folder {lab}/"
        )
    limit = course.config.max_upload_bytes
    for fname, data in files.items():
        if fname not in glab.sources:
            raise BadRequest(f"{fname!r} is not a notebook of lab {lab!r}")
        if len(data) > limit:
            raise TooLarge(f"{fname} is larger than {limit >> 20} MiB")
    visible = {
        n: learner_version(src, name=f"{lab}/{n}") for n, src in glab.sources.items() if n in files
    }
    vlab = GradingLab(glab.lab, visible, glab.resources)
    folder = course.path("checks", uuid.uuid4().hex)
    folder.mkdir(parents=True)
    try:
        paths = {}
        for fname, data in files.items():
            paths[fname] = folder / fname
            paths[fname].write_bytes(data)
        try:
            executor = make_executor(course.config, cell_timeout=30.0, notebook_timeout=120.0)
        except Conflict as e:
            app_log.error("check my work of %s refused: %s", lab, e)
            raise Conflict(
                "Your work cannot be checked right now: the course's checking service is not "
                "set up. This is not your mistake; your trainer has been told."
            ) from None
        graded = grade_submission(vlab, paths, learner=name, executor=executor)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if graded.status == "rejected":
        raise BadRequest(f"not a notebook: {graded.message}")
    fragments = hidden_fragments(glab.sources)
    titles = item_titles(glab.sources)
    items = [
        {
            "notebook": r.notebook,
            "grade_id": r.grade_id,
            "title": titles.get((r.notebook, r.grade_id), "Check"),
            "passed": r.status == "passed",
            "points": r.score or 0.0,
            "max_points": r.max_score,
            "message": SETUP_FAILED_MESSAGE
            if r.status == SETUP_FAILED
            else plain_message(safe_message(r.message, fragments)),
        }
        for r in graded.results
        if r.kind == "auto"
    ]
    errors = []
    failures = graded.flags.get("setup_failed") or {}
    if failures:
        record_setup_alert(course, lab, name, failures, graded.executor)
    errors += [f"{nb_name}: {SETUP_FAILED_MESSAGE}" for nb_name in sorted(failures)]
    errors += [f"{nb}: {why}" for nb, why in sorted(graded.flags.get("run", {}).items())]
    if graded.flags.get("lying_values"):
        errors.append(LYING_VALUES_MESSAGE)
    elif graded.flags.get("tampered"):
        errors.append(
            "Your notebook changed how errors are reported, so the checks cannot be trusted. "
            "Undo that change (or ask your trainer), then check again."
        )
    return {"items": items, "errors": errors}
