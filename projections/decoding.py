"""Reading stored events faster: orjson parses what eventsourcing's JSON transcoder wrote.

Decoding with the standard library's ``json`` and a Python hook for every object was the
largest single cost of a catch-up. Here orjson parses the same bytes and the typed values
(``{"_type_": ..., "_data_": ...}``) are revived by the transcoder's own transcodings, inner
ones first, as the hook does. Whatever orjson will not read (NaN, lone surrogates), may read
otherwise (it reads an integer past 64 bits as a float, so any float is left to the standard
decoder; events seldom hold one) or the revival does not expect is decoded by the standard
transcoder, so the result, or the error, is always the one it gives. Writing is left to it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder, Mapper, Transcoder, Transcoding

LOOK_INTO = frozenset({dict, list, float})


class MaybeLongInteger(ValueError):
    """orjson reads an integer past 64 bits as a float: only the standard decoder can tell."""


class OrjsonTranscoder(Transcoder):
    """Reads what a ``JSONTranscoder`` wrote, to the same objects; writes as it does."""

    def __init__(self, standard: JSONTranscoder) -> None:
        self.standard = standard
        self._revivers = {name: t.decode for name, t in standard.names.items()}

    def register(self, transcoding: Transcoding) -> None:
        self.standard.register(transcoding)
        self._revivers[transcoding.name] = transcoding.decode

    def encode(self, obj: Any) -> bytes:
        return self.standard.encode(obj)

    def decode(self, data: bytes) -> Any:
        try:
            return self._revive(orjson.loads(data))
        except Exception:  # the standard decoder gives the answer, or the error
            return self.standard.decode(data)

    def _revive(self, value: Any) -> Any:
        kind = type(value)
        if kind is dict:
            for key, item in value.items():
                if type(item) in LOOK_INTO:
                    value[key] = self._revive(item)
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self._revivers[value["_type_"]](value["_data_"])
            return value
        if kind is list:
            return [self._revive(item) for item in value]
        if kind is float:
            raise MaybeLongInteger
        return value


def fast_mapper(mapper: Mapper[UUID]) -> Mapper[UUID]:
    """The same mapper, reading with orjson when it uses the standard JSON transcoder."""
    if type(mapper.transcoder) is not JSONTranscoder:
        return mapper
    return Mapper(OrjsonTranscoder(mapper.transcoder), mapper.compressor, mapper.cipher)
