"""Alembic environment: runs migrations against the URL set by ``hub.store.engine.migrate``."""

from __future__ import annotations

from alembic import context

from hub.store.engine import make_engine
from hub.store.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "hub.store.engine.migrate sets sqlalchemy.url"

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
