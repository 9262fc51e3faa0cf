"""Read models built from the ledger's events: job summaries, status history,
statistics and the cost ledger (listed once in ``catalog.py``), their SQL contract
(``schema.py``) and the runner that keeps them current, exactly once. Imports
nothing from ``adapters``.
"""
