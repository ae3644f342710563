"""Use cases (issue 11): their field versions, datasets, models, results, answers, comments.

Only new tables: an existing gradebook keeps every row it had.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "usecases",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usecases")),
    )
    with op.batch_alter_table("usecases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usecases_team"), ["team"], unique=False)

    op.create_table(
        "usecase_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("usecase_id", sa.String(length=64), nullable=False),
        sa.Column("question_id", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("cites", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["usecase_id"],
            ["usecases.id"],
            name=op.f("fk_usecase_answers_usecase_id_usecases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usecase_answers")),
    )
    with op.batch_alter_table("usecase_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usecase_answers_usecase_id"), ["usecase_id"], unique=False
        )

    op.create_table(
        "usecase_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("usecase_id", sa.String(length=64), nullable=False),
        sa.Column("question_id", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["usecase_id"],
            ["usecases.id"],
            name=op.f("fk_usecase_comments_usecase_id_usecases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usecase_comments")),
    )
    with op.batch_alter_table("usecase_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usecase_comments_usecase_id"), ["usecase_id"], unique=False
        )

    op.create_table(
        "usecase_datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("usecase_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["usecase_id"],
            ["usecases.id"],
            name=op.f("fk_usecase_datasets_usecase_id_usecases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usecase_datasets")),
        sa.UniqueConstraint("usecase_id", "name", name=op.f("uq_usecase_datasets_usecase_id_name")),
    )
    with op.batch_alter_table("usecase_datasets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usecase_datasets_usecase_id"), ["usecase_id"], unique=False
        )

    op.create_table(
        "usecase_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("usecase_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("untrusted_types", sa.JSON(), nullable=False),
        sa.Column("column", sa.String(length=200), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('skops', 'onnx', 'scores', 'baseline')", name=op.f("ck_usecase_models_kind")
        ),
        sa.ForeignKeyConstraint(
            ["usecase_id"],
            ["usecases.id"],
            name=op.f("fk_usecase_models_usecase_id_usecases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usecase_models")),
        sa.UniqueConstraint("usecase_id", "name", name=op.f("uq_usecase_models_usecase_id_name")),
    )
    with op.batch_alter_table("usecase_models", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usecase_models_usecase_id"), ["usecase_id"], unique=False
        )

    op.create_table(
        "usecase_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("usecase_id", sa.String(length=64), nullable=False),
        sa.Column("notebook_sha256", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["usecase_id"],
            ["usecases.id"],
            name=op.f("fk_usecase_results_usecase_id_usecases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usecase_results")),
    )
    with op.batch_alter_table("usecase_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usecase_results_usecase_id"), ["usecase_id"], unique=False
        )

    op.create_table(
        "usecase_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("usecase_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("administration", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("affected", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("ai_act_area", sa.String(length=100), nullable=False),
        sa.Column("not_high_risk_reason", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_usecase_versions_version")),
        sa.ForeignKeyConstraint(
            ["usecase_id"],
            ["usecases.id"],
            name=op.f("fk_usecase_versions_usecase_id_usecases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usecase_versions")),
        sa.UniqueConstraint(
            "usecase_id", "version", name=op.f("uq_usecase_versions_usecase_id_version")
        ),
    )
    with op.batch_alter_table("usecase_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usecase_versions_usecase_id"), ["usecase_id"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("usecase_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usecase_versions_usecase_id"))

    op.drop_table("usecase_versions")
    with op.batch_alter_table("usecase_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usecase_results_usecase_id"))

    op.drop_table("usecase_results")
    with op.batch_alter_table("usecase_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usecase_models_usecase_id"))

    op.drop_table("usecase_models")
    with op.batch_alter_table("usecase_datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usecase_datasets_usecase_id"))

    op.drop_table("usecase_datasets")
    with op.batch_alter_table("usecase_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usecase_comments_usecase_id"))

    op.drop_table("usecase_comments")
    with op.batch_alter_table("usecase_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usecase_answers_usecase_id"))

    op.drop_table("usecase_answers")
    with op.batch_alter_table("usecases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usecases_team"))

    op.drop_table("usecases")
