"""The "Use cases" page of the course service (``/services/course/usecases``).

Like the other course pages it is thin: the server renders the layout
(``templates/usecases.html``, extending the course's ``base.html``) and
``hub/course/static/usecases.js`` fills it from the use-case REST API. The
page is shown to every logged-in person; what a use case holds is refused or
given by the API (team members and instructors only), never by this page.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
from tornado import web

from ..course._pages import TEMPLATES_DIR as COURSE_TEMPLATES
from ..course._pages import PageHandler

__all__ = ["ANNEX_III_AREAS", "UseCasesPage", "annex_iii_choices"]

TEMPLATES_DIR = Path(__file__).parent / "templates"

_ENV = jinja2.Environment(
    # Ours first, then the course's layout that ours extends.
    loader=jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(TEMPLATES_DIR), jinja2.FileSystemLoader(COURSE_TEMPLATES)]
    ),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

#: The eight areas of the AI Act's Annex III, in plain words: the picker's groups.
#: The points a use case names inside them (``ai_act_area``) are the keys of
#: :data:`._store.ANNEX_III`, which the API checks.
ANNEX_III_AREAS = {
    "1": "1. Biometrics",
    "2": "2. Critical infrastructure",
    "3": "3. Education and vocational training",
    "4": "4. Employment and workers management",
    "5": "5. Access to essential private and public services and benefits",
    "6": "6. Law enforcement",
    "7": "7. Migration, asylum and border control",
    "8": "8. Administration of justice and democratic processes",
}


def annex_iii_choices():
    """Return the Annex III picker's groups: ``[(area, [(value, label), ...]), ...]``.

    Each point is labelled like the Act numbers it ("5(a) Public assistance
    benefits and services: eligibility"); ``not-high-risk`` is not among them.
    """
    from ._store import ANNEX_III

    groups = {area: [] for area in ANNEX_III_AREAS}
    for value, text in ANNEX_III.items():
        if value == "not-high-risk":
            continue
        area, point = value[:1], value[1:]
        groups.setdefault(area, []).append((value, f"{area}({point}) {text}" if point else text))
    return [(ANNEX_III_AREAS.get(area, area), items) for area, items in groups.items() if items]


#: Kinds of protected attribute (the column-roles vocabulary), in plain words.
PROTECTED_KINDS = [
    ("sex", "Sex or gender"),
    ("age", "Age"),
    ("nationality", "Nationality"),
    ("ethnicity_proxy", "Ethnic origin (or something that stands for it)"),
    ("disability", "Disability"),
    ("religion", "Religion or belief"),
    ("other", "Other"),
]

# A use-case id in the page's address: checked before it goes into the page.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


class UseCasesPage(PageHandler):
    """``/services/course/usecases[/<id>]``: the team's use cases, one opened at a time."""

    page_id = "usecases"
    nav = "usecases"

    async def get(self, usecase=None):  # noqa: D102
        if usecase is not None and not _ID.fullmatch(usecase):
            raise web.HTTPError(400, "This is not the address of a use case.")
        person = self.person
        teams = [person.team] if person.team else []
        if person.instructor:
            teams = await self._all_teams()
        self.render_page(
            "usecases.html",
            page_title="Use cases",
            usecase=usecase or "",
            teams=teams,
            annex_iii=annex_iii_choices(),
            max_upload=self.course.config.usecase_max_upload_bytes,
            protected_kinds=PROTECTED_KINDS,
        )

    async def _all_teams(self):
        # Instructors may register a use case for any team: the hub's team groups.
        from ai4scale.hub.teams import TEAM_PREFIX, WORKSPACES_GROUP

        groups = await self.hub.groups()
        return sorted(
            g[len(TEAM_PREFIX) :]
            for g in groups
            if g.startswith(TEAM_PREFIX) and g != WORKSPACES_GROUP
        )

    def render_page(self, template, **extra):
        """Render from our templates (falling back to the course's), like the course pages."""
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(_ENV.get_template(template).render(self.context(**extra)))
