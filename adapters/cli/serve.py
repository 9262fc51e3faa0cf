"""``jobledger serve`` (the HTTP API) and ``jobledger token`` (development tokens)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from jobledger.adapters.auth import mint_token, parse_ttl
from jobledger.adapters.bootstrap import build_services
from jobledger.adapters.cli.options import DbOption, PriceBookOption
from jobledger.adapters.http.app import create_app
from jobledger.adapters.settings import Settings

err = Console(stderr=True)
DEMO_TENANT = "acme-bank"


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one)")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Also run simulated analysts and workers")
    ] = False,
    db: DbOption = None,
    price_book: PriceBookOption = None,
) -> None:
    """Serve the HTTP API and keep the read models current, until Ctrl-C."""
    settings = Settings.load(db=db, price_book=price_book)
    services = build_services(settings)
    app = create_app(services)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=3,
        access_log=False,
    )
    server = uvicorn.Server(config)
    stop = threading.Event()
    if demo:
        from jobledger.adapters.cli.demo import run_traffic

        threading.Thread(
            target=run_traffic, args=(services.ledger, stop), name="demo", daemon=True
        ).start()
        viewer = _mint(settings, DEMO_TENANT, ["viewer"], "demo-viewer@acme", "8h")
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        err.print(
            f"jobledger serves http://{shown}:{port} (API docs: http://{shown}:{port}/docs)\n"
            f"Demo traffic for tenants acme-bank and globex-insurance is running.\n"
            f"A viewer token for {DEMO_TENANT} (8 hours):\n"
        )
        print(viewer, flush=True)
        err.print(f'\nTry: curl -H "Authorization: Bearer $TOKEN" http://{shown}:{port}/v1/jobs\n')
    try:
        server.run()
    finally:
        stop.set()
        services.ledger.close()


def token(
    tenant: Annotated[str, typer.Option(help="Tenant the token acts in")],
    role: Annotated[
        list[str], typer.Option(help="analyst, viewer, admin, auditor or worker; repeatable")
    ],
    sub: Annotated[str | None, typer.Option(help="Subject [default: ROLE@TENANT]")] = None,
    ttl: Annotated[str, typer.Option(help="Lifetime: 90s, 15m, 1h, 7d (at most 30d)")] = "1h",
    db: DbOption = None,
) -> None:
    """Print a development token signed with the key beside the database."""
    settings = Settings.load(db=db)
    print(_mint(settings, tenant, role, sub or f"{role[0]}@{tenant}", ttl))


def _mint(settings: Settings, tenant: str, roles: list[str], sub: str, ttl: str) -> str:
    return mint_token(
        settings,
        tenant=tenant,
        roles=roles,
        subject=sub,
        ttl=parse_ttl(ttl),
        now=datetime.now(UTC),
    )
