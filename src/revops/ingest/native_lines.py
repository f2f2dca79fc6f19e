"""Recognising a native Stripe or Salesforce CDC line from the few fields landing needs.

Landing stores a native line as received and needs only its event ids, type, time and
correlation id. Decoding every field of a 3 KB event into Python objects (and freeing them)
cost as much as the warehouse's bulk insert of the row; msgspec decodes just those fields and
skips the rest, an order of magnitude cheaper (measured). Anything that is not plainly a
well-formed Stripe or CDC event returns None and the caller reads it the full way
(:func:`revops.sources.detect.normalize_record`), so errors and odd shapes are reported
exactly as before.

The UTF-8 of the skipped strings is not checked here: the caller checks a whole batch of
lines at once (:func:`invalid_utf8`) and reads the failing ones the full way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from revops.envelope import Envelope, parse_timestamp
from revops.errors import EventError
from revops.sources.salesforce import (
    CHANGE_ACTIONS,
    WILDCARD_RECORD,
    cdc_event_id,
    cdc_type,
    commit_replay_key,
)

_UNSET = msgspec.UNSET
_Unset = msgspec.UnsetType
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
# Integer times below this are epoch seconds, from it on milliseconds (as parse_timestamp).
_MS_FROM = 100_000_000_000
# Below 2^32 seconds a millisecond time divided by 1000 as a double is within 0.25 µs of the
# exact value, so parse_timestamp's datetime is exactly ms * 1000 µs; beyond, it is computed.
_MS_EXACT_BELOW = 2**32 * 1000


class _Object(msgspec.Struct):
    """Any JSON object; its fields are skipped (a non-object fails the decode)."""


class _Header(msgspec.Struct):
    """The fields of a ``ChangeEventHeader`` that landing reads."""

    entityName: Any = _UNSET
    recordIds: Any = _UNSET
    changeType: Any = _UNSET
    transactionKey: Any = _UNSET
    sequenceNumber: Any = _UNSET
    commitTimestamp: Any = _UNSET
    commitNumber: Any = _UNSET


class _Payload(msgspec.Struct):
    ChangeEventHeader: _Header | _Unset = _UNSET


class _Event(msgspec.Struct):
    replayId: Any = _UNSET


class _Data(msgspec.Struct):
    object: _Object | _Unset = _UNSET
    payload: _Payload | _Unset = _UNSET
    event: _Event | _Unset = _UNSET


class _Line(msgspec.Struct):
    """The top-level fields of a Stripe event or a CDC message; others are skipped."""

    object: Any = _UNSET
    type: Any = _UNSET
    id: Any = _UNSET
    created: Any = _UNSET
    request: Any = None
    data: _Data | _Unset = _UNSET
    # Present on a neutral envelope: such a line is never taken as a native event here.
    source: msgspec.Raw | _Unset = _UNSET
    payload: _Payload | _Unset = _UNSET
    event: _Event | _Unset = _UNSET
    replayId: Any = _UNSET
    ChangeEventHeader: _Header | _Unset = _UNSET


_DECODE = msgspec.json.Decoder(_Line).decode
_STRICT_INT = int  # bool is a subclass of int: compared with ``type(x) is int``

# (source, type, event time in µs since the epoch, correlation id, event ids)
Native = tuple[str, str, int, str | None, tuple[str, ...]]


def micros(dt: datetime) -> int:
    """A datetime as integer microseconds since the Unix epoch (exact; naive is UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - EPOCH) // _MICRO


def from_micros(us: int) -> datetime:
    """The aware UTC datetime of ``us`` microseconds since the Unix epoch."""
    return EPOCH + timedelta(microseconds=us)


def ts_micros(value: Any, field: str) -> int:
    """:func:`parse_timestamp` of ``value`` in µs since the epoch, without a datetime for the
    common integer forms; raises :class:`EventError` as parse_timestamp does."""
    if type(value) is _STRICT_INT:
        if 0 <= value < _MS_FROM:
            return value * 1_000_000
        if _MS_FROM <= value < _MS_EXACT_BELOW:
            return value * 1000
    return micros(parse_timestamp(value, field=field))


def read_native(line: bytes, source: str | None) -> Native | None:
    """The landing fields of a well-formed native Stripe or CDC line, or None to read it in
    full. ``source`` is the ``--source`` hint (None: detect).

    Equal to :func:`revops.sources.detect.normalize_record` on the parsed line in source,
    type, event time, correlation id and event ids (in order), for every line it accepts.
    """
    try:
        head = _DECODE(line)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if head.source is not _UNSET:
        return None
    try:
        if head.object == "event":
            if source in (None, "stripe"):
                return _stripe(head)
            return None
        if source in (None, "salesforce"):
            return _cdc(head)
    except EventError:
        return None
    return None


def _stripe(head: _Line) -> Native | None:
    data = head.data
    if (
        not isinstance(head.type, str)
        or not isinstance(head.id, str)
        or not head.id
        or head.created is _UNSET
        or data is _UNSET
        or data.object is _UNSET
        or head.payload is not _UNSET
    ):
        return None
    request = head.request
    correlation = request.get("id") if isinstance(request, dict) else None
    return (
        "stripe",
        f"stripe.{head.type}",
        ts_micros(head.created, "created"),
        correlation if isinstance(correlation, str) else None,
        (f"stripe:{head.id}",),
    )


