"""Reading stored events faster: orjson parses what eventsourcing's JSON transcoder wrote.

Decoding with the standard library's ``json`` and a Python hook for every object was the
largest single cost of a catch-up. Here orjson parses the same bytes and the typed values
(``{"_type_": ..., "_data_": ...}``) are revived by the transcoder's own transcodings, inner
ones first, as the hook does. Whatever orjson will not read (NaN, lone surrogates), may read
otherwise (it reads an integer past 64 bits as a float, so any float is left to the standard
decoder; events seldom hold one) or the revival does not expect is decoded by the standard
transcoder, so the result, or the error, is always the one it gives. Writing is left to it.

``EventDecoder`` makes the domain events from the states as eventsourcing's mapper does,
with what the mapper looks up for each event looked up once per topic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    Notification,
    Transcoder,
    Transcoding,
    find_id_convertor,
)
from eventsourcing.utils import resolve_topic

# Empty containers hold nothing to revive; they are kept as orjson made them.
EMPTY_AS_IS = frozenset({dict, list})


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
            revivers = self._revivers
            for key, item in value.items():
                kind = type(item)
                if not item and kind in EMPTY_AS_IS:
                    continue
                if kind is dict:
                    # A typed value whose data is text (a time, a decimal, an id: most of
                    # them) is revived without walking into it: text revives to itself.
                    if (
                        len(item) == 2
                        and type(data := item.get("_data_")) is str
                        and "_type_" in item
                    ):
                        value[key] = revivers[item["_type_"]](data)
                        continue
                    value[key] = self._revive(item)
                elif kind is list or kind is float:
                    value[key] = self._revive(item)
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return revivers[value["_type_"]](value["_data_"])
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


class EventDecoder:
    """Notifications to domain events, exactly as the mapper makes them, with less work.

    What ``Mapper.to_domain_event`` looks up for every event (the class of the topic, its
    version, how to convert the originator id) is looked up once per topic here, and the
    state is read with ``OrjsonTranscoder``. A mapper that compresses or enciphers, or
    whose transcoder is not the standard JSON one, decodes as it always does; so does any
    state that fails to read, so that its error is the mapper's.
    """

    def __init__(self, mapper: Mapper[UUID]) -> None:
        self.mapper = fast_mapper(mapper)
        transcoder = self.mapper.transcoder
        self._direct = (
            isinstance(transcoder, OrjsonTranscoder) and not mapper.compressor and not mapper.cipher
        )
        self._decode_state = transcoder.decode
        self._kinds: dict[tuple[str, type], tuple[type, int, Callable[[Any], Any]]] = {}

    def __call__(self, notification: Notification) -> Any:
        if not self._direct:
            return self.mapper.to_domain_event(notification)
        originator_id = notification.originator_id
        kind = self._kinds.get((notification.topic, type(originator_id)))
        if kind is None:
            kind = self._kind(notification.topic, type(originator_id))
        cls, version, convert_id = kind
        try:
            state = self._decode_state(notification.state)
        except Exception:
            return self.mapper.to_domain_event(notification)  # raises the mapper's error
        state["originator_id"] = convert_id(originator_id)
        state["originator_version"] = notification.originator_version
        stored_version = state.pop("class_version", 1)
        while stored_version < version:
            getattr(cls, f"upcast_v{stored_version}_v{stored_version + 1}")(state)
            stored_version += 1
        event: Any = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def _kind(self, topic: str, id_type: type) -> tuple[type, int, Callable[[Any], Any]]:
        cls = resolve_topic(topic)
        kind = (cls, getattr(cls, "class_version", 1), find_id_convertor(cls, id_type))
        self._kinds[(topic, id_type)] = kind
        return kind
