"""An earlier commit's packages, unpacked for a benchmark to run beside this tree's."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

FOLDERS = ("domain", "projections", "adapters")
REPOSITORY = Path(__file__).resolve().parents[2]


def unpack(ref: str, into: Path) -> Path:
    """REF's packages as ``into/jobledger/...``, for ``PYTHONPATH``."""
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", ref, *FOLDERS], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into / "jobledger", filter="data")
    return into
