"""Tracks and archiving (issue 12): a release's learner version, archived labs and learners.

Only new nullable or defaulted columns: an existing gradebook keeps every row,
its releases become guided ones, nothing is archived.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("track", sa.String(length=20), server_default="guided", nullable=False)
        )
    with op.batch_alter_table("labs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("learners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))


def _drop_column(table, column):
    # SQLite's batch mode copies the table and drops the old one, and dropping "labs" or
    # "learners" deletes their children through ON DELETE CASCADE: use SQLite's own
    # DROP COLUMN (3.35+), which touches nothing else.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(sa.text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))
    else:
        op.drop_column(table, column)


def downgrade() -> None:
    """Downgrade schema (every row kept)."""
    _drop_column("learners", "archived_at")
    _drop_column("labs", "archived_at")
    _drop_column("releases", "track")
