"""Every bound the HTTP API publishes is the domain's: a copy that drifts fails here.

The app's own ``/openapi.json`` (built from real Services over a SQLite file in
``tmp_path``, without serving it) is compared, property by property, with the JSON
schema of the domain command or value each request body is handed to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel, to_snake

from jobledger.adapters.bootstrap import build_services
from jobledger.adapters.http.app import create_app
from jobledger.adapters.http.schemas.jobs import CancelJob
from jobledger.adapters.settings import Settings
from jobledger.adapters.store.sql.read_store import JobQuery
from jobledger.domain import commands as cmd
from jobledger.domain import task_commands as task_cmd
from jobledger.domain.batches import ClaimMany, CommandMany, SubmitMany
from jobledger.domain.bounds import FINDING_KINDS
from jobledger.domain.results import JobType
from jobledger.domain.steps import AppendSteps
from jobledger.domain.values import InputRef, JobSpec

Schema = dict[str, Any]
KEYWORDS = (
    "maxLength",
    "minLength",
    "maximum",
    "minimum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "pattern",
    "enum",
    "maxItems",
    "minItems",
)
# Each request body and the domain model its fields are handed to.
COUNTERPARTS: dict[str, type[BaseModel]] = {
    "SubmitJob": JobSpec,
    "InputIn": InputRef,
    "CancelJob": cmd.Cancel,
    "ClaimJob": cmd.Claim,
    "LeasedCommand": cmd.Start,
    "Progress": cmd.ReportProgress,
    "Usage": cmd.RecordUsage,
    "Heartbeat": cmd.Heartbeat,
    "Complete": cmd.Complete,
    "Fail": cmd.Fail,
    "Release": cmd.Release,
    "ClaimTask": task_cmd.ClaimTask,
    "UpdateTask": task_cmd.UpdateTask,
    "AppendSteps": AppendSteps,
    "SubmitBatch": SubmitMany,
    "ClaimJobs": ClaimMany,
    "WorkerCommands": CommandMany,  # each item is its action's body, checked above
}
# Bodies whose other fields go to a second domain model: a job of tasks' subject, workers.
ALSO: dict[str, type[BaseModel]] = {"SubmitJob": task_cmd.CreateTasks}
# Where a nested HTTP object holds domain fields (checked below).
NESTED = {("UpdateTask", "error")}
# Where the HTTP name is not the camelCase of the domain's.
RENAMED = {("SubmitJob", "type"): "job_type"}
# Fields that exist only at the HTTP boundary: the command id (an idempotency key, the
# same format as the Idempotency-Key header), and how a claim is matched and waited for.
HTTP_ONLY = {"commandId", "types", "waitSeconds"}


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    folder: Path = tmp_path_factory.mktemp("openapi")
    services = build_services(Settings(db=f"sqlite:///{folder / 'ledger.db'}"), projections=False)
    schema: Schema = create_app(services).openapi()
    return schema


def resolve(schema: Schema, components: Schema) -> Schema:
    """Follow a ``$ref`` and drop the ``null`` branch of an optional field."""
    if "$ref" in schema:
        return resolve(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    branches = [b for b in schema.get("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1:
        return resolve(branches[0], components)
    return schema


def bounds(schema: Schema, components: Schema, where: str = "") -> dict[str, Any]:
    """Every bounding keyword of a property, its items and its map values, by path."""
    schema = resolve(schema, components)
    found = {f"{where}{key}": schema[key] for key in KEYWORDS if key in schema}
    for nested in ("items", "additionalProperties", "propertyNames"):
        if isinstance(schema.get(nested), dict):
            found |= bounds(schema[nested], components, f"{where}{nested}.")
    return found


def request_bodies(openapi: Schema) -> set[str]:
    names = set()
    for operations in openapi["paths"].values():
        for operation in operations.values():
            if "requestBody" in operation:
                body = operation["requestBody"]["content"]["application/json"]["schema"]
                refs = [body, *body.get("anyOf", [])]
                names |= {r["$ref"].rsplit("/", 1)[-1] for r in refs if "$ref" in r}
    return names


def test_every_request_body_has_a_domain_counterpart(openapi: Schema) -> None:
    """A new request body must say which domain model states its rules."""
    bodies = request_bodies(openapi) | {"InputIn"}
    assert bodies - {"PreliminaryFindings"} == set(COUNTERPARTS)


@pytest.mark.parametrize("body", sorted(COUNTERPARTS))
def test_request_body_bounds_equal_the_domains(openapi: Schema, body: str) -> None:
    components = openapi["components"]["schemas"]
    domain_model = COUNTERPARTS[body]
    domain = domain_model.model_json_schema(ref_template="#/$defs/{model}")
    domain_components = domain.get("$defs", {})
    domain_fields = {to_camel(name): name for name in domain_model.model_fields} | {
        http: domain_name for (owner, http), domain_name in RENAMED.items() if owner == body
    }
    also = ALSO.get(body)
    also_schema = also.model_json_schema(ref_template="#/$defs/{model}") if also else {}
    for name, published in components[body]["properties"].items():
        if name in HTTP_ONLY or (body, name) in NESTED:
            continue
        if name not in domain_fields and to_snake(name) in also_schema.get("properties", {}):
            stated = also_schema["properties"][to_snake(name)]
            assert bounds(published, components) == bounds(stated, also_schema.get("$defs", {}))
            continue
        assert name in domain_fields, f"{body}.{name} has no field in {domain_model.__name__}"
        stated = domain["properties"][domain_fields[name]]
        assert bounds(published, components) == bounds(stated, domain_components), (
            f"{body}.{name} drifted from {domain_model.__name__}.{domain_fields[name]}"
        )


def test_job_types_are_the_domains(openapi: Schema) -> None:
    components = openapi["components"]["schemas"]
    published = bounds(components["SubmitJob"]["properties"]["type"], components)
    claimable = bounds(components["ClaimJob"]["properties"]["types"], components)
    assert published["enum"] == claimable["items.enum"] == [t.value for t in JobType]


def test_preliminary_findings_are_the_domains_kinds_and_counts(openapi: Schema) -> None:
    components = openapi["components"]["schemas"]
    properties = dict(components["PreliminaryFindings"]["properties"])
    properties.pop("commandId")
    leased = components["LeasedCommand"]["properties"]
    assert bounds(properties.pop("leaseId"), components) == bounds(leased["leaseId"], components)
    findings = cmd.ReportProgress.model_json_schema()["properties"]["findings"]
    assert tuple(properties) == FINDING_KINDS == tuple(findings["propertyNames"]["enum"])
    for kind, published in properties.items():
        assert bounds(published, components) == bounds(findings["additionalProperties"], {}), kind


def test_the_api_takes_a_cancel_reason_as_long_as_the_domain_does() -> None:
    longest = "r" * 2_000
    assert CancelJob.model_validate({"reason": longest}).reason == longest
    assert cmd.Cancel.parse(reason=longest).reason == longest
    with pytest.raises(ValidationError, match="reason"):
        CancelJob.model_validate({"reason": longest + "r"})


def test_the_job_lists_query_parameters_take_the_read_stores_bounds(openapi: Schema) -> None:
    """Each filter of ``GET /v1/jobs`` is bounded as the list query it becomes."""
    components = openapi["components"]["schemas"]
    stated = JobQuery.model_json_schema(ref_template="#/$defs/{model}")
    checked = 0
    for parameter in openapi["paths"]["/v1/jobs"]["get"]["parameters"]:
        field = to_snake(parameter["name"])
        if field not in JobQuery.model_fields or field == "status":  # enums: tested above
            continue
        assert bounds(parameter["schema"], components) == bounds(
            stated["properties"][field], stated.get("$defs", {})
        ), f"GET /v1/jobs?{parameter['name']} drifted from JobQuery.{field}"
        checked += 1
    assert checked >= 6  # investigationId, createdBy, agent, limit, cursor, order


def test_a_task_updates_error_takes_the_domains_bounds(openapi: Schema) -> None:
    components = openapi["components"]["schemas"]
    published = components["TaskError"]["properties"]
    stated = task_cmd.UpdateTask.model_json_schema()["properties"]
    assert bounds(published["code"], components) == bounds(stated["error_code"], {})
    assert bounds(published["message"], components) == bounds(stated["error_message"], {})
