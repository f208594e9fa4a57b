"""The store: tables, Alembic migrations, and the store classes whose methods are the
named transactions (``outbox.append``, ``inbox.record``, …).  Every SQL statement of
the hub lives in this package."""
