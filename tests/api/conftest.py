"""A real uvicorn server on a free port, in this process, with tokens to call it."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from jobledger.adapters.auth.keys import dev_key_path, ensure_dev_key, mint_token
from jobledger.adapters.bootstrap import build_services
from jobledger.adapters.http.server import serving
from jobledger.adapters.http.services import Services
from jobledger.adapters.settings import Settings
from jobledger.domain.ledger import Clock, Ledger, utc_now
from tests.conftest import postgres_schema


@dataclass
class Api:
    """A running server, the ledger behind it, and a way to mint tokens for it."""

    url: str
    services: Services
    settings: Settings
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def ledger(self) -> Ledger:
        return self.services.ledger

    def token(self, role: str | list[str], tenant: str = "acme", sub: str | None = None) -> str:
        roles = [role] if isinstance(role, str) else role
        return mint_token(
            self.settings,
            tenant=tenant,
            roles=roles,
            subject=sub or f"{roles[0]}@{tenant}",
            ttl=timedelta(hours=1),
            now=datetime.now(UTC),
        )

    def forged(self, **changes: Any) -> str:
        """A token with some claims or the algorithm changed, for refusal tests."""
        key = ensure_dev_key(dev_key_path(self.settings))
        now = datetime.now(UTC)
        claims = {
            "sub": "viewer@acme",
            "tenant": "acme",
            "roles": ["viewer"],
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(hours=1)).timestamp()),
        }
        algorithm = changes.pop("alg", "RS256")
        claims.update(changes)
        claims = {k: v for k, v in claims.items() if v is not None}
        if algorithm == "none":
            return jwt.encode(claims, None, algorithm="none")
        if algorithm == "HS256":
            return jwt.encode(claims, "a shared secret of thirty-two bytes!", algorithm="HS256")
        return jwt.encode(claims, key.pem, algorithm="RS256", headers={"kid": key.kid})

    @functools.cached_property
    def http(self) -> httpx.Client:
        """One client without a token, for many calls that each bring their own header."""
        return self.client()

    def client(self, token: str | None = None, **options: Any) -> httpx.Client:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30, **options)
        self.clients.append(client)
        return client

    def as_role(
        self, role: str | list[str], tenant: str = "acme", sub: str | None = None
    ) -> httpx.Client:
        return self.client(self.token(role, tenant, sub))

    def wait_for_read_models(self, timeout: float = 10.0) -> None:
        """Until the server's read models have every event recorded so far."""
        end = self.ledger.recorder.max_notification_id() or 0
        deadline = time.monotonic() + timeout
        while self.services.feed.position < end:
            assert time.monotonic() < deadline, "the read models did not catch up"
            time.sleep(0.01)


def run_api(folder: Path, projections: bool = True, **settings_given: Any) -> Iterator[Api]:
    """A server on ``folder/ledger.db`` with these settings, until the generator closes."""
    settings = Settings(db=f"sqlite:///{folder / 'ledger.db'}", **settings_given)
    yield from serve(settings, projections)


def serve(settings: Settings, projections: bool = True, clock: Clock = utc_now) -> Iterator[Api]:
    services = build_services(settings, projections=projections, clock=clock)
    try:
        with serving(services) as url:
            api = Api(url, services, settings)
            try:
                yield api
            finally:
                for client in api.clients:
                    client.close()
    finally:
        services.ledger.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server for the module on each store: tests keep apart by tenant and subject."""
    if request.param == "sqlite":
        yield from run_api(tmp_path_factory.mktemp("api"))
        return
    with postgres_schema() as settings:
        yield from serve(settings)
