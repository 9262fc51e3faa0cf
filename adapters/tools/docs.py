"""Generate the docs that are derived from code: the lifecycle, the event catalogue, the
read models' tables, the routes, and the architecture diagram.

``python -m jobledger.adapters.tools.docs`` rewrites them (``make docs``); ``--check``
exits 1 when the committed files have drifted. A test runs the check.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from pathlib import Path

from fastapi.routing import APIRoute

from jobledger.adapters.graphql import schema as graphql_schema
from jobledger.adapters.http.app import ROUTERS
from jobledger.adapters.http.security import Allowed, authenticated
from jobledger.adapters.tools import architecture
from jobledger.domain.events import EVENT_TYPES, JobEvent
from jobledger.domain.lifecycle import markdown_table, mermaid_diagram
from jobledger.domain.task_lifecycle import FINAL, TASK_TRANSITIONS
from jobledger.projections.catalog import PROJECTION_NAMES
from jobledger.projections.runner import BATCH_SIZE
from jobledger.projections.schema import ALL_TABLES, Table

DOCS = Path(__file__).resolve().parents[2] / "docs"

COMMON_FIELDS = {
    "originator_id": "the job id (UUID)",
    "originator_version": "the job's version after this event; 1 for JobSubmitted",
    "timestamp": "ledger time, UTC, when the event was recorded",
    "actor": "the authenticated subject that issued the command",
    "tenant": "the tenant that owns the job",
    "correlation_id": "the workflow the event belongs to, for an auditor to follow across "
    "services: the `X-Correlation-ID` (else the `traceparent` trace id) of the HTTP write "
    "that caused it; a claim or worker command naming none continues the id the job was "
    "submitted with, a submit or cancel naming none gets a new one "
    "([api.md](api.md#correlation-ids)); in-process commands name it in `CommandMeta` "
    "(a new one by default)",
}

FIELD_NOTES = {
    "originator_topic": "the aggregate class, for eventsourcing (`jobledger.domain.job:Job`)",
    "job_type": "one of the job types (see README)",
    "investigation_id": "the investigation the job belongs to, if any",
    "priority": "0 (lowest) to 9",
    "max_attempts": "attempts before a failure or an expired lease is final",
    "pool": (
        "the agent pool: on JobSubmitted the only pool that may claim it; "
        "on JobClaimed the claimant's"
    ),
    "inputs": "references (name, media_type, size_bytes, uri); the ledger never stores the bytes",
    "config": "free-form JSON configuration for the worker",
    "metadata": "free-form JSON for the submitter",
    "agent": "the worker that holds (or held) the lease",
    "lease_id": "the fencing token: worker commands must carry the current one",
    "lease_expires_at": "when the lease lapses unless renewed (UTC); every worker command "
    "renews it (None in histories from before that rule)",
    "not_before": "the retry back-off: the job may not be claimed before this (UTC)",
    "attempt": "the attempt number this event belongs to, from 1",
    "reason": "why, in the actor's words",
    "percent": "progress 0-100; never lower than the job's last report",
    "message": "a human-readable note",
    "findings": "preliminary counts by kind (entities, relationships, anomalies, predictions)",
    "model": "the model that consumed the tokens",
    "input_tokens": "prompt tokens",
    "output_tokens": "completion tokens",
    "cached_input_tokens": "prompt tokens served from cache",
    "cost": "Decimal cost at the price book in force then; null when the model had no price",
    "currency": "ISO 4217 code of the cost",
    "price_book_version": "the price book version used to price this usage",
    "input_per_million": "unit price used per million input tokens; null if unpriced",
    "output_per_million": "unit price used per million output tokens; null if unpriced",
    "cached_input_per_million": "unit price used per million cached input tokens; null if unpriced",
    "result": "the typed result, validated against the job type's model",
    "code": "a machine-readable error code, e.g. rate_limited",
    "retryable": "whether the worker said a retry could succeed",
    "outcome": "where the job went: requeued, failed or cancelled",
    "subject": "what a job of tasks analyses (a sample's sha256, an input reference)",
    "workers": "the named workers, one task each",
    "task_ids": "the tasks' ids, in the order of `workers`",
    "task_id": "the task (of this job) the event is about",
    "worker": "the worker the task is named for",
    "score": "0 to 100, or -1 for an uncertain result (on VerdictReached: the verdict)",
    "analyses": "ids of the analyses the task produced",
    "counted": "every score the verdict counted: worker, task, score, and its source "
    "(`task`: this task's own result; `earlier`: task `source_task_id` of the earlier job "
    "`source_job_id`, standing in for a failed or timed-out task)",
    "first_step": "the number in the job of the batch's first step (from 1); the rest follow",
    "steps": "the agent's steps, in order, as `docs/steps.md` describes them; each with its "
    "`usage` (model, tokens, cost and prices as priced then) or null",
}


def lifecycle_doc() -> str:
    return (
        "# Job lifecycle\n\n"
        "<!-- Generated from domain/lifecycle.py by `make docs`; "
        "a test fails when it drifts. -->\n\n"
        "Terminal states: completed, failed, cancelled. A worker command after `claim` must\n"
        "carry the current lease id; a stale one is refused with `LeaseMismatch`. A trigger the\n"
        "table does not allow is refused with `IllegalTransition`, which names the job, its\n"
        "state, the trigger and the triggers allowed now; nothing is recorded.\n\n"
        "```mermaid\n"
        + mermaid_diagram()
        + "```\n\n"
        + markdown_table()
        + TASKS_SECTION
        + "```mermaid\n"
        + mermaid_diagram(TASK_TRANSITIONS, sorted(FINAL))
        + "```\n\n"
        + markdown_table(TASK_TRANSITIONS)
    )


TASKS_SECTION = """
## Tasks

