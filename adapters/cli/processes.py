"""``jobledger serve --processes N``: N API processes on one listening socket, and one
projector, under a supervisor that stops them all together.

Each API process is an ordinary ``serve --no-projections`` that accepts connections
on a socket the supervisor bound and handed down (the kernel gives each connection
to one of them); the projector is an ordinary ``project``, which also sweeps expired
leases. One Python process runs on one core at a time, so on SQLite as on PostgreSQL
this is how a server uses more than one.
"""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

from jobledger.adapters.bootstrap import build_ledger, build_runner
from jobledger.adapters.settings import Settings

MAX_PROCESSES = 16  # past the cores of any one machine this is meant for
STOP_SECONDS = 15  # a child that has not stopped by then is killed
PR_SET_PDEATHSIG = 1  # Linux's prctl option: a signal for the child when its parent dies
err = Console(stderr=True)


def cli(*args: str) -> list[str]:
    """A jobledger command run by this same interpreter."""
    return [sys.executable, "-m", "jobledger.adapters.cli", *args]


def listen(host: str, port: int) -> socket.socket:
    """The socket every API process accepts on, inherited by each; a host or port it
    cannot have is the user's to change (exit code 2)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as error:  # in use, not this machine's, not a host (gaierror)
        why = error.strerror or str(error)
        raise typer.BadParameter(
            f"cannot listen on {host}:{port}: {why}", param_hint="'--host' / '--port'"
        ) from None
    sock.set_inheritable(True)
    return sock


def serve_processes(
    settings: Settings,
    *,
    host: str,
    port: int,
    processes: int,
    projections: bool,
    db: str | None,
    price_book: Path | None,
) -> int:
    """Run until Ctrl-C or SIGTERM, or until a child ends on its own (then the others
    are stopped too, and its exit code is returned for a supervisor to act on)."""
    sock = listen(host, port)  # first: a port in use changes nothing
    ledger = build_ledger(settings)  # the tables, made once, before the children race
    try:
        build_runner(ledger)
    finally:
        ledger.close()
    stop = stopped_by_signals()  # before the children start, which then take Ctrl-C too
    store = [
        *(["--db", db] if db else []),
        *(["--price-book", str(price_book)] if price_book else []),
    ]
    bound = sock.getsockname()[1]
    fd = sock.fileno()
    api = cli("serve", "--no-projections", "--host", host, "--port", str(bound), *store)
    # Each child in a process group of its own: Ctrl-C in a terminal reaches only the
    # supervisor, which passes it on once (a second SIGINT would make uvicorn hurry).
    children = [
        subprocess.Popen(
            [*api, "--listen-fd", str(fd)],
            pass_fds=(fd,),
            process_group=0,
            preexec_fn=dies_with_supervisor,
        )
        for _ in range(processes)
    ]
    if projections:
        project = cli("project", *store)
        children.append(subprocess.Popen(project, process_group=0, preexec_fn=dies_with_supervisor))
    sock.close()  # the children hold it now
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    projector = " and a projector" if projections else ""
    err.print(
        f"jobledger serves http://{shown}:{bound} with {processes} API processes{projector} "
        "(Ctrl-C stops)"
    )
    return supervise(children, stop)


def dies_with_supervisor() -> None:
    """Run in each child before it starts: on Linux it gets SIGTERM when the supervisor
    dies, even by SIGKILL, which the supervisor cannot pass on. Elsewhere, nothing."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stopped_by_signals() -> threading.Event:
    """Set by Ctrl-C or SIGTERM. Handling SIGINT here also gives the children its default
    handling when this process was started with it ignored (in the background of a script)."""
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stopping)
    return stop


def supervise(children: list[subprocess.Popen[bytes]], stop: threading.Event) -> int:
    ended: int | None = None
    while ended is None and not stop.wait(0.2):
        ended = next((c.returncode for c in children if c.poll() is not None), None)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)  # each stops gracefully on Ctrl-C
    for child in children:
        try:
            child.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if ended is not None:
        err.print(f"a child process ended with exit code {ended}; stopped the others")
        return ended or 1
    return 0
