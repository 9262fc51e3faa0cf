"""SQLite, the embedded default: everything in one file beside the process."""
