"""The read models in PostgreSQL, read asynchronously with psycopg's pool."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from jobledger.adapters.store.postgres.database import one_line
from jobledger.adapters.store.sql.read_store import ReadStore, ReadStorePool
from jobledger.domain.errors import StoreUnavailable


class PostgresReadStore(ReadStore):
    """The read models on one pooled async connection (search path: the schema)."""

    def __init__(self, conn: psycopg.AsyncConnection[DictRow]) -> None:
        self.conn = conn

    async def _rows(self, statement: str, params: Sequence[Any]) -> list[Mapping[str, Any]]:
        cursor = await self.conn.execute(statement.replace("?", "%s"), list(params))
        return list(await cursor.fetchall())

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        async with self.conn.transaction(force_rollback=True):
            yield


class PostgresReadStorePool(ReadStorePool):
    """psycopg's async pool; each connection reads the ledger's schema."""

    def __init__(self, conninfo: str, schema: str, size: int = 4) -> None:
        self.schema = schema

        async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)

        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[DictRow]] = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=size,
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row},
            configure=configure,
            # A connection the server dropped (a restart) is replaced, not handed out.
            check=AsyncConnectionPool.check_connection,
        )

    async def open(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=10)
        except psycopg.Error as error:
            raise StoreUnavailable(f"cannot open the read store: {one_line(error)}") from None

    async def close(self) -> None:
        await self._pool.close()

    @contextlib.asynccontextmanager
    async def store(self) -> AsyncIterator[ReadStore]:
        async with self._pool.connection() as conn:
            yield PostgresReadStore(conn)
