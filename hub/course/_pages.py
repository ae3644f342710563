"""HTML pages of the course service (learner and instructor views)."""


def page_handlers():
    """Return the tornado URL specs of the course service's pages.

    The service app appends them to its API handlers. The paths are relative
    to the service prefix (``/services/course/``).

    Returns
    -------
    list
        ``tornado.web.URLSpec`` objects or ``(pattern, handler[, kwargs])``
        tuples.
    """
    return []
