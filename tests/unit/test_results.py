"""Results are typed by the job type; anything that does not fit is refused."""

from __future__ import annotations

import random

import pytest

from jobledger.adapters.cli.samples import sample_result
from jobledger.domain.errors import InvalidResult, UnknownJobType
from jobledger.domain.results import JobType, parse_job_type, validate_result


@pytest.mark.parametrize("job_type", list(JobType))
def test_a_plausible_result_of_each_type_is_accepted(job_type: JobType) -> None:
    result = validate_result(job_type, sample_result(job_type, random.Random(1)))
    assert result.type == job_type


def test_type_defaults_to_the_jobs_type() -> None:
    assert validate_result(JobType.GRAPH_ANALYSIS, {"nodes": 3}).type == JobType.GRAPH_ANALYSIS


def test_a_result_of_another_type_is_refused() -> None:
    with pytest.raises(InvalidResult, match="does not match the job's type 'graph_analysis'"):
        validate_result(JobType.GRAPH_ANALYSIS, {"type": "entity_extraction"})


def test_fields_of_another_type_are_refused_with_the_field_named() -> None:
    with pytest.raises(InvalidResult, match=r"result\.threats: Extra inputs are not permitted"):
        validate_result(JobType.GRAPH_ANALYSIS, {"threats": []})


def test_negative_counts_are_refused_with_the_field_named() -> None:
    with pytest.raises(InvalidResult, match=r"result\.entities: Input should be greater"):
        validate_result(JobType.ENTITY_EXTRACTION, {"entities": -1})


def test_findings_are_structured() -> None:
    with pytest.raises(InvalidResult, match=r"result\.findings\.0\.confidence"):
        validate_result(
            JobType.ANOMALY_DETECTION,
            {"findings": [{"kind": "outlier", "label": "ACC-1", "confidence": 1.5}]},
        )


def test_an_unknown_job_type_lists_the_known_ones() -> None:
    with pytest.raises(UnknownJobType) as caught:
        parse_job_type("sentiment")
    assert "entity_extraction" in str(caught.value)
    assert "predictive_modelling" in str(caught.value)
