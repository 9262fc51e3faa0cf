"""Who is calling: RS256 JSON Web Tokens, checked before any data is touched.

Keys come from settings (a PEM public key, or a JWKS file chosen by ``kid``). With
neither, the embedded default needs no set-up: the first ``serve`` or ``token``
makes a development key pair next to the database, and ``jobledger token`` mints
tokens with it. Only RS256 is accepted, so a token signed with ``none`` or with
a shared secret (HS256) is refused whatever it claims.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from uuid import uuid4

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from jobledger.adapters.settings import DEV_ISSUER, PostgresStore, Settings, parse_db_url
from jobledger.domain.errors import ConfigurationError, InvalidCommand, JobLedgerError
from jobledger.domain.validation import describe
from jobledger.domain.values import Actor

ALGORITHM = "RS256"
LEEWAY_SECONDS = 30
MAX_TTL = timedelta(days=30)


class Role(StrEnum):
    ANALYST = "analyst"
    VIEWER = "viewer"
    ADMIN = "admin"
    AUDITOR = "auditor"
    WORKER = "worker"


class Unauthenticated(JobLedgerError):
    """No token, or one that cannot be trusted (HTTP 401)."""

    code = "unauthenticated"


class MissingToken(Unauthenticated):
    """The request carried no bearer token at all."""


class Forbidden(JobLedgerError):
    """A trusted caller whose roles do not allow this (HTTP 403)."""

    code = "forbidden"


@dataclass(frozen=True)
class Principal:
    """The caller a verified token names."""

    subject: str
    tenant: str
    roles: frozenset[Role]

    @property
    def actor(self) -> Actor:
        return Actor(self.subject, self.tenant)

    def has_any(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class Claims(BaseModel):
    """The claims jobledger reads; roles it does not know are ignored."""

    model_config = ConfigDict(extra="ignore")

    sub: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f]+$")]
    tenant: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f]+$")]
    roles: Annotated[list[str], BeforeValidator(_as_list)]

    def principal(self) -> Principal:
        known = {r.value for r in Role}
        return Principal(
            self.sub, self.tenant, frozenset(Role(r) for r in self.roles if r in known)
        )


class TokenVerifier:
    """Checks signature, algorithm, expiry, issuer and audience, then the claims."""

    CACHED_TOKENS = 10_000

    def __init__(
        self,
        keys: dict[str | None, Any],
        *,
        issuer: str,
        audience: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock  # for the expiry of tokens already verified
        self.keys = keys  # kid -> public key; the None entry serves tokens without a kid
        self.issuer = issuer
        self.audience = audience
        # A dashboard sends the same token on every request: checking its signature once
        # is enough, its expiry is checked every time.
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, expires = known
            if self.clock() < expires + LEEWAY_SECONDS:
                return principal
            del self._verified[token]
            raise Unauthenticated("the token has expired")
        principal, expires = self._check(token)
        self._verified[token] = (principal, expires)
        if len(self._verified) > self.CACHED_TOKENS:
            self._verified.popitem(last=False)
        return principal

    def _check(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthenticated("the bearer token is not a JWT") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated(f"tokens must be signed with RS256, not {header.get('alg')}")
        key = self._key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(f"the token was not issued by {self.issuer}") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(f"the token is not meant for {self.audience}") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("the token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as error:
            raise Unauthenticated(f"the token has no {error.claim} claim") from None
        except jwt.InvalidTokenError as error:
            raise Unauthenticated(f"the token is invalid: {error}") from None
        try:
            principal = Claims.model_validate(claims).principal()
        except ValidationError as error:
            raise Unauthenticated(f"token claims: {describe(error)}") from None
        return principal, float(claims["exp"])

    def _key(self, kid: object) -> Any:
        if kid is None and len(self.keys) == 1:
            return next(iter(self.keys.values()))
        if isinstance(kid, str) and kid in self.keys:
            return self.keys[kid]
        if kid is not None and None in self.keys and len(self.keys) == 1:
            return self.keys[None]  # a single configured PEM key serves every kid
        raise Unauthenticated(f"the token's key id {kid!r} is not one this server trusts")


# -- keys ------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """The development private key, for minting tokens."""

    pem: bytes
    kid: str


def dev_key_path(settings: Settings) -> Path:
    """The development key lives beside the database file it guards; for PostgreSQL,
    in the working directory, named after the database and schema."""
    store = parse_db_url(settings.db, settings.pg_schema)
    if isinstance(store, PostgresStore):
        name = f"jobledger-{store.host}-{store.port}-{store.dbname}-{store.schema}"
        return Path(f"{name}.signing-key.pem")
    return store.path.with_name(store.path.name + ".signing-key.pem")


def key_id(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def ensure_dev_key(path: Path) -> SigningKey:
    """Read the development key, making it first if there is none (safe if two race)."""
    if not path.exists():
        fresh = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = fresh.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        temporary = path.with_name(f".{path.name}.{uuid4().hex}")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(pem)
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.link(temporary, path)
        except OSError as error:
            raise ConfigurationError(f"cannot create the development key {path}: {error}") from None
        finally:
            temporary.unlink(missing_ok=True)
    try:
        pem = path.read_bytes()
        private = serialization.load_pem_private_key(pem, password=None)
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"cannot read the development key {path}: {error}") from None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ConfigurationError(f"the development key {path} is not an RSA key")
    return SigningKey(pem, key_id(private.public_key()))


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
