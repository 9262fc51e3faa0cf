"""The composition root: the one place that builds a Ledger from settings.

Nothing here runs at import time; callers build what they need, when they need it.
What differs between stores comes from the store's backend (``adapters/store/``);
nothing here asks which store it is. The HTTP API's parts are imported only by the
functions that build it, so every other command starts without loading a web framework.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from jobledger.adapters.price_books import load_price_book
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_for, backend_of, backends
from jobledger.adapters.store.sql.read_store import ReadStorePool
from jobledger.adapters.store.sql.writer import SqlReadModelWriter
from jobledger.adapters.sweeper import LeaseSweeper
from jobledger.domain.errors import ConfigurationError, StoreUnavailable
from jobledger.domain.ledger import Clock, Ledger, utc_now
from jobledger.domain.retries import RetryPolicy
from jobledger.projections.base import BatchProjection
from jobledger.projections.catalog import PROJECTIONS
from jobledger.projections.runner import BatchSubscription, Listener, ProjectionRunner, Subscribe

if TYPE_CHECKING:
    from jobledger.adapters.http.services import Services

log = logging.getLogger("jobledger")


def build_ledger(settings: Settings, *, clock: Clock = utc_now, create: bool = True) -> Ledger:
    """The ledger on the configured store; ``create=False`` refuses to start a new one
    (so a mistyped path in a read command is an error, not an empty ledger)."""
    backend = backend_for(settings)
    backend.prepare(create=create)
    price_book = load_price_book(settings.price_book)
    try:
        with backend.creating_tables():
            return Ledger(
                {**backend.persistence_env(settings), **cache_env(settings)},
                price_book=price_book,
                clock=clock,
                retry=RetryPolicy(settings.retry_base_seconds, settings.retry_max_seconds),
            )
    except backend.errors as error:
        raise StoreUnavailable(f"cannot open {backend}: {backend.describe_error(error)}") from None


def cache_env(settings: Settings) -> dict[str, str]:
    """The ledger's job cache, sized by the settings (empty: off)."""
    size = settings.job_cache_size
    return {"AGGREGATE_CACHE_MAXSIZE": str(size) if size else ""}


def read_pool(ledger: Ledger, size: int = 4) -> ReadStorePool:
    """Async read stores over the ledger's read models, on its own store."""
    return backend_of(ledger).read_pool(size)


def build_runner(ledger: Ledger) -> ProjectionRunner:
    """The four read models, in the ledger's own database, and their runner."""
    backend = backend_of(ledger)
    view = backend.read_model_writer(ledger)
    projections = [cls(view) for cls in PROJECTIONS]
    try:
        with backend.creating_tables():
            _drop_outdated(view, projections)
            view.create_table()
            stored = view.stored_versions()
            view.record_versions(
                {p.name: p.version for p in projections if stored.get(p.name, 0) < p.version}
            )
    except backend.errors as error:
        message = backend.describe_error(error)
        raise StoreUnavailable(f"cannot create the read models' tables: {message}") from None
    return ProjectionRunner(ledger.recorder, ledger.mapper, projections, owner=ledger)


def _drop_outdated(view: SqlReadModelWriter, projections: Sequence[BatchProjection]) -> None:
    """A read model from an older release, whose stored columns are not the contract's or
    whose rows an older version of its rules built, is dropped with its position and made
    anew: the runner rebuilds it from the events, which are the truth. Rows of a newer
    version (a newer process shares the store) are left alone."""
    versions = view.stored_versions()
    for projection in projections:
        tables = projection.tables
        stored = [view.stored_columns(t) for t in tables]
        if all(s is None for s in stored):
            continue  # a new store: nothing to rebuild
        if any(
            s is not None and s != list(t.column_names) for s, t in zip(stored, tables, strict=True)
        ):
            why = "its tables changed"
        elif versions.get(projection.name, 1) < projection.version:
            why = f"its rules changed (version {projection.version})"
        else:
            continue
        log.warning("rebuilding the %s read model: %s", projection.name, why)
        view.drop(tables, projection.tracking_name)


def build_sweeper(ledger: Ledger, runner: ProjectionRunner, settings: Settings) -> LeaseSweeper:
    """The lease sweeper over the runner's job summaries, under the store's sweep lock
    (on a shared store, only one process sweeps at a time)."""
    view = runner.projection("job_summaries").view
    assert isinstance(view, SqlReadModelWriter)
    lock = backend_of(ledger).sweep_lock()
    return LeaseSweeper(ledger, view, lock, interval=settings.sweep_seconds)


def subscribe(ledger: Ledger) -> Subscribe:
    """Live notifications from the ledger's store, for ``ProjectionRunner.follow``."""
    backend = backend_of(ledger)

    def start(after: int) -> BatchSubscription:
        return backend.subscription(ledger, after)

    return start


def announcer(ledger: Ledger) -> Listener | None:
    """How a projection runner tells API processes elsewhere that it moved (None where
    every API process runs its own runner)."""
    return backend_of(ledger).announcer()


def check_no_projections(settings: Settings) -> None:
    """``serve --no-projections`` needs a store whose read models another process keeps."""
    backend = backend_for(settings)
    if not backend.shares_read_models:
        sharing = " or ".join(b.example for b in backends() if b.shares_read_models)
        raise ConfigurationError(
            f"--no-projections needs a store whose read models processes share ({sharing}); "
            f"on {backend.schemes[0]}... each serve keeps the read models itself"
        )


def build_services(
    settings: Settings, *, clock: Clock = utc_now, projections: bool = True
) -> Services:
    """Everything the HTTP API needs; ``projections=False`` leaves the read models to
    another process. The app opens the read stores and starts the runner itself."""
    from jobledger.adapters.auth.keys import build_verifier
    from jobledger.adapters.http.changes import ChangeSource, Listening, Projecting
    from jobledger.adapters.http.feed import ChangeFeed
    from jobledger.adapters.http.metrics import Metrics
    from jobledger.adapters.http.services import Services

    backend = backend_for(settings)
    ledger = build_ledger(settings, clock=clock)
    runner = build_runner(ledger)  # creates the read models' tables before anyone reads them
    changes: ChangeSource | None = None  # None: nobody projects (a test of a lagging server)
    elsewhere = backend.projections_elsewhere()
    if projections:
        changes = Projecting(runner, subscribe(ledger), backend.announcer())
    elif elsewhere is not None:

        def reached() -> int:
            return min(runner.positions().values(), default=0)

        changes = Listening(elsewhere(reached), reached)
    return Services(
        settings=settings,
        ledger=ledger,
        reads=backend.read_pool(4),
        verifier=build_verifier(settings),
        feed=ChangeFeed(),
        metrics=Metrics(),
        changes=changes,
        sweeper=build_sweeper(ledger, runner, settings) if projections else None,
    )
