"""Token checking with each kind of key setting, and the development key."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jobledger.adapters.auth.keys import (
    build_verifier,
    dev_key_path,
    ensure_dev_key,
    mint_token,
    parse_ttl,
)
from jobledger.adapters.auth.tokens import Role, TokenVerifier, Unauthenticated
from jobledger.adapters.settings import Settings
from jobledger.domain.errors import ConfigurationError, InvalidCommand

CLAIMS = {
    "sub": "s@acme",
    "tenant": "acme",
    "roles": ["viewer", "janitor"],
    "iss": "idp",
    "aud": "jl",
}


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signed(key: rsa.RSAPrivateKey, kid: str | None = None, **claims: Any) -> str:
    body = {**CLAIMS, "exp": int(time.time()) + 600, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid} if kid else None)


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**found, "kid": kid, "alg": "RS256", "use": "sig"}


def settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        db=f"sqlite:///{tmp_path / 'l.db'}", jwt_issuer="idp", jwt_audience="jl", **extra
    )


def test_a_jwks_file_picks_the_key_by_kid(tmp_path: Path) -> None:
    first, second = rsa_key(), rsa_key()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk(first, "k1"), jwk(second, "k2")]}))
    verifier = build_verifier(settings(tmp_path, jwt_jwks=path))
    assert verifier.verify(signed(first, "k1")).subject == "s@acme"
    principal = verifier.verify(signed(second, "k2"))
    assert principal.roles == frozenset({Role.VIEWER})  # unknown roles are ignored
    with pytest.raises(Unauthenticated, match="key id 'k3'"):
        verifier.verify(signed(second, "k3"))
    with pytest.raises(Unauthenticated, match="signature"):
        verifier.verify(signed(first, "k2"))  # signed with the other key


def trusting(
    tmp_path: Path, verifier: TokenVerifier | None, **keys: rsa.RSAPrivateKey
) -> TokenVerifier:
    """A verifier of a JWKS file holding ``keys`` by kid; given ``verifier``, that one
    with its keys replaced by them (rotated)."""
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk(key, kid) for kid, key in keys.items()]}))
    fresh = build_verifier(settings(tmp_path, jwt_jwks=path))
    if verifier is None:
        return fresh
    verifier.keys = fresh.keys
    return verifier


def test_a_remembered_token_is_refused_once_its_key_is_rotated_out(tmp_path: Path) -> None:
    """A token's signature is checked once and remembered; once the trusted keys are
    replaced, a remembered token whose key is gone is refused on its next request, and
    tokens of the new key are accepted."""
    old, new = rsa_key(), rsa_key()
    verifier = trusting(tmp_path, None, k1=old)
    by_old = signed(old, "k1")
    assert verifier.verify(by_old).subject == "s@acme"
    assert verifier.verify(by_old).subject == "s@acme"  # remembered
    trusting(tmp_path, verifier, k2=new)
    with pytest.raises(Unauthenticated, match="key id 'k1'"):
        verifier.verify(by_old)
    assert verifier.verify(signed(new, "k2")).subject == "s@acme"


def test_a_remembered_token_is_checked_again_when_its_kid_names_another_key(
    tmp_path: Path,
) -> None:
    old, new = rsa_key(), rsa_key()
    verifier = trusting(tmp_path, None, k1=old)
    by_old = signed(old, "k1")
    assert verifier.verify(by_old).subject == "s@acme"
    trusting(tmp_path, verifier, k1=new)  # the same kid, a new key
    with pytest.raises(Unauthenticated, match="signature"):
        verifier.verify(by_old)


def test_a_pem_public_key_verifies_its_tokens_only(tmp_path: Path) -> None:
    key = rsa_key()
    path = tmp_path / "issuer.pem"
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    verifier = build_verifier(settings(tmp_path, jwt_public_key=path))
    assert verifier.verify(signed(key)).tenant == "acme"
    with pytest.raises(Unauthenticated, match="signature"):
        verifier.verify(signed(rsa_key()))
    with pytest.raises(ConfigurationError, match="development key only"):
        mint_token(
            settings(tmp_path, jwt_public_key=path),
            tenant="acme",
            roles=["viewer"],
            subject="x",
            ttl=timedelta(hours=1),
            now=datetime.now(UTC),
        )


def test_unreadable_key_settings_are_configuration_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"keys": []}')
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(ConfigurationError, match="JOBLEDGER_JWT_JWKS"):
        build_verifier(settings(tmp_path, jwt_jwks=tmp_path / "bad.json"))
    with pytest.raises(ConfigurationError, match="JOBLEDGER_JWT_PUBLIC_KEY"):
        build_verifier(settings(tmp_path, jwt_public_key=tmp_path / "bad.pem"))
    with pytest.raises(ConfigurationError, match="not both"):
        Settings.load(jwt_jwks=tmp_path / "bad.json", jwt_public_key=tmp_path / "bad.pem")


def test_the_development_key_is_made_once_private_and_shared_by_racers(tmp_path: Path) -> None:
    path = dev_key_path(settings(tmp_path))
    found: list[str] = []
    racers = [
        threading.Thread(target=lambda: found.append(ensure_dev_key(path).kid)) for _ in range(4)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert len(set(found)) == 1
    assert path.stat().st_mode & 0o077 == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


PG_DB = "postgresql://postgres@db.example:5433/ledgers"


def test_a_postgresql_ledgers_development_key_is_kept_private_in_the_state_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # a source tree, say: no key may land here
    state = tmp_path / "state"
    path = dev_key_path(Settings(db=PG_DB, pg_schema="team_a", state_dir=state))
    ensure_dev_key(path)
    assert path == state / "keys" / "db.example-5433-ledgers-team_a.signing-key.pem"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert list(work.iterdir()) == []


def test_without_a_state_dir_setting_keys_follow_xdg_state_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert dev_key_path(Settings(db=PG_DB)).parent == tmp_path / "xdg" / "jobledger" / "keys"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".local" / "state" / "jobledger" / "keys"
    assert dev_key_path(Settings(db=PG_DB)).parent == expected


def test_git_ignores_keys_and_databases_wherever_they_are_made() -> None:
    names = ["x.signing-key.pem", "a/b/server.key", "jobledger.db", "d/l.db-wal", "l.db-shm"]
    found = subprocess.run(
        ["git", "check-ignore", "--no-index", *names],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert found == names


def test_a_verified_token_is_refused_once_it_expires(tmp_path: Path) -> None:
    verifier = build_verifier(settings(tmp_path))
    token = mint_token(
        settings(tmp_path),
        tenant="acme",
        roles=["admin"],
        subject="a",
        ttl=timedelta(seconds=60),
        now=datetime.now(UTC),
    )
    now = [time.time()]  # after minting, however long making the key took
    verifier.clock = lambda: now[0]
    assert verifier.verify(token).roles == frozenset({Role.ADMIN})
    now[0] += 60 + 31  # past expiry and the leeway
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(token)


@pytest.mark.parametrize("text", ["", "1", "1w", "0s", "31d", "-5m", "1.5h"])
def test_bad_ttls_are_refused(text: str) -> None:
    with pytest.raises(InvalidCommand, match="ttl"):
        parse_ttl(text)


def test_ttls() -> None:
    assert parse_ttl("90s") == timedelta(seconds=90)
    assert parse_ttl("1h") == timedelta(hours=1)
    assert parse_ttl("30d") == timedelta(days=30)
