"""Alembic environment of the gradebook: the engine comes from the caller."""

from ai4scale.grading.gradebook import _usecases  # noqa: F401 - its tables join Base's metadata
from ai4scale.grading.gradebook._db import VERSION_TABLE, make_engine
from ai4scale.grading.gradebook._models import Base
from alembic import context

config = context.config
target_metadata = Base.metadata


def _configure(**kw):
    context.configure(
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things: later migrations go through batch mode.
        render_as_batch=True,
        compare_type=True,
        **kw,
    )


def run_migrations_offline():
    """Emit SQL for ``--sql`` runs."""
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run the migrations on the caller's engine (or ``sqlalchemy.url``)."""
    engine = config.attributes.get("engine")
    if engine is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
