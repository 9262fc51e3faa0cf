"""Job types and the typed result each one produces.

One discriminated union on ``type``: a result that does not fit its job type is
refused at the ``complete`` command and never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from jobledger.domain.bounds import MAX_COUNT
from jobledger.domain.errors import InvalidResult, UnknownJobType
from jobledger.domain.validation import describe


class JobType(StrEnum):
    ENTITY_EXTRACTION = "entity_extraction"
    GRAPH_ANALYSIS = "graph_analysis"
    THREAT_MODELLING = "threat_modelling"
    PATTERN_RECOGNITION = "pattern_recognition"
    ANOMALY_DETECTION = "anomaly_detection"
    CORRELATION_ANALYSIS = "correlation_analysis"
    PREDICTIVE_MODELLING = "predictive_modelling"


def parse_job_type(value: str) -> JobType:
    try:
        return JobType(value)
    except ValueError:
        raise UnknownJobType(value, [t.value for t in JobType]) from None


Count = Annotated[int, Field(ge=0)]
# The read models count findings of each kind: the bound of a preliminary count.
FindingCount = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Confidence = Annotated[float, Field(ge=0.0, le=1.0)]
Severity = Literal["low", "medium", "high", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Finding(_Strict):
    """One structured thing a job found."""

    kind: Annotated[str, Field(min_length=1, max_length=64)]
    label: Annotated[str, Field(min_length=1, max_length=512)]
    confidence: Confidence = 1.0
    severity: Severity | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class _ResultBase(_Strict):
    summary: Annotated[str, Field(max_length=10_000)] = ""
    findings: list[Finding] = Field(default_factory=list)
    entities: FindingCount = 0
    relationships: FindingCount = 0
    anomalies: FindingCount = 0
    predictions: FindingCount = 0


class EntityExtractionResult(_ResultBase):
    type: Literal[JobType.ENTITY_EXTRACTION] = JobType.ENTITY_EXTRACTION
    entity_types: dict[str, Count] = Field(default_factory=dict)


class GraphAnalysisResult(_ResultBase):
    type: Literal[JobType.GRAPH_ANALYSIS] = JobType.GRAPH_ANALYSIS
    nodes: Count = 0
    edges: Count = 0
    communities: Count = 0
    central_entities: list[str] = Field(default_factory=list)


class Threat(_Strict):
    name: Annotated[str, Field(min_length=1)]
    severity: Severity
    likelihood: Confidence


class ThreatModellingResult(_ResultBase):
    type: Literal[JobType.THREAT_MODELLING] = JobType.THREAT_MODELLING
    risk_score: Annotated[int, Field(ge=0, le=100)] = 0
    threats: list[Threat] = Field(default_factory=list)


class Pattern(_Strict):
    name: Annotated[str, Field(min_length=1)]
    occurrences: Count
    support: Confidence


class PatternRecognitionResult(_ResultBase):
    type: Literal[JobType.PATTERN_RECOGNITION] = JobType.PATTERN_RECOGNITION
    patterns: list[Pattern] = Field(default_factory=list)


class Outlier(_Strict):
    subject: Annotated[str, Field(min_length=1)]
    score: float


class AnomalyDetectionResult(_ResultBase):
    type: Literal[JobType.ANOMALY_DETECTION] = JobType.ANOMALY_DETECTION
    threshold: float = 0.0
    outliers: list[Outlier] = Field(default_factory=list)


class Correlation(_Strict):
    left: Annotated[str, Field(min_length=1)]
    right: Annotated[str, Field(min_length=1)]
    coefficient: Annotated[float, Field(ge=-1.0, le=1.0)]


class CorrelationAnalysisResult(_ResultBase):
    type: Literal[JobType.CORRELATION_ANALYSIS] = JobType.CORRELATION_ANALYSIS
    correlations: list[Correlation] = Field(default_factory=list)


class Forecast(_Strict):
    subject: Annotated[str, Field(min_length=1)]
    outcome: Annotated[str, Field(min_length=1)]
    probability: Confidence


class PredictiveModellingResult(_ResultBase):
    type: Literal[JobType.PREDICTIVE_MODELLING] = JobType.PREDICTIVE_MODELLING
    horizon_days: Annotated[int, Field(ge=1, le=3650)] = 30
    forecasts: list[Forecast] = Field(default_factory=list)


JobResult = Annotated[
    EntityExtractionResult
    | GraphAnalysisResult
    | ThreatModellingResult
    | PatternRecognitionResult
    | AnomalyDetectionResult
    | CorrelationAnalysisResult
    | PredictiveModellingResult,
    Field(discriminator="type"),
]

RESULTS: TypeAdapter[JobResult] = TypeAdapter(JobResult)


def validate_result(job_type: JobType, payload: Mapping[str, Any]) -> JobResult:
    """Check a result against its job's type; ``type`` defaults to the job's."""
    data = dict(payload)
    declared = data.setdefault("type", job_type.value)
    if declared != job_type.value:
        raise InvalidResult(
            f"result.type: {declared!r} does not match the job's type {job_type.value!r}"
        )
    try:
        return RESULTS.validate_python(data, strict=False)
    except ValidationError as error:
        # The first location is the union's tag (the job type): leave it out.
        raise InvalidResult(describe(error, prefix="result", skip=1)) from None
