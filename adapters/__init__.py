"""The edges of jobledger: the composition root (``bootstrap.py``), settings, the stores
(``store/``, one folder each), the HTTP API (``http/``), auth, the CLI, the Python client
and developer tools. See docs/architecture.md.
"""
