"""Autograding jobs that outlive the course service process.

Each job is a JSON file in the service directory's ``jobs/``, rewritten
(atomically) at each change of state and after each graded submission. When
the service starts, a job left ``queued`` or ``running`` (the service was
killed, or the hub restarted it) is taken up again: the grading engine skips
what the gradebook already holds (``grade_batch(resume=True)``), so nothing
is graded twice and no submission is left out. A job interrupted
:data:`MAX_RESUMES` times in a row ends ``failed`` with the count done, so a
submission that brings the service down cannot loop for ever.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from tornado.log import app_log

__all__ = ["MAX_RESUMES", "JobStore", "resume_jobs"]

#: Restarts of the service a job may survive before it is given up.
MAX_RESUMES = 3


class JobStore:
    """The jobs of one course, kept in ``folder`` (one JSON file per job).

    Parameters
    ----------
    folder : str or Path
        Root-only folder of the job files.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.jobs = {}

    # The handlers use the store as the dict of jobs they always had.
    def get(self, job_id, default=None):
        """Return the job ``job_id`` or ``default``."""
        return self.jobs.get(job_id, default)

    def values(self):
        """Return the jobs of this service's life and those loaded at start."""
        return self.jobs.values()

    def __setitem__(self, job_id, job):
        job.store = self
        self.jobs[job_id] = job
        self.save(job)

    def save(self, job):
        """Write ``job`` to its file (a rename: a reader never sees half a file)."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = job.as_dict()
        data["resumes"] = job.resumes
        path = self.folder / f"{job.id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)

    def load(self):
        """Read the job files; return the jobs that were queued or running.

        Unreadable files are logged and left alone.
        """
        from ._grading import Job

        unfinished = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                job = Job.from_dict(data)
            except (OSError, ValueError, KeyError, TypeError) as e:
                app_log.warning("job file %s unreadable: %s", path, e)
                continue
            job.store = self
            self.jobs[job.id] = job
            if job.state in ("queued", "running"):
                unfinished.append(job)
        return unfinished

    def interrupted(self, job):
        """Mark ``job`` as taken up again after a restart; return False when it is given up."""
        job.resumes += 1
        where = f"{job.done} of {job.total} submissions graded" if job.total else "at its start"
        if job.resumes > MAX_RESUMES:
            job.errors.append(
                f"The course service stopped {job.resumes} times during this run; "
                f"it was given up with {where}. Start autograding again to go on."
            )
            job.state = "failed"
            job.finished_at = dt.datetime.now(dt.UTC)
            self.save(job)
            return False
        job.notes.append(
            f"The course service restarted during this run ({where}); it went on "
            "from there, without grading anything twice."
        )
        job.state = "queued"
        self.save(job)
        return True


def resume_jobs(course, store):
    """Take up the jobs a stopped service left unfinished, each in a thread; return them.

    Parameters
    ----------
    course : Course
    store : JobStore
        The service's jobs (:meth:`JobStore.load` reads them here).

    Returns
    -------
    list of Job
        The jobs taken up again (given-up ones end ``failed`` instead).
    """
    import asyncio
    import functools

    from ._grading import autograde

    loop = asyncio.get_running_loop()
    resumed = []
    for job in store.load():
        if not store.interrupted(job):
            app_log.error("autograding job %s of %s given up: %s", job.id, job.lab, job.errors[-1])
            continue
        app_log.warning(
            "taking up autograding job %s of lab %s again (%d of %d done)",
            job.id,
            job.lab,
            job.done,
            job.total,
        )
        future = loop.run_in_executor(None, functools.partial(autograde, course, job.lab, job=job))
        future.add_done_callback(_log_failure)
        resumed.append(job)
    return resumed


def _log_failure(future):
    if not future.cancelled() and future.exception() is not None:
        app_log.error("autograding failed", exc_info=future.exception())
