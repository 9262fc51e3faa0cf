"""The ledger's Ed25519 key, which signs checkpoints (never the key that signs tokens).

Real deployments configure theirs (``JOBLEDGER_LEDGER_KEY``, a PEM private key) and
hand auditors the public half; with none, a development key is made beside the token
development key, as ``adapters/auth/keys.py`` does.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from jobledger.adapters.auth.keys import dev_key_path, write_key_once
from jobledger.adapters.settings import Settings
from jobledger.domain.audit.checkpoints import Checkpoint
from jobledger.domain.errors import ConfigurationError


def ledger_key_path(settings: Settings) -> Path:
    if settings.ledger_key is not None:
        return settings.ledger_key
    tokens = dev_key_path(settings)
    return tokens.with_name(tokens.name.replace("signing-key", "ledger-key"))


def ledger_key(settings: Settings) -> Ed25519PrivateKey:
    """The configured key, or the development key (made on first use)."""
    path = ledger_key_path(settings)
    if settings.ledger_key is None and not path.exists():
        write_key_once(path, Ed25519PrivateKey.generate(), "development ledger key")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"cannot read the ledger key {path}: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"the ledger key {path} is not an Ed25519 private key")
    return key


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def read_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"public key {path}: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError(f"public key {path}: not an Ed25519 public key")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> Checkpoint:
    unsigned = replace(checkpoint, key_id=key_id(key.public_key()), signature=b"")
    return replace(unsigned, signature=key.sign(unsigned.signed_bytes()))


def signed_by(checkpoint: Checkpoint, public: Ed25519PublicKey) -> bool:
    try:
        public.verify(checkpoint.signature, checkpoint.signed_bytes())
    except InvalidSignature:
        return False
    return checkpoint.key_id == key_id(public)