def _cdc(head: _Line) -> Native | None:
    # The accepted shapes in revops.sources.salesforce._split's order: the payload itself,
    # {"payload", "event"}, {"data": {"payload", "event"}}.
    if head.ChangeEventHeader is not _UNSET:
        header, event = head.ChangeEventHeader, _UNSET
    elif head.payload is not _UNSET and head.payload.ChangeEventHeader is not _UNSET:
        header, event = head.payload.ChangeEventHeader, head.event
    elif (
        head.data is not _UNSET
        and head.data.payload is not _UNSET
        and head.data.payload.ChangeEventHeader is not _UNSET
    ):
        header, event = head.data.payload.ChangeEventHeader, head.data.event
    else:
        return None
    if head.type is not _UNSET or head.object is not _UNSET:
        return None  # Not plainly a CDC message: the full reader decides.
    if event is not _UNSET and event.replayId is not _UNSET:
        replay = event.replayId
    else:
        replay = None if head.replayId is _UNSET else head.replayId
    change = header.changeType
    entity = header.entityName
    record_ids = header.recordIds
    if (
        not isinstance(change, str)
        or change.upper() not in CHANGE_ACTIONS
        or not isinstance(entity, str)
        or not entity
        or header.commitTimestamp is _UNSET
        or not _int_or_none(header.commitNumber)
        or not _int_or_none(header.sequenceNumber)
        or not (replay is None or _exact_int(replay) or isinstance(replay, str))
        or not (record_ids is _UNSET or record_ids is None or isinstance(record_ids, list))
    ):
        return None
    change = change.upper()
    event_ts = ts_micros(header.commitTimestamp, "commitTimestamp")
    commit = None if header.commitNumber is _UNSET else header.commitNumber
    sequence = None if header.sequenceNumber is _UNSET else header.sequenceNumber
    replay_key = str(replay) if replay not in (None, "") else None
    if replay_key is None:
        if commit is None:
            return None
        replay_key = commit_replay_key(commit, sequence)
    if not record_ids:
        if change != "GAP_OVERFLOW":
            return None
        record_ids = [WILDCARD_RECORD]
    elif not all(type(r) is str for r in record_ids):
        return None
    correlation = header.transactionKey
    return (
        "salesforce",
        cdc_type(entity, change),
        event_ts,
        correlation if isinstance(correlation, str) else None,
        tuple(cdc_event_id(r, replay_key) for r in dict.fromkeys(record_ids)),
    )


# orjson (the full reader) reads integers outside this range as floats: such a line is read
# the full way so its ids come out exactly as before.
_INT_MIN, _INT_END = -(2**63), 2**64


def _exact_int(value: Any) -> bool:
    return type(value) is _STRICT_INT and _INT_MIN <= value < _INT_END


def _int_or_none(value: Any) -> bool:
    return value is _UNSET or value is None or _exact_int(value)


def stripe_event_envelope(line: bytes) -> Envelope | None:
    """The envelope of a well-formed native Stripe event line, or None to read it in full.

    The envelope carries no parsed ``payload`` (an empty dict): it is for landing, which
    stores ``line`` itself. Equal in id, type, time and correlation id to
    :func:`revops.sources.stripe.normalize_stripe_event` on the parsed line.
    """
    envs = native_envelopes(line, "stripe")
    return envs[0] if envs else None


def native_envelopes(line: bytes, source: str | None = None) -> list[Envelope] | None:
    """:func:`read_native` as envelopes (without a parsed payload), or None; checks the
    line's UTF-8 too, as the batch reader does."""
    native = read_native(line, source)
    if native is None or invalid_utf8([line]):
        return None
    src, type_, ts, correlation, ids = native
    event_ts = from_micros(ts)
    return [
        Envelope.model_construct(
            source=src,
            type=type_,
            event_ts=event_ts,
            event_id=event_id,
            correlation_id=correlation,
            payload={},
        )
        for event_id in ids
    ]


def binary_array(values: list[bytes]):  # type: ignore[no-untyped-def]
    """``values`` as an Arrow ``large_binary`` array built from one joined buffer (several
    times cheaper than converting the list item by item)."""
    import array
    import itertools

    import pyarrow as pa

    offsets = array.array("q", itertools.accumulate(map(len, values), initial=0))
    data = b"".join(values)
    return pa.Array.from_buffers(
        pa.large_binary(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def invalid_utf8(lines: list[bytes], arr=None) -> set[int]:  # type: ignore[no-untyped-def]
    """Positions in ``lines`` that are not valid UTF-8, checked in one vectorised pass (and
    line by line only when the pass finds something). ``arr`` is ``lines`` as built by
    :func:`binary_array`, when the caller has it."""
    import pyarrow as pa

    if arr is None:
        arr = binary_array(lines)
    try:
        arr.view(pa.large_string()).validate(full=True)
        return set()
    except pa.ArrowInvalid:
        bad = set()
        for n, line in enumerate(lines):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                bad.add(n)
        return bad
