"""What SQLite and PostgreSQL share: the read-model tables and their async queries."""
