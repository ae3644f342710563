"""Render a :class:`SubmissionFeedback` as one self-contained HTML page (jinja2, autoescaped)."""

from __future__ import annotations

import jinja2

__all__ = ["render_feedback", "when"]

_STATUS = {
    "passed": "passed",
    "partial": "partial credit",
    "failed": "failed",
    "unanswered": "not answered",
    "manual": "waiting for your trainer",
    "missing": "missing",
    "tampered": "set to zero",
    "setup-failed": "not checked (the lab's preparation step failed)",
    "not graded": "not graded",
}

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Feedback: {{ fb.title or fb.lab }} ({{ fb.owner }})</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1b1b1b; line-height: 1.45; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .4rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; white-space: nowrap; }
.passed { color: #116611; } .failed, .missing, .tampered { color: #a01010; }
.partial, .unanswered, .setup-failed { color: #8a5a00; }
.notes { background: #fff6e0; border-left: 4px solid #e0a000; padding: .6rem 1rem; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: .6rem; overflow-x: auto;
      white-space: pre-wrap; }
.msg { font-family: ui-monospace, monospace; font-size: .9em; }
.total { font-size: 1.3em; font-weight: bold; }
</style>
</head>
<body>
<h1>{{ fb.title or fb.lab }}</h1>
<p>Feedback for <strong>{{ fb.owner }}</strong>{% if fb.owner_kind == "team" %} (team){% endif %},
submission number {{ fb.version }}
{%- if fb.submitted_at %}, handed in {{ when(fb.submitted_at) }}{% endif %}
{%- if fb.graded_at %}, graded {{ when(fb.graded_at) }}{% endif %}.</p>
<p class="total">Total: {{ points(fb.total) }} / {{ points(fb.max_total) }}</p>
{% if fb.notes %}<div class="notes"><h2>Please note</h2><ul>
{% for note in fb.notes %}<li>{{ note }}</li>
{% endfor %}</ul></div>{% endif %}
<h2>Your score per question</h2>
<table>
<thead><tr><th>Question</th><th>Score</th><th>Result</th><th>Details</th></tr></thead>
<tbody>
{% for it in fb.items %}<tr id="item-{{ it.grade_id }}">
<td>{{ it.title }}{% if multi %}<br><small>{{ it.notebook }}</small>{% endif %}</td>
<td class="num">{{ points(it.score) }} / {{ points(it.max_points) }}</td>
<td class="{{ it.status }}">{{ result(it) }}</td>
<td>{% if it.message and not (it.manual and it.kind != "auto") -%}
<div class="msg">{{ it.message }}</div>{% endif %}
{%- if it.comments %}<div><strong>Comments:</strong> {{ it.comments }}</div>{% endif %}</td>
</tr>
{% endfor %}</tbody>
</table>
<h2>Your answers</h2>
{% if fb.code_note %}<p>{{ fb.code_note }}</p>{% endif %}
{% for cell in fb.cells %}<h3>
{%- if cell.grade_id %}{{ cell.title or "Your answer" }}{% else %}A cell you added{% endif %}
{%- if multi %} <small>({{ cell.notebook }})</small>{% endif %}</h3>
<pre class="{{ cell.cell_type }}"><code>{{ cell.source }}</code></pre>
{% else %}{% if not fb.code_note %}<p>No answer cells.</p>{% endif %}
{% endfor %}
</body>
</html>
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_PAGE = _ENV.from_string(_TEMPLATE)


def _points(value):
    return "–" if value is None else f"{value:g}"


def when(value):
    """Return a time as every course page shows it: "Mon, 3 Mar 2025, 17:00 UTC"."""
    return f"{value:%a}, {value.day} {value:%b %Y, %H:%M} UTC"


def _result(item):
    """Return the result column: what happened, and who set the score, said once."""
    status = item["status"]
    by_hand = item.get("kind", "auto") != "auto"
    if by_hand and item.get("manual"):
        return "graded by your trainer"
    if status == "manual":
        return "graded by your trainer" if item["score"] is not None else _STATUS["manual"]
    text = _STATUS.get(status, status)
    return f"{text} (score changed by your trainer)" if item.get("manual") else text


def render_feedback(fb):
    """Return the HTML page of one submission's feedback.

    Every value from the gradebook or the learner's notebook is HTML-escaped
    (jinja2 autoescape), and the page runs no script (its Content-Security-Policy
    allows only inline styles), so learner code such as ``</script>`` is shown as text.

    Parameters
    ----------
    fb : SubmissionFeedback

    Returns
    -------
    str
    """
    multi = len({it["notebook"] for it in fb.items}) > 1
    return _PAGE.render(
        fb=fb,
        multi=multi,
        points=_points,
        when=when,
        result=_result,
    )
