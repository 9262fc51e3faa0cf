"""jobledger's domain: the Job aggregate, its lifecycle, events, prices and the Ledger.

Imports nothing from ``projections`` or ``adapters`` and opens no database.
"""

# The event catalogue first: ``events`` completes it with the task events, which extend it.
from jobledger.domain import events as _events  # noqa: F401
