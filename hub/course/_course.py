"""The course: its configuration, gradebook, labs and directories, in one object.

Every operation of the service (and of the ``ai4scale release|collect``
commands) takes a :class:`Course`; handlers and commands stay thin.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ._config import CourseConfig
from ._errors import Conflict, NotFound
from ._names import check_lab_id

__all__ = ["Course"]


class Course:
    """The labs, the gradebook and the service directory of one course.

    Parameters
    ----------
    config : CourseConfig

    Examples
    --------
    >>> course = Course.from_settings(load_settings())  # doctest: +SKIP
    >>> release(course, "example-intro", group="learners")  # doctest: +SKIP
    """

    def __init__(self, config):
        self.config = config
        self._gradebook = None
        self._labs = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings, **overrides):
        """Return the course of the ``[course]`` settings (see :class:`CourseConfig`)."""
        return cls(CourseConfig.from_settings(settings, **overrides))

    # -- storage ----------------------------------------------------------------

    @property
    def gradebook(self):
        """The gradebook, migrated to the newest schema on first use."""
        with self._lock:
            if self._gradebook is None:
                from ai4scale.grading.gradebook import Gradebook

                gb = Gradebook(self.config.gradebook_url)
                gb.upgrade()
                self._gradebook = gb
            return self._gradebook

    def close(self):
        """Release the database connections."""
        if self._gradebook is not None:
            self._gradebook.close()
            self._gradebook = None

    def path(self, *parts):
        """Return a path in the service directory, creating it (0700) on first use."""
        root = Path(self.config.course_dir)
        if not root.is_dir():
            root.mkdir(parents=True, exist_ok=True)
            os.chmod(root, 0o700)
        return root.joinpath(*parts)

    # -- labs -------------------------------------------------------------------

    def lab_ids(self):
        """Return the ids of the labs in the labs folder, sorted."""
        root = Path(self.config.labs_dir)
        if not root.is_dir():
            return []
        return sorted(p.parent.name for p in root.glob("*/lab.toml"))

    def lab(self, lab):
        """Return the :class:`~ai4scale.grading.autograde.GradingLab` of ``lab``.

        Read once and kept until its lab.toml or a notebook changes.

        Raises
        ------
        BadRequest
            Malformed lab id.
        NotFound
            No such lab in the labs folder.
        Conflict
            The lab folder is invalid (the message says which file and why).
        """
        from ai4scale.grading.autograde import open_lab
        from ai4scale.grading.labformat import LabError

        check_lab_id(lab)
        folder = self.config.lab_dir(lab)
        if not (folder / "lab.toml").is_file():
            raise NotFound(f"no lab {lab!r}")
        stamp = tuple(
            (p.name, p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file()
        )
        cached = self._labs.get(lab)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            glab = open_lab(folder)
        except LabError as e:
            raise Conflict(f"lab {lab!r} is invalid: {e}") from None
        self._labs[lab] = (stamp, glab)
        return glab
