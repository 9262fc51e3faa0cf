"""The interactive API docs (and GraphiQL) load every asset from the server itself, never
from a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Api, run_api

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from run_api(tmp_path_factory.mktemp("docs"))


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/graphql"])
def test_the_docs_page_names_only_assets_this_server_serves(server: Api, page: str) -> None:
    html = server.http.get(page)
    assert html.status_code == 200
    assets = ASSET.findall(html.text)
    assert assets, f"{page} names no script or stylesheet"
    for asset in assets:
        assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
        fetched = server.http.get(asset)
        assert fetched.status_code == 200, f"{page} names {asset}, which answers {fetched}"
        assert len(fetched.content) > 0


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/graphql"])
def test_the_docs_page_forbids_third_party_origins(server: Api, page: str) -> None:
    policy = server.http.get(page).headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "http" not in policy


def test_the_vendored_assets_ship_with_their_licences() -> None:
    vendor = Path(__file__).resolve().parents[2] / "adapters" / "http" / "static" / "vendor"
    bundles = [folder for folder in vendor.iterdir() if folder.is_dir()]
    assert {b.name.rsplit("-", 1)[0] for b in bundles} == {
        "swagger-ui-dist",
        "redoc",
        "graphiql",
        "react",
        "react-dom",
    }
    for bundle in bundles:
        assert (bundle / "LICENSE").is_file(), f"{bundle.name} lacks its licence"
