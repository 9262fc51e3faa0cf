"""``jobledger audit``: checkpoints, verification and proofs for auditors. Exit code 0
only when everything checked holds; each break is one line naming job, version, position."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from jobledger.adapters.audit.auditor import prove_job, take_checkpoint, verify_log
from jobledger.adapters.audit.signing import ledger_key, public_pem, read_public_key, signed_by
from jobledger.adapters.audit.transfer import export_log, import_log
from jobledger.adapters.bootstrap import build_ledger
from jobledger.adapters.cli.options import DbOption
from jobledger.adapters.cli.reports import progress_bar
from jobledger.adapters.settings import Settings
from jobledger.adapters.store import backend_of
from jobledger.domain.audit.checkpoints import Checkpoint
from jobledger.domain.audit.exports import check_file
from jobledger.domain.errors import InvalidCommand

audit_app = typer.Typer(
    help="Prove that the log was not altered: checkpoints, verification, inclusion proofs.",
    no_args_is_help=True,
)
CheckpointFile = Annotated[
    Path | None, typer.Option(help="A checkpoint kept earlier (JSON, from `audit checkpoint`)")
]
PublicKeyOption = Annotated[
    Path | None,
    typer.Option(help="The ledger's public key (PEM) [default: from the ledger's own key]"),
]


def read_checkpoint(path: Path) -> Checkpoint:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidCommand(f"checkpoint {path}: {error}") from None
    return Checkpoint.from_json(document)


def parse_job(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise InvalidCommand(f"JOB: {text!r} is not a job id (a UUID)") from None


@audit_app.command("checkpoint")
def checkpoint(db: DbOption = None) -> None:
    """Take, sign and keep a checkpoint of the log; print it (JSON) to keep elsewhere."""
    settings = Settings.load(db=db)
    ledger = build_ledger(settings, create=False)
    try:
        taken = take_checkpoint(backend_of(ledger).audit_log(ledger), ledger_key(settings), now())
    finally:
        ledger.close()
    print(json.dumps(taken.to_json(), indent=2))


@audit_app.command("verify")
def verify(
    job: Annotated[str | None, typer.Option(help="Check one job's events and chain")] = None,
    since: CheckpointFile = None,
    public_key: PublicKeyOption = None,
    db: DbOption = None,
) -> None:
    """Re-read the whole log and report every break: changed, removed, inserted or
    reordered events, broken chains, checkpoints the log no longer produces."""
    settings = Settings.load(db=db)
    kept = [read_checkpoint(since)] if since is not None else []
    public = read_public_key(public_key) if public_key else ledger_key(settings).public_key()
    ledger = build_ledger(settings, create=False)
    try:
        log = backend_of(ledger).audit_log(ledger)
        total = (ledger.recorder.max_notification_id() or 0) if job is None else None
        with progress_bar() as progress:
            task = progress.add_task("verifying the log", total=total)
            verifier = verify_log(
                log,
                public,
                kept,
                job=parse_job(job) if job else None,
                on_progress=lambda n: progress.update(task, completed=n),
            )
            progress.update(task, completed=verifier.checked)
    finally:
        ledger.close()
    for found in verifier.breaks:
        print(found)
    if verifier.breaks:
        print(f"{len(verifier.breaks):,} breaks in {verifier.checked:,} events", file=sys.stderr)
        raise typer.Exit(1)
    size = "" if job else f"; tree size {verifier.tree.size:,}"
    plural = "" if verifier.checked == 1 else "s"
    print(f"verified {verifier.checked:,} event{plural}{size}")


@audit_app.command("prove")
def prove(
    job: Annotated[str, typer.Argument(help="The job whose events to prove")],
    checkpoint_file: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="Prove against this kept checkpoint [default: latest]"),
    ] = None,
    public_key: PublicKeyOption = None,
    db: DbOption = None,
) -> None:
    """Print the inclusion proof of each of the job's events (JSON Lines) in a checkpoint."""
    settings = Settings.load(db=db)
    job_id = parse_job(job)
    public = read_public_key(public_key) if public_key else ledger_key(settings).public_key()
    ledger = build_ledger(settings, create=False)
    try:
        log = backend_of(ledger).audit_log(ledger)
        if checkpoint_file is not None:
            against = read_checkpoint(checkpoint_file)
        else:
            stored = log.checkpoints()
            if not stored:
                raise InvalidCommand(
                    "no checkpoint yet: take one with `jobledger audit checkpoint`"
                )
            against = stored[-1]
        proofs = prove_job(log, job_id, against)
    finally:
        ledger.close()
    for inclusion in proofs:
        print(json.dumps(inclusion.to_json(against)))
    failed = not signed_by(against, public) or not all(p.holds for p in proofs)
    if not proofs:
        print(
            f"job {job_id} has no events in the checkpoint of {against.tree_size:,}",
            file=sys.stderr,
        )
    if failed or not proofs:
        raise typer.Exit(1)


