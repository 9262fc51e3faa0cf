"""Export a ledger's log as JSON Lines, and import an export into an empty ledger.

An import inserts the events at their exported positions and hashes them as the
recorder would; it refuses a file that does not verify, a filtered export (it lacks
contents), a non-empty ledger, and hashes that come out differently (rolled back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import islice
from uuid import UUID

from jobledger.adapters.audit.auditor import Progress, counted
from jobledger.adapters.store.sql.audit_log import SqlAuditLog
from jobledger.adapters.store.sql.hashes import HASHES
from jobledger.domain.audit.checkpoints import Checkpoint
from jobledger.domain.audit.exports import (
    check_file,
    checkpoint_line,
    event_line,
    events_of,
    header_line,
    leaf_line,
    parse,
    tenant_and_time,
)
from jobledger.domain.audit.leaves import StoredRecord
from jobledger.domain.audit.verification import paired
from jobledger.domain.errors import InvalidCommand

BATCH = 1_000


def export_log(
    log: SqlAuditLog,
    write: Callable[[str], object],
    *,
    tenant: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    on_progress: Progress | None = None,
) -> int:
    """Write the log; events outside the tenant or window become bare leaves. The
    count of events written with their contents."""
    write(header_line(filtered=bool(tenant or since or until)) + "\n")
    written = 0
    for event, chained in counted(paired(log.events(), log.leaves()), on_progress):
        if event is None or chained is None:
            at = event.position if event else chained[0].position if chained else "?"
            raise InvalidCommand(f"the log does not verify at position {at}: run `audit verify`")
        record = chained[0]
        owner, when = tenant_and_time(event.state)
        shown = (
            (tenant is None or owner == tenant)
            and (since is None or (when is not None and when >= since))
            and (until is None or (when is not None and when < until))
        )
        write((event_line(event, record) if shown else leaf_line(record)) + "\n")
        written += shown
    for checkpoint in log.checkpoints():
        write(checkpoint_line(checkpoint) + "\n")
    return written


def import_log(
    log: SqlAuditLog,
    read: Callable[[], Iterable[str]],
    signed: Callable[[Checkpoint], bool],
    on_progress: Progress | None = None,
) -> int:
    """Import an export (``read`` opens it afresh: it is read twice, so memory stays
    flat) into an empty ledger; the count of events imported."""
    if log.size() or next(log.events(batch=1), None) is not None:
        raise InvalidCommand("import: the ledger is not empty; import into a new one")
    checked = check_file(read(), signed)
    if checked.filtered:
        raise InvalidCommand("import: the file is a filtered export (it holds leaves only)")
    if checked.breaks:
        raise InvalidCommand(f"import: the file does not verify: {checked.breaks[0]}")
    if checked.events != checked.leaves:
        raise InvalidCommand("import: the file holds leaves without their events")
    tables, m = log.tables, log.tables.dialect.mark
    events = tables.dialect.name(tables.events)
    insert = (
        f"INSERT INTO {events} ({tables.position}, originator_id, originator_version, topic, "
        f"state) VALUES ({m}, {m}, {m}, {m}, {m})"
    )
    with log.datastore.transaction(commit=True) as cursor:
        stream = counted(events_of(read()), on_progress, BATCH)
        while batch := list(islice(stream, BATCH)):
            cursor.executemany(insert, [_row(log, e) for e in batch])
        if tables.after_import:
            cursor.execute(tables.after_import)
        tables.backfill(cursor)
        _same_leaves(cursor, log, read)
        for item in parse(read()):
            if item["type"] == "checkpoint":
                log.insert_checkpoint(cursor, Checkpoint.from_json(item))
    return checked.events


def _same_leaves(cursor: object, log: SqlAuditLog, read: Callable[[], Iterable[str]]) -> None:
    """The hashes the store computed are the file's, or the import is rolled back."""
    name = log.tables.dialect.name(HASHES)
    wanted = (bytes.fromhex(i["leaf"]) for i in parse(read()) if i["type"] == "event")
    index = 0
    while True:
        cursor.execute(  # type: ignore[attr-defined]
            f"SELECT leaf FROM {name} WHERE leaf_index >= {log.tables.dialect.mark} "
            f"ORDER BY leaf_index LIMIT {BATCH}",
            (index,),
        )
        rows = cursor.fetchall()  # type: ignore[attr-defined]
        for row in rows:
            if bytes(row["leaf"]) != next(wanted, None):
                raise InvalidCommand(f"import: leaf {index} came out differently; nothing imported")
            index += 1
        if len(rows) < BATCH:
            return


def _row(log: SqlAuditLog, e: StoredRecord) -> tuple[object, ...]:
    return (e.position, log.tables.stored_id(UUID(e.originator_id)), e.version, e.topic, e.state)
