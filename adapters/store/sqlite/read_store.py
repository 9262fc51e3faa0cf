"""The read models in the ledger's SQLite file, read asynchronously with aiosqlite.

A read by key (a job's summary: what every GET of a job and every long poll wakes to)
takes SQLite microseconds, far less than handing it to aiosqlite's thread and back
(the hop, the thread's wake-up and the GIL passed twice). So each store also holds a
plain connection of its own that such a read runs on, in the event loop's thread. It
never waits for a lock: if SQLite is busy (which WAL makes rare for a reader), the
read goes the aiosqlite way, which waits as it always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from jobledger.adapters.store.sql.read_store import ReadStore, ReadStorePool


class SQLiteReadStore(ReadStore):
    """The read models in the ledger's SQLite file, on one aiosqlite connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._here: sqlite3.Connection | None = None  # for reads by key, in this thread
        self._in_snapshot = False  # then every read goes through the snapshot's connection

    async def __aenter__(self) -> Self:
        self._db = await aiosqlite.connect(f"file:{self.path}?mode=ro", uri=True)
        self._db.row_factory = aiosqlite.Row
        # timeout=0: busy is answered at once, never waited for in the event loop
        self._here = sqlite3.connect(
            f"file:{self.path}?mode=ro", uri=True, timeout=0, check_same_thread=False
        )
        self._here.row_factory = sqlite3.Row
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._here is not None:
            self._here.close()
        if self._db is not None:
            await self._db.close()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("open the read store with `async with` first")
        return self._db

    async def _rows(self, sql: str, params: Sequence[Any]) -> list[Mapping[str, Any]]:
        return list(await self.db.execute_fetchall(sql, params))  # type: ignore[arg-type]

    async def _key_rows(self, sql: str, params: Sequence[Any]) -> list[Mapping[str, Any]]:
        if self._here is None:
            raise RuntimeError("open the read store with `async with` first")
        if self._in_snapshot:
            return await self._rows(sql, params)
        try:
            return list(self._here.execute(sql, params).fetchall())
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
        return await self._rows(sql, params)

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        await self.db.execute("BEGIN")
        self._in_snapshot = True
        try:
            yield
        finally:
            self._in_snapshot = False
            await self.db.execute("ROLLBACK")


class SQLiteReadStorePool(ReadStorePool):
    def __init__(self, path: Path, size: int = 4) -> None:
        self.path = path
        self.size = size
        self._idle: asyncio.Queue[SQLiteReadStore] = asyncio.Queue()
        self._all: list[SQLiteReadStore] = []

    async def open(self) -> None:
        for _ in range(self.size):
            store = await SQLiteReadStore(self.path).__aenter__()
            self._all.append(store)
            self._idle.put_nowait(store)

    async def close(self) -> None:
        for store in self._all:
            await store.__aexit__(None, None, None)
        self._all.clear()

    @contextlib.asynccontextmanager
    async def store(self) -> AsyncIterator[ReadStore]:
        store = await self._idle.get()
        try:
            yield store
        finally:
            self._idle.put_nowait(store)
