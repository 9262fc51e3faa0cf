"""Where a PostgreSQL ledger lives: a server, a database and a schema in it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from psycopg.conninfo import make_conninfo

from jobledger.domain.errors import ConfigurationError


@dataclass(frozen=True)
class PostgresStore:
    host: str
    port: int
    user: str
    password: str
    dbname: str
    schema: str

    @classmethod
    def parse(cls, url: str, schema: str = "jobledger") -> PostgresStore:
        """``postgresql://user[:password]@host[:port]/database``."""
        parts = urlsplit(url)
        try:
            port = parts.port or 5432
        except ValueError:
            raise ConfigurationError(f"JOBLEDGER_DB: bad port in {url!r}") from None
        database = parts.path.lstrip("/")
        if not parts.hostname or not database:
            raise ConfigurationError("JOBLEDGER_DB: expected postgresql://user@host:port/database")
        return cls(
            host=parts.hostname,
            port=port,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=database,
            schema=schema,
        )

    def conninfo(self) -> str:
        return make_conninfo(
            host=self.host, port=self.port, user=self.user, password=self.password,
            dbname=self.dbname, connect_timeout=5,
        )  # fmt: skip

    def __str__(self) -> str:
        """Where it is, without the password."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname} ({self.schema})"
