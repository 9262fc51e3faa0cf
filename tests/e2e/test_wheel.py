"""A newcomer's install: a wheel built from the source tree, installed into a fresh
virtualenv, serves the API, runs the demo and drives the client, with no source tree
on the path."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPOSITORY
from tests.e2e.test_serve import free_port, wait_until_serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh virtualenv with only the wheel (and its dependencies)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy, so the build leaves nothing in the repository
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPOSITORY, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPOSITORY / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPOSITORY / name, source / name)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", work / "dist", source)
    (wheel,) = (work / "dist").glob("jobledger-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "jobledger/adapters/http/app.py",
        "jobledger/adapters/default_price_book.toml",
        "jobledger/adapters/http/static/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js",
        "jobledger/adapters/http/static/vendor/swagger-ui-dist-5.35.0/LICENSE",
        "jobledger/adapters/http/static/vendor/redoc-2.5.4/redoc.standalone.js",
        "jobledger/adapters/http/static/vendor/redoc-2.5.4/LICENSE",
        "jobledger/adapters/http/static/vendor/graphiql-3.8.3/graphiql.min.js",
        "jobledger/adapters/http/static/vendor/graphiql-3.8.3/LICENSE",
        "jobledger/adapters/http/static/graphiql/start.js",
        "jobledger/adapters/http/static/dashboard/pages/jobs.html",
        "jobledger/adapters/http/static/dashboard/jobs.js",
    ):
        assert needed in names, f"the wheel lacks {needed}"
    run(sys.executable, "-m", "venv", work / "venv")
    bin_ = work / "venv" / "bin"
    run(bin_ / "pip", "install", "--quiet", wheel)
    return bin_


def run(*args: object, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_wheel_serves_jobs_submitted_with_its_client_and_runs_the_demo(
    installed: Path, tmp_path: Path
) -> None:
    """One test, so that one process builds and installs the wheel (xdist would hand two
    tests to two processes, each building its own)."""
    serves_jobs_submitted_with_its_client(installed, tmp_path)
    demo_runs_jobs_to_the_end(installed, tmp_path)


def serves_jobs_submitted_with_its_client(installed: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    port = free_port()
    server = subprocess.Popen(
        [installed / "jobledger", "serve", "--port", str(port), "--db", db],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url, server)
        token = run(installed / "jobledger", "token", "--tenant", "acme", "--role", "analyst",
                    "--db", db, cwd=tmp_path).strip()  # fmt: skip
        script = (
            "import sys\n"
            "from jobledger.adapters.client import JobledgerClient\n"
            "import jobledger\n"
            "assert 'site-packages' in jobledger.adapters.client.__file__\n"
            "with JobledgerClient(sys.argv[1], sys.argv[2]) as client:\n"
            "    job = client.submit('graph_analysis', investigation_id='inv-wheel')\n"
            "    print(client.get(job['id'])['status'])\n"
        )
        status = run(installed / "python", "-c", script, url, token, cwd=tmp_path)
        assert status.strip() == "queued"
        docs = httpx.get(f"{url}/docs").text
        assert "/static/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js" in docs
        bundle = httpx.get(f"{url}/static/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js")
        assert bundle.status_code == 200
        assert b"SwaggerUIBundle" in bundle.content
        dashboard = httpx.get(f"{url}/", follow_redirects=True)
        assert dashboard.status_code == 200
        assert "/static/dashboard/jobs.js" in dashboard.text
    finally:
        server.terminate()
        server.wait(timeout=30)


def demo_runs_jobs_to_the_end(installed: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    out = run(installed / "jobledger", "demo", "--jobs", "3", "--workers", "2", "--speed", "50",
              "--seed", "7", "--db", db, cwd=tmp_path)  # fmt: skip
    assert "completed" in out
