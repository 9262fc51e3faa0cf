"""Read models built from the ledger's events (job summaries, history, statistics, costs).

Not built yet: see the README's "Not built yet".
"""
