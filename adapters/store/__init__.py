"""The stores: one folder per store (``sqlite/``, ``postgres/``) over shared SQL (``sql/``).

Each store's package exports ``Backend``, a :class:`~jobledger.adapters.store.backend.StoreBackend`;
they are found here, so a new store is one new folder.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import TYPE_CHECKING

from jobledger.domain.errors import ConfigurationError

if TYPE_CHECKING:
    from jobledger.adapters.settings import Settings
    from jobledger.adapters.store.backend import StoreBackend
    from jobledger.domain.ledger import Ledger


@functools.cache
def backends() -> tuple[type[StoreBackend], ...]:
    """Every store folder's ``Backend``, in name order."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        if module.ispkg:
            package = importlib.import_module(f"{__name__}.{module.name}")
            backend = getattr(package, "Backend", None)
            if backend is not None:
                found.append(backend)
    return tuple(found)


def backend_for(settings: Settings) -> StoreBackend:
    """The backend of the store ``settings.db`` names."""
    url = settings.db
    for backend in backends():
        if url.startswith(backend.schemes):
            return backend.from_url(url, settings)
    expected = " or ".join(b.example for b in backends())
    raise ConfigurationError(f"JOBLEDGER_DB: cannot use {url!r}; expected {expected}")


def backend_of(ledger: Ledger) -> StoreBackend:
    """The backend of the store an open ledger is on."""
    for backend in backends():
        found = backend.of_ledger(ledger)
        if found is not None:
            return found
    raise ConfigurationError(f"no store backend for {type(ledger.factory).__name__}")