<!-- Generated from domain/task_lifecycle.py. -->

A job submitted with a `subject` and a list of `workers` holds exactly one task per named
worker, and its own status follows its tasks by the `*_task` and `decide` rows above: it
is `running` once a task executes (`claim_task`); when every task is final the verdict is
decided in the same write (`decide`): `completed` with the verdict as its result when a
score counted, `failed` with `no_verdict` when none did. Cancelling the job cancels every
task not yet final. A job of tasks is never claimed whole (`claim` is refused).

Final task states: cancelled, failed, successful, timeout. A task command must come from
the worker the task is named for (`NotNamedWorker` otherwise) and carry the task's current
lease id; a trigger the table does not allow is refused with `IllegalTaskTransition`.

The verdict (`domain/verdict.py`): a successful task's score counts; a failed or timed-out
task counts the most recent successful result of the same worker on the same subject from
an earlier job (submitted before this one), if there is one; a cancelled task is left out.
The verdict is the highest counted score other than -1; -1 (uncertain) when every counted
score is -1; no verdict when nothing counts. `VerdictReached` lists every counted score and
where it came from.

"""


def _event_section(event: type[JobEvent]) -> str:
    doc = inspect.getdoc(event)
    if doc and doc.startswith(f"{event.__name__}("):
        doc = None  # the signature dataclasses put where a class has no docstring
    lines = [f"## {event.__name__}", "", f"Trigger: `{event.trigger}`.", ""]
    if doc:
        lines += [doc, ""]
    own = [f for f in dataclasses.fields(event) if f.name not in COMMON_FIELDS]
    if own:
        lines += ["| field | type | meaning |", "|---|---|---|"]
        for field in own:
            note = FIELD_NOTES.get(field.name)
            if note is None:
                raise KeyError(f"{event.__name__}.{field.name} has no description in FIELD_NOTES")
            type_text = str(field.type).replace("|", "\\|")
            lines.append(f"| `{field.name}` | `{type_text}` | {note} |")
        lines.append("")
    return "\n".join(lines)


def events_doc() -> str:
    common = "\n".join(f"| `{name}` | {note} |" for name, note in COMMON_FIELDS.items())
    return (
        "# Event catalogue\n\n"
        "<!-- Generated from domain/events.py by `make docs`; "
        "a test fails when it drifts. -->\n\n"
        "Events are named in the past tense, carry only facts and never change once written.\n"
        "Money is stored as a Decimal string, times as ISO 8601 UTC, ids as UUIDs.\n\n"
        "**Changing an event.** Stored events are never rewritten. To change a class, raise its\n"
        "`class_version` and add a static `upcast_v1_v2(state)` that turns the old stored state\n"
        "into the new (eventsourcing's upcasting); `apply` must still accept every version.\n"
        "Renaming a class or module needs `register_topic(old_topic, new_class)`.\n\n"
        "Every event carries these fields:\n\n| field | meaning |\n|---|---|\n"
        + common
        + "\n\n"
        + "\n".join(_event_section(event) for event in EVENT_TYPES)
    )


def _table_section(table: Table) -> str:
    key = ", ".join(table.key)
    lines = [f"### `{table.name}`", "", table.meaning, "", f"Primary key: `({key})`."]
    if table.indexes:
        indexes = "; ".join(f"`({', '.join(i)})`" for i in table.indexes)
        lines.append(f"Indexed on {indexes}.")
    lines += ["", "| column | type | null | meaning |", "|---|---|---|---|"]
    for column in table.columns:
        null = "yes" if column.nullable else "no"
        lines.append(f"| `{column.name}` | {column.type} | {null} | {column.meaning} |")
    return "\n".join(lines) + "\n"


HOW_THEY_ARE_KEPT = """\
## How they are kept

