"""The keys tokens are checked with, and the development key that mints them.

Keys come from settings (a PEM public key, or a JWKS file chosen by ``kid``). With
neither, the embedded default needs no set-up: the first ``serve`` or ``token``
makes a development key pair where the store's backend keeps it (beside an SQLite
file; in the user's state folder for PostgreSQL, never the working folder), and
``jobledger token`` mints tokens with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from pydantic import ValidationError

from jobledger.adapters.auth.tokens import ALGORITHM, Claims, Role, TokenVerifier
from jobledger.adapters.settings import DEV_ISSUER, Settings, state_folder
from jobledger.adapters.store import backend_for
from jobledger.domain.errors import ConfigurationError, InvalidCommand
from jobledger.domain.validation import describe

MAX_TTL = timedelta(days=30)

# -- keys ------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """The development private key, for minting tokens."""

    pem: bytes
    kid: str


def dev_key_path(settings: Settings) -> Path:
    """Where the store's backend keeps the development key of this ledger."""
    return backend_for(settings).dev_key_path(state_folder(settings))


def key_id(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def ensure_dev_key(path: Path) -> SigningKey:
    """Read the development key, making it first if there is none (safe if two race)."""
    if not path.exists():
        fresh = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write_key_once(path, fresh, "development key")
    try:
        pem = path.read_bytes()
        private = serialization.load_pem_private_key(pem, password=None)
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"cannot read the development key {path}: {error}") from None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ConfigurationError(f"the development key {path} is not an RSA key")
    return SigningKey(pem, key_id(private.public_key()))


def write_key_once(path: Path, key: PrivateKeyTypes, what: str) -> None:
    """Write a new private key where none is yet, readable by this user alone; if
    another process wrote one first, theirs is kept (both then read the same)."""
    _make_private_folder(path.parent)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    temporary = path.with_name(f".{path.name}.{uuid4().hex}")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.link(temporary, path)
    except OSError as error:
        raise ConfigurationError(f"cannot create the {what} {path}: {error}") from None
    finally:
        temporary.unlink(missing_ok=True)


def _make_private_folder(folder: Path) -> None:
    """A folder made for keys is the user's alone (0700); one that exists is left as is."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigurationError(f"cannot create the key folder {folder}: {error}") from None


def build_verifier(settings: Settings) -> TokenVerifier:
    """The verifier the settings call for; the development key when none is configured."""
    keys: dict[str | None, Any]
    if settings.jwt_public_key is not None:
        keys = {None: _read_public_pem(settings.jwt_public_key)}
    elif settings.jwt_jwks is not None:
        keys = _read_jwks(settings.jwt_jwks)
    else:
        private = serialization.load_pem_private_key(
            ensure_dev_key(dev_key_path(settings)).pem, password=None
        )
        assert isinstance(private, rsa.RSAPrivateKey)
        public = private.public_key()
        keys = {key_id(public): public}
    return TokenVerifier(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience)


def _read_public_pem(path: Path) -> Any:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"JOBLEDGER_JWT_PUBLIC_KEY {path}: {error}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigurationError(f"JOBLEDGER_JWT_PUBLIC_KEY {path}: not an RSA public key")
    return key


def _read_jwks(path: Path) -> dict[str | None, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        found = jwt.PyJWKSet.from_dict(document)
    except (OSError, ValueError, jwt.PyJWKSetError, jwt.PyJWKError) as error:
        raise ConfigurationError(f"JOBLEDGER_JWT_JWKS {path}: {error}") from None
    keys: dict[str | None, Any] = {}
    for jwk in found.keys:
        if jwk.algorithm_name == ALGORITHM or jwk.key_type == "RSA":
            keys[jwk.key_id] = jwk.key
    if not keys:
        raise ConfigurationError(f"JOBLEDGER_JWT_JWKS {path}: holds no RSA key")
    return keys


# -- minting (development) ----------------------------------------------------------

_TTL = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_ttl(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h`` or ``7d``; at most 30 days."""
    found = _TTL.match(text.strip())
    if found is None:
        raise InvalidCommand(f"ttl: expected a number and s, m, h or d (e.g. 1h), got {text!r}")
    ttl = timedelta(**{_UNITS[found[2]]: int(found[1])})
    if not timedelta(0) < ttl <= MAX_TTL:
        raise InvalidCommand(f"ttl: must be more than 0 and at most 30d, got {text!r}")
    return ttl


def mint_token(
    settings: Settings,
    *,
    tenant: str,
    roles: Iterable[str],
    subject: str,
    ttl: timedelta,
    now: datetime,
) -> str:
    """A token signed with the development key; refused when real keys are configured."""
    if settings.jwt_public_key is not None or settings.jwt_jwks is not None:
        raise ConfigurationError(
            "jobledger token signs with the development key only; with "
            "JOBLEDGER_JWT_PUBLIC_KEY or JOBLEDGER_JWT_JWKS set, get tokens from your issuer"
        )
    try:
        claims = Claims.model_validate({"sub": subject, "tenant": tenant, "roles": list(roles)})
    except ValidationError as error:
        raise InvalidCommand(describe(error)) from None
    unknown = sorted(set(claims.roles) - {r.value for r in Role})
    if unknown or not claims.roles:
        known = ", ".join(r.value for r in Role)
        raise InvalidCommand(f"role: expected one or more of {known}, got {unknown or 'none'}")
    key = ensure_dev_key(dev_key_path(settings))
    payload = {
        "sub": claims.sub,
        "tenant": claims.tenant,
        "roles": claims.roles,
        "iss": settings.jwt_issuer if settings.jwt_issuer else DEV_ISSUER,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(payload, key.pem, algorithm=ALGORITHM, headers={"kid": key.kid})
