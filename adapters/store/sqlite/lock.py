"""One sweeper at a time across the processes of one SQLite file: an exclusive
``flock`` on a file beside it, which the kernel releases when its holder dies."""

from __future__ import annotations

import fcntl
import logging
from io import BufferedRandom
from pathlib import Path

from jobledger.projections.outage import Outage

log = logging.getLogger("jobledger.sqlite")


class FileLock:
    """Held from the first ``held`` that takes it until ``release`` or the end of the
    process; a process that dies lets another take over at its next try."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BufferedRandom | None = None
        self._outage = Outage(f"the lock file {path}", log)

    def held(self) -> bool:
        if self._file is not None:
            return True
        try:
            file = open(self.path, "a+b")  # noqa: SIM115 (kept open while held)
        except OSError as error:
            self._outage.failed(error)  # the sweeper's interval paces the next attempt
            return False
        self._outage.ended()
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another process holds it
            file.close()
            return False
        self._file = file
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the only descriptor drops the lock
        self._file = None
