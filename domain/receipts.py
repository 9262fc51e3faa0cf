"""Durable receipts of commands, so a retried command is acknowledged once.

A receipt is an aggregate whose id derives from (tenant, command id). It is saved
in the same atomic write as the command's events, so either both exist or
neither; a second write of the same receipt conflicts in the store itself.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

RECEIPT_NAMESPACE = UUID("6b1f2c3e-7c0a-4d8e-9a61-2f0f3b8d5e17")


def receipt_id(tenant: str, command_id: str) -> UUID:
    return uuid5(RECEIPT_NAMESPACE, f"{tenant}\x00{command_id}")


def fingerprint(payload: dict[str, Any]) -> str:
    """A digest of what a command asked for, to tell a retry from a reuse."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class CommandReceipt(Aggregate):
    class Accepted(Aggregate.Created):
        tenant: str
        command_id: str
        fingerprint: str
        job_id: UUID
        job_version: int
        lease_id: str | None

        def apply(self, receipt: CommandReceipt) -> None:
            receipt.tenant = self.tenant
            receipt.command_id = self.command_id
            receipt.fingerprint = self.fingerprint
            receipt.job_id = self.job_id
            receipt.job_version = self.job_version
            receipt.lease_id = self.lease_id

    def __init__(self) -> None:
        self.tenant = ""
        self.command_id = ""
        self.fingerprint = ""
        self.job_id: UUID | None = None
        self.job_version = 0
        self.lease_id: str | None = None

    @classmethod
    def accept(
        cls,
        tenant: str,
        command_id: str,
        digest: str,
        job_id: UUID,
        job_version: int,
        lease_id: str | None,
    ) -> CommandReceipt:
        return cls._create(
            cls.Accepted,
            id=receipt_id(tenant, command_id),
            tenant=tenant,
            command_id=command_id,
            fingerprint=digest,
            job_id=job_id,
            job_version=job_version,
            lease_id=lease_id,
        )