The runner (`projections/runner.py`) reads the log in batches of {batch} and decodes each
event once (`projections/decoding.py`: orjson reads the stored JSON, and each topic's event
class is looked up once). One pass over the batch hands each event to the projections that
handle its type and have not seen it yet. Each folds its events in memory over the rows it
prefetched (one query per table); counters go to the store as increments, which it adds up.
Then the rows of every projection, in column order, are written with one `executemany` per
table (on PostgreSQL the tables whose rows are only ever added are copied in with `COPY`),
and the positions moved by compare-and-set, in one transaction: a runner that finds a
position moved by another commits the rest and goes on from the recorded one. A batch
holds only its events and the rows they touch, so memory does not grow with the log, and
Python's cyclic collector is held off while it is read and projected
(`projections/collector.py`). `tests/benchmarks/bench_projections.py` measures a catch-up.

"""


def projections_doc() -> str:
    public = [t for t in ALL_TABLES if not t.internal]
    internal = [t for t in ALL_TABLES if t.internal]
    return (
        "# Read models: the SQL contract\n\n"
        "<!-- Generated from projections/schema.py by `make docs`; "
        "a test fails when it drifts. -->\n\n"
        "The read models live in the ledger's own store, beside the events: the SQLite file,\n"
        "or the ledger's schema on PostgreSQL (`JOBLEDGER_PG_SCHEMA`, default `jobledger`; text\n"
        'columns there use the "C" collation, so text orders as on SQLite). Reporting jobs may\n'
        "query the tables below directly (read only); their names, columns and meanings are a\n"
        "contract. Types: `decimal` is exact decimal text (sum it as a decimal, never as a\n"
        "float), `timestamp` is ISO 8601 UTC text with microseconds (so text order is time\n"
        "order), `boolean` is 0 or 1.\n\n"
        "Each projection writes its rows and its position in the ledger's log in one\n"
        "transaction, in the `tracking` table (`application_name` is the projection:\n"
        + ", ".join(f"`{name}`" for name in PROJECTION_NAMES)
        + "; `notification_id` is\n"
        "the position). `jobledger projections status` shows how far behind each is;\n"
        "`jobledger projections rebuild [NAME]` drops and replays one or all.\n\n"
        + HOW_THEY_ARE_KEPT.format(batch=f"{BATCH_SIZE:,}")
        + "## Tables\n\n"
        + "\n".join(_table_section(t) for t in public)
        + "\n## Internal tables\n\n"
        "Each projection remembers a little of every job in its own table. They are not part\n"
        "of the contract and may change.\n\n" + "\n".join(_table_section(t) for t in internal)
    )


def _roles(route: APIRoute) -> str:
    """The roles the route's ``Allowed`` dependency admits; any token, or none."""
    pending = list(route.dependant.dependencies)
    needs_token = False
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, Allowed):
            return ", ".join(r.value for r in dependency.call.roles)
        needs_token = needs_token or dependency.call is authenticated
        pending += dependency.dependencies
    return "any valid token" if needs_token else "none (no token)"


def api_doc() -> str:
    """The route table of the HTTP API, from the routers themselves."""
    rows = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods or ()):
                answers = sorted({route.status_code or 200, *route.responses}, key=str)
                rows.append(
                    f"| `{method}` | `{route.path}` | {route.summary or route.name} | "
                    f"{_roles(route)} | {', '.join(str(a) for a in answers)} |"
                )
    return (
        "<!-- Generated from adapters/http by `make docs`; do not edit. -->\n"
        "# HTTP API v1: routes\n\n"
        "Who may call each route (the roles of the token's `roles` claim) and the statuses it\n"
        "answers with. See [api.md](api.md) for how to use them, and `/docs` on a running\n"
        "server for every field.\n\n"
        "| method | path | what | roles | answers |\n"
        "|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


GENERATED = {
    "lifecycle.md": lifecycle_doc,
    "events.md": events_doc,
    "projections.md": projections_doc,
    "api-routes.md": api_doc,
    "schema.graphql": graphql_schema.sdl,
}


# Hand-written docs with one generated section, between these two lines.
BEGIN = "<!-- Generated by `make docs` from the imports; do not edit. -->\n"
END = "<!-- End of the generated section. -->\n"
SECTIONS = {"architecture.md": architecture.mermaid}


def with_section(text: str, section: str) -> str:
    """``text`` with its generated section replaced by ``section``."""
    head, found, rest = text.partition(BEGIN)
    _, closed, tail = rest.partition(END)
    if not found or not closed:
        raise ValueError("the generated section's markers are missing")
    return head + BEGIN + section + END + tail


def rendered() -> dict[str, str]:
    """Every generated doc as the code would write it now."""
    texts = {name: render() for name, render in GENERATED.items()}
    for name, render in SECTIONS.items():
        texts[name] = with_section((DOCS / name).read_text(), render())
    return texts


def main(argv: list[str]) -> int:
    drifted = []
    for name, text in rendered().items():
        path = DOCS / name
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                drifted.append(name)
        else:
            path.write_text(text)
    for name in drifted:
        print(f"docs/{name} is out of date: run `make docs`", file=sys.stderr)
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
