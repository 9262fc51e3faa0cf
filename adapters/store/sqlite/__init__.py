"""SQLite, the embedded default: everything in one file beside the process."""

from jobledger.adapters.store.sqlite.backend import SQLiteBackend as Backend

__all__ = ["Backend"]
