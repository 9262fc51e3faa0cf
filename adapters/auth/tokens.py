"""Who is calling: RS256 JSON Web Tokens, checked before any data is touched.

Only RS256 is accepted, so a token signed with ``none`` or with a shared secret
(HS256) is refused whatever it claims. Where the keys come from: ``keys.py``.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import jwt
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from jobledger.domain.bounds import Subject
from jobledger.domain.errors import JobLedgerError
from jobledger.domain.validation import describe
from jobledger.domain.values import Actor

ALGORITHM = "RS256"
LEEWAY_SECONDS = 30


class Role(StrEnum):
    ANALYST = "analyst"
    VIEWER = "viewer"
    ADMIN = "admin"
    AUDITOR = "auditor"
    WORKER = "worker"
    ANALYZER = "analyzer"


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

    sub: Subject
    tenant: Subject
    roles: Annotated[list[str], BeforeValidator(_as_list)]

    def principal(self) -> Principal:
        known = {r.value for r in Role}
        return Principal(
            self.sub, self.tenant, frozenset(Role(r) for r in self.roles if r in known)
        )


@dataclass(frozen=True)
class _Verified:
    """A token whose signature checked out: who it names, until when, and with which key."""

    principal: Principal
    expires: float
    kid: object
    key: Any


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
        # kid -> public key; the None entry serves tokens without a kid. Replacing it (keys
        # rotated) refuses, from the next request on, tokens verified with a key left out.
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        # A dashboard or a worker sends the same token on every request: its signature is
        # checked once (the RSA check and the JSON decoding are most of a token's cost),
        # then its expiry and its key every time. Least recently used out first.
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is None:
            known = self._check(token)
            self._verified[token] = known
            if len(self._verified) > self.CACHED_TOKENS:
                self._verified.popitem(last=False)
            return known.principal
        if self.clock() >= known.expires + LEEWAY_SECONDS:
            self._verified.pop(token, None)
            raise Unauthenticated("the token has expired")
        try:
            still_trusted = self._key(known.kid) is known.key
        except Unauthenticated:
            still_trusted = False
        if not still_trusted:  # the keys were rotated: check the token against today's
            self._verified.pop(token, None)
            return self.verify(token)
        with contextlib.suppress(KeyError):  # another thread dropped it: verified all the same
            self._verified.move_to_end(token)
        return known.principal

    def _check(self, token: str) -> _Verified:
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
        return _Verified(principal, float(claims["exp"]), header.get("kid"), key)

    def _key(self, kid: object) -> Any:
        if kid is None and len(self.keys) == 1:
            return next(iter(self.keys.values()))
        if isinstance(kid, str) and kid in self.keys:
            return self.keys[kid]
        if kid is not None and None in self.keys and len(self.keys) == 1:
            return self.keys[None]  # a single configured PEM key serves every kid
        raise Unauthenticated(f"the token's key id {kid!r} is not one this server trusts")
