"""Worker commands of several claimed jobs in one request.

Each item is a command a single endpoint (``workers.py``) takes, with its job id and
action beside that endpoint's own fields. The body is checked whole first: a bad item
is a 422 naming its index and field, and nothing is recorded. Then the items run in
order, each as its own endpoint runs it (the same lease fencing, the same command ids,
so one sent alone and then in a batch is the same command), each answered on its own:
a refused item holds back none of the others. What they record is stored in one
transaction (``domain/command_batch.py``) before the answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from jobledger.adapters.auth.tokens import Principal
from jobledger.adapters.http.correlation import echo
from jobledger.adapters.http.problems import facts, responses, status_of
from jobledger.adapters.http.routes.workers import COMMANDS, Worker, _record
from jobledger.adapters.http.schemas import batches as bm
from jobledger.adapters.http.schemas import workers as wm
from jobledger.adapters.http.services import services_of
from jobledger.domain.command_batch import Run, execute_many
from jobledger.domain.errors import JobLedgerError
from jobledger.domain.ledger import Ledger, Outcome

router = APIRouter(tags=["workers"])

WorkerCommands = bm.command_batch({action: command.body for action, command in COMMANDS.items()})


async def send_commands(
    body: Any, caller: Worker, request: Request, response: Response
) -> bm.CommandsAnswer:
    """Each item runs in its job's workflow, unless the request names one
    (``X-Correlation-ID``) for them all."""
    items, correlation_id = body.commands, caller.correlation_id
    answers = await run_in_threadpool(
        _record_many, services_of(request).ledger, caller.principal, items, correlation_id
    )
    if correlation_id is not None:
        echo(response, correlation_id)
    outcomes = [_outcome(index, item, answer) for index, (item, answer) in enumerate(answers)]
    applied = sum(1 for o in outcomes if o.status == 200 and not o.replayed)
    return bm.CommandsAnswer(items=outcomes, applied=applied)


send_commands.__annotations__["body"] = WorkerCommands  # FastAPI reads the body model here
router.post(
    "/v1/jobs/commands",
    summary="Send the commands of several claimed jobs, each answered on its own",
    response_model=bm.CommandsAnswer,
    responses=responses(400, 401, 403, 413, 422),
)(send_commands)


def _record_many(
    ledger: Ledger, principal: Principal, items: list[Any], correlation_id: str | None
) -> list[tuple[Any, Outcome | JobLedgerError]]:
    """Each item as its own endpoint records it, decided in turn and stored together."""

    def run(item: Any) -> Run:
        command = COMMANDS[item.action]
        return lambda: _record(command, ledger, principal, item.job_id, item, correlation_id)[1]

    answers = execute_many(ledger, principal.actor, [run(item) for item in items])
    return list(zip(items, answers, strict=True))


def _outcome(index: int, item: Any, answer: Outcome | JobLedgerError) -> bm.CommandOutcome:
    if isinstance(answer, JobLedgerError):
        problem = bm.CommandProblem(code=answer.code, detail=str(answer), **facts(answer))
        return bm.CommandOutcome(
            index=index,
            job_id=item.job_id,
            action=item.action,
            status=status_of(answer),
            problem=problem,
        )
    assert answer.state is not None
    return bm.CommandOutcome(
        index=index,
        job_id=answer.job_id,
        action=item.action,
        status=200,
        replayed=answer.replayed,
        answer=wm.WorkerAnswer.of(answer.job_id, answer.version, answer.state),
    )
