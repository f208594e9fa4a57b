"""Alembic environment: runs migrations against the URL set by ``hub.db.migrate``."""

from __future__ import annotations

from alembic import context

from hub.store import make_engine, metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "hub.db.migrate sets sqlalchemy.url"

if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
