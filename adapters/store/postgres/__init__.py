"""PostgreSQL: events, read models and receipts in one schema of one database."""
