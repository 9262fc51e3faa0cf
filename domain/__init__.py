"""jobledger's domain: the Job aggregate, its lifecycle, events, prices and the Ledger.

Imports nothing from ``projections`` or ``adapters`` and opens no database.
"""
