"""The edges of jobledger: settings, the composition root (``bootstrap.py``), the SQLite
read-model views and live subscription, the async read store, docs generation and the CLI.
"""
