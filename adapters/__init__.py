"""The edges of jobledger: settings, the composition root, storage wiring and the CLI."""
