"""docs/steps.md states the domain's bounds and the report's status mapping as the code has
them: a changed bound or mapping fails here until the doc says so too."""

from __future__ import annotations

from pathlib import Path

from jobledger.adapters.http.report import REPORT_STATUS
from jobledger.domain import bounds

DOC = (Path(__file__).resolve().parents[2] / "docs" / "steps.md").read_text()


def test_the_doc_states_each_bound_of_a_step() -> None:
    kib = 1024
    stated = [
        f"at most {bounds.MAX_STEPS_PER_BATCH} steps a batch",
        f"{bounds.MAX_BATCH_BYTES // kib // kib} MiB of JSON",
        f"at most {bounds.MAX_STEP_TEXT:,} characters",
        f"at most {bounds.MAX_TARGET_ITEMS} ids",
        f"at most {bounds.MAX_CITATIONS}, {bounds.MAX_CITATIONS_BYTES // kib} KiB of JSON",
        f"at most {bounds.MAX_TOOL_CALLS_PER_STEP}, or null",
        f"`params` ({bounds.MAX_PARAMS_BYTES // kib} KiB of JSON)",
        f"`rawContent` ({bounds.MAX_RAW_CONTENT_BYTES // kib} KiB of JSON)",
        f"at most {bounds.MAX_DURATION_MS // 86_400_000} days",
        f"`timeoutSeconds` ({bounds.REPORT_WAIT_MIN_SECONDS} to "
        f"{bounds.REPORT_WAIT_MAX_SECONDS}, default {bounds.REPORT_WAIT_DEFAULT_SECONDS}",
        ", ".join(bounds.VERIFICATION_STATUSES),
    ]
    flat = " ".join(DOC.split()).lower()
    missing = [text for text in stated if text.lower() not in flat]
    assert missing == []


def test_the_doc_maps_each_lifecycle_status_as_the_report_does() -> None:
    row = next(line for line in DOC.splitlines() if line.startswith("| `status` |"))
    for status, shown in REPORT_STATUS.items():
        assert f"`{status.value}`" in row
        assert f"`{shown}`" in row
