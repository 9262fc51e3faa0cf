"""``jobledger serve`` (the HTTP API) and ``jobledger token`` (development tokens)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from jobledger.adapters.audit.periodic import start_checkpoints
from jobledger.adapters.auth.keys import mint_token, parse_ttl
from jobledger.adapters.bootstrap import (
    announcer,
    build_ledger,
    build_runner,
    build_services,
    build_sweeper,
    check_no_projections,
    subscribe,
)
from jobledger.adapters.cli.options import DbOption, PriceBookOption
from jobledger.adapters.cli.processes import MAX_PROCESSES, serve_processes
from jobledger.adapters.settings import Settings
from jobledger.projections.base import Positioned
from jobledger.projections.runner import Listener, ProjectionRunner

if TYPE_CHECKING:
    import uvicorn

    from jobledger.adapters.http.services import Services

err = Console(stderr=True)
DEMO_TENANT = "acme-bank"
DEMO_USERS = (  # role, subject (alice is one of the demo's analysts), what they see
    ("viewer", "demo-viewer@acme", "every job of the tenant, read only"),
    ("analyst", "alice@acme", "her own jobs; submit and cancel them"),
    ("admin", "demo-admin@acme", "every job of the tenant; cancel any"),
)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one)")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Also run simulated analysts and workers")
    ] = False,
    projections: Annotated[
        bool,
        typer.Option(
            "--projections/--no-projections",
            help="Keep the read models here, or leave that to `jobledger project`",
        ),
    ] = True,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_PROCESSES,
            help="API processes on one port (more than 1: plus one `jobledger project`, "
            "all stopped together)",
        ),
    ] = 1,
    listen_fd: Annotated[int | None, typer.Option(hidden=True)] = None,
    db: DbOption = None,
    price_book: PriceBookOption = None,
) -> None:
    """Serve the HTTP API and keep the read models current, until Ctrl-C."""
    settings = Settings.load(db=db, price_book=price_book)
    if not projections:
        check_no_projections(settings)
    if processes > 1:
        if demo:
            raise typer.BadParameter("--demo runs in one process", param_hint="'--processes'")
        raise typer.Exit(
            serve_processes(
                settings,
                host=host,
                port=port,
                processes=processes,
                projections=projections,
                db=db,
                price_book=price_book,
            )
        )
    services = build_services(settings, projections=projections)
    import uvicorn

    from jobledger.adapters.http.app import create_app

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
        threading.Thread(
            target=_demo_traffic, args=(server, settings, services, stop), name="demo", daemon=True
        ).start()
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        _print_demo_links(settings, f"http://{shown}:{port}")
    # A child of `serve --processes` leaves checkpoints to the projector beside it.
    checkpoints = (
        None if listen_fd is not None else start_checkpoints(services.ledger, settings, stop)
    )
    try:
        server.run(sockets=None if listen_fd is None else [socket.socket(fileno=listen_fd)])
    finally:
        stop.set()
        if checkpoints is not None:
            checkpoints.join(timeout=10)
        services.ledger.close()


def _print_demo_links(settings: Settings, url: str) -> None:
    """Sign-in links for the dashboard, one per kind of user: the token rides in the URL
    fragment, which the browser keeps to itself (no server or log sees it)."""
    err.print(
        f"jobledger serves {url} (API docs: {url}/docs)\n"
        f"Demo traffic for tenants acme-bank and globex-insurance is running.\n"
        f"Open the dashboard, signed in to {DEMO_TENANT} for 8 hours, as:"
    )
    for role, subject, what in DEMO_USERS:
        token = _mint(settings, DEMO_TENANT, [role], subject, "8h")
        err.print(f"  {role} {subject}: {what}")
        print(f"    {url}/#token={token}", flush=True)
    viewer = _mint(settings, DEMO_TENANT, ["viewer"], DEMO_USERS[0][1], "8h")
    err.print("\nOr call the API with this viewer token:")
    print(viewer, flush=True)
    err.print(f'Try: curl -H "Authorization: Bearer $TOKEN" {url}/v1/jobs\n', soft_wrap=True)


def _demo_traffic(
    server: uvicorn.Server, settings: Settings, services: Services, stop: threading.Event
) -> None:
    """Once the server listens, simulated analysts and workers call it until ``stop``."""
    from jobledger.adapters.cli.demo import run_traffic
    from jobledger.adapters.http.server import bound_url

    while not server.started:
        if stop.wait(0.05):
            return
    models = sorted(services.ledger.price_book.models)
    run_traffic(bound_url(server), settings, models, stop)


def project(
    db: DbOption = None,
    price_book: PriceBookOption = None,
) -> None:
    """Keep the read models current for API processes started with --no-projections, and
    sweep expired leases, until Ctrl-C.

    Safe to run twice (positions move by compare-and-set;
    one sweeper acts at a time), safe to kill at any moment (a batch commits with its position).
    A lost or restarted database is waited for and followed again; any other failure ends
    the process with a non-zero exit code, for its supervisor to restart it."""
    _log_outages_to_stderr()
    settings = Settings.load(db=db, price_book=price_book)
    ledger = build_ledger(settings)
    runner = build_runner(ledger)
    announce = announcer(ledger)
    if announce is not None:
        runner.listeners.append(announce)
    runner.listeners.append(_report_progress(runner))
    stop = threading.Event()
    build_sweeper(ledger, runner, settings).start(stop)
    checkpoints = start_checkpoints(ledger, settings, stop)
    err.print(
        f"jobledger project: read models at {runner.position():,} of "
        f"{runner.ledger_position():,}; following the ledger (Ctrl-C stops)"
    )
    try:
        runner.follow(subscribe(ledger), stop)
    except KeyboardInterrupt:
        err.print(f"stopped at {runner.position():,}")
    finally:
        stop.set()
        if checkpoints is not None:
            checkpoints.join(timeout=10)
        ledger.close()


def _log_outages_to_stderr() -> None:
    """The runner, the sweeper's lock and the store tell of an outage, and of its end,
    through logging: one line each."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("jobledger")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _report_progress(runner: ProjectionRunner) -> Listener:
    """A line every 10,000 events of a catch-up, so an operator sees it move."""
    last = [runner.position()]

    def report(events: Sequence[Positioned], position: int) -> None:
        if position - last[0] >= 10_000:
            last[0] = position
            err.print(f"read models at {position:,} of {runner.ledger_position():,}")

    return report


def token(
    tenant: Annotated[str, typer.Option(help="Tenant the token acts in")],
    role: Annotated[
        list[str], typer.Option(help="analyst, viewer, admin, auditor or worker; repeatable")
    ],
    sub: Annotated[str | None, typer.Option(help="Subject [default: ROLE@TENANT]")] = None,
    ttl: Annotated[str, typer.Option(help="Lifetime: 90s, 15m, 1h, 7d (at most 30d)")] = "1h",
    db: DbOption = None,
) -> None:
    """Print a development token signed with the ledger's development key."""
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
