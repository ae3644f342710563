"""Who is asking, and whose work a request acts on (a learner's own, or their team's)."""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import Conflict

__all__ = ["INSTRUCTORS_GROUP", "LEARNERS_GROUP", "Owner", "Person", "owner_of"]

INSTRUCTORS_GROUP = "instructors"
LEARNERS_GROUP = "learners"


@dataclass(frozen=True)
class Person:
    """A hub user as the service's own token sees them (never as the client says).

    Parameters
    ----------
    name : str
        Hub username.
    groups : frozenset of str
        Hub groups.
    admin : bool
        Hub admin.
    """

    name: str
    groups: frozenset = frozenset()
    admin: bool = False

    @property
    def instructor(self):
        """Members of ``instructors`` and hub admins."""
        return self.admin or INSTRUCTORS_GROUP in self.groups

    @property
    def team(self):
        """The person's roster team (``team-<name>`` group), or None."""
        from ai4scale.hub.teams import team_of

        return team_of(self.name, groups=self.groups)

    @classmethod
    def from_model(cls, model):
        """Return the person of a hub user model (``GET /hub/api/users/<name>``)."""
        return cls(model["name"], frozenset(model.get("groups") or ()), bool(model.get("admin")))


@dataclass(frozen=True)
class Owner:
    """Whose work: a learner, or a team (whose work lives on its workspace server).

    ``server_user`` is the hub user whose server holds the work: the learner,
    or the team's workspace user.
    """

    kind: str  # "learner" or "team"
    name: str
    server_user: str
    by: str = ""  # the person acting

    def gradebook_key(self):
        """Return ``{"learner": name}`` or ``{"team": name}`` for gradebook calls."""
        return {self.kind: self.name}


def owner_of(glab, person):
    """Return the :class:`Owner` a person acts as for a lab.

    Parameters
    ----------
    glab : GradingLab
        ``glab.lab.team`` says whether it is a team lab.
    person : Person

    Raises
    ------
    Conflict
        A team lab and the person is in no team.
    """
    if glab.lab.team:
        from ai4scale.hub.teams import workspace_user

        team = person.team
        if team is None:
            raise Conflict(f"lab {glab.id!r} is a team lab and you are not in a team")
        return Owner("team", team, workspace_user(team), person.name)
    return Owner("learner", person.name, person.name, person.name)