def now() -> datetime:
    return datetime.now(UTC)


def parse_moment(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidCommand(f"--{name}: expected an ISO 8601 date or time, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@audit_app.command("export")
def export(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's events in full")] = None,
    since: Annotated[str | None, typer.Option(help="Events from this moment (ISO 8601)")] = None,
    until: Annotated[str | None, typer.Option(help="Events before this moment")] = None,
    db: DbOption = None,
) -> None:
    """Write the log, its hashes and checkpoints as JSON Lines to stdout. Events left out
    by --tenant, --since or --until appear as their hashes alone, so the file still
    verifies against the checkpoints."""
    window = parse_moment(since, "since"), parse_moment(until, "until")
    ledger = build_ledger(Settings.load(db=db), create=False)
    try:
        log = backend_of(ledger).audit_log(ledger)
        with progress_bar() as progress:
            task = progress.add_task("exporting", total=log.size())
            export_log(
                log,
                sys.stdout.write,
                tenant=tenant,
                since=window[0],
                until=window[1],
                on_progress=lambda n: progress.update(task, completed=n),
            )
            progress.update(task, completed=log.size())
    finally:
        ledger.close()


@audit_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="An export (JSON Lines) of a whole log")],
    public_key: PublicKeyOption = None,
    db: DbOption = None,
) -> None:
    """Load an export into an empty ledger; refused unless the file verifies (and, with
    --public-key, unless its checkpoints are signed by that key)."""
    public = read_public_key(public_key) if public_key else None
    ledger = build_ledger(Settings.load(db=db))
    try:
        log = backend_of(ledger).audit_log(ledger)
        with progress_bar() as progress:
            task = progress.add_task("importing", total=None)
            count = import_log(
                log,
                lambda: open_lines(file),
                (lambda c: signed_by(c, public)) if public else (lambda c: True),
                on_progress=lambda n: progress.update(task, completed=n),
            )
    finally:
        ledger.close()
    print(f"imported {count:,} events; hashes and checkpoints reproduced")


@audit_app.command("verify-file")
def verify_file(
    file: Annotated[Path, typer.Argument(help="An export (JSON Lines)")],
    public_key: Annotated[
        Path, typer.Option(help="The ledger's public key (PEM), from `audit public-key`")
    ],
    checkpoint_file: Annotated[
        Path | None, typer.Option("--checkpoint", help="A checkpoint you kept (JSON)")
    ] = None,
) -> None:
    """Check an export with no database: every event's hash, each job's chain, and the
    roots of the file's checkpoints and of the one you kept."""
    public = read_public_key(public_key)
    kept = [read_checkpoint(checkpoint_file)] if checkpoint_file else []
    checked = check_file(open_lines(file), lambda c: signed_by(c, public), kept)
    for found in checked.breaks:
        print(found)
    if checked.breaks:
        raise typer.Exit(1)
    print(
        f"verified {checked.events:,} events and {checked.leaves - checked.events:,} bare "
        f"leaves against {len(checked.checkpoints) + len(kept):,} checkpoints"
    )


@audit_app.command("public-key")
def public_key_(db: DbOption = None) -> None:
    """Print the ledger's public key (PEM), for auditors who check exports offline."""
    print(public_pem(ledger_key(Settings.load(db=db))).decode(), end="")


def open_lines(path: Path) -> Iterator[str]:
    try:
        with path.open(encoding="utf-8") as file:
            yield from file
    except OSError as error:
        raise InvalidCommand(f"{path}: {error}") from None
