"""The grading engine for nbgrader-format labs.

- :mod:`ai4scale.grading.labformat`: the lab format (``lab.toml`` plus
  nbgrader-format notebooks), learner versions, local scoring, nbgrader import.
- :mod:`ai4scale.grading.gradebook`: the gradebook database (SQLAlchemy,
  Alembic migrations, SQLite or PostgreSQL) and its exports.
- :mod:`ai4scale.grading.sandbox`: running a submission's notebook in a
  sandbox (grading user, cgroup, no network, timeouts).
- :mod:`ai4scale.grading.autograde`: the ``ai4scale grade`` pipeline of small
  steps: parse, sanitise, insert canaries, execute, score, record.
- :mod:`ai4scale.grading.feedback`: one HTML feedback page per submission,
  without hidden tests or canaries.
"""
