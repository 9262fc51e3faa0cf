"""PostgreSQL: events, read models and receipts in one schema of one database."""

from jobledger.adapters.store.postgres.backend import PostgresBackend as Backend

__all__ = ["Backend"]
