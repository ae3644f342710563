"""Moving notebooks between the service and a learner's (or team's) server, over HTTP only."""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath

from ._errors import BadRequest, TooLarge
from ._labs import released_files, track_for, visible_lab
from ._people import owner_of

__all__ = ["check_lab", "fetch_lab", "read_notebooks", "submit_lab"]


async def fetch_lab(course, hub, person, lab):
    """Copy a released lab's learner files into ``~/<lab>/`` of the owner's server.

    Files already there are kept as they are (a learner's edits are never
    overwritten); fetching again restores only what was deleted.

    Parameters
    ----------
    course : Course
    hub : HubClient
    person : Person
    lab : str

    Returns
    -------
    dict
        ``written`` and ``kept``: paths relative to the server's home.
    """
    glab, releases = visible_lab(course, lab, person)
    owner = owner_of(glab, person)
    files = released_files(course, lab, track_for(releases))
    await hub.require_server(owner.server_user, team=owner.kind == "team")
    folders = {str(PurePosixPath(lab, rel).parent) for rel in files}
    for folder in sorted(folders, key=lambda f: f.count("/")):
        await hub.mkdir(owner.server_user, folder)
    written, kept = [], []
    for rel, path in files.items():
        target = f"{lab}/{rel}"
        if await hub.stat(owner.server_user, target) is not None:
            kept.append(target)
            continue
        await hub.write(owner.server_user, target, path.read_bytes())
        written.append(target)
    course.gradebook.record_fetch(lab, fetched_by=person.name, **owner.gradebook_key())
    return {"written": written, "kept": kept, "server_url": f"/user/{owner.server_user}/"}


async def read_notebooks(course, hub, owner, glab):
    """Return ``{notebook: bytes}`` of the lab's notebooks in ``~/<lab>/`` of the owner's server.

    Notebooks not there are left out; one larger than the limit is refused
    (413) from its size, before it is read.
    """
    limit = course.config.max_upload_bytes
    await hub.require_server(owner.server_user, team=owner.kind == "team")
    files = {}
    for name in glab.lab.notebooks:
        path = f"{glab.id}/{name}"
        model = await hub.stat(owner.server_user, path)
        if model is None:
            continue
        if model.get("type") == "directory":
            raise BadRequest(f"{path} is a folder, not a notebook")
        size = model.get("size")
        if size is not None and size > limit:
            raise TooLarge(
                f"{path} is {size / 2**20:.1f} MiB; notebooks up to {limit >> 20} MiB "
                "are accepted (clear large outputs, then save and retry)"
            )
        files[name] = await hub.read(owner.server_user, path, max_bytes=limit)
    return files


async def submit_lab(course, hub, person, lab):
    """Read the owner's notebooks from their server and store a new submission.

    Returns
    -------
    SubmissionInfo
    """
    from ai4scale.hub.teams import team_group

    from ._submissions import store_submission

    glab, releases = visible_lab(course, lab, person)
    owner = owner_of(glab, person)
    files = await read_notebooks(course, hub, owner, glab)
    members = None
    if owner.kind == "team":
        members = await hub.group_members(team_group(owner.name))
    return await asyncio.get_running_loop().run_in_executor(
        None,
        lambda: store_submission(course, lab, owner, files, releases=releases, members=members),
    )


async def check_lab(course, hub, person, lab):
    """Run the visible tests on the owner's current notebooks (see :func:`check_work`)."""
    from ._check import check_work

    glab, _ = visible_lab(course, lab, person)
    owner = owner_of(glab, person)
    files = await read_notebooks(course, hub, owner, glab)
    return await asyncio.get_running_loop().run_in_executor(
        None, lambda: check_work(course, lab, files, name=owner.name)
    )
