"""Properties: event ids, and any delivery order with any duplicates gives the same result."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.envelope import canonical_json
from revops.sources.detect import normalize_record
from revops.transform import run_transform

from .conftest import golden_lines, land, snapshot

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
payloads = st.dictionaries(st.text(min_size=1, max_size=6), json_values, min_size=1, max_size=6)


def envelope(payload: dict) -> dict:
    return {
        "source": "crm",
        "type": "crm.customer.updated",
        "event_ts": "2025-01-01T00:00:00Z",
        "payload": payload,
    }


def reorder(value):
    if isinstance(value, dict):
        items = list(value.items())[::-1]
        return {k: reorder(v) for k, v in items}
    if isinstance(value, list):
        return [reorder(v) for v in value]
    return value


@settings(max_examples=60, deadline=None)
@given(payloads)
def test_event_id_is_stable_under_key_order(payload):
    (a,) = normalize_record(envelope(payload))
    (b,) = normalize_record(reorder(envelope(payload)))
    assert a.event_id == b.event_id
    assert a.event_id.startswith("crm:sha256:")


@settings(max_examples=60, deadline=None)
@given(payloads, payloads)
def test_distinct_content_gives_distinct_event_ids(p1, p2):
    (a,) = normalize_record(envelope(p1))
    (b,) = normalize_record(envelope(p2))
    assert (a.event_id == b.event_id) == (canonical_json(p1) == canonical_json(p2))


def _reset(wh) -> None:
    tables = wh.query(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'revops' AND table_type = 'BASE TABLE'"
    )
    for t in tables:
        wh.execute(f'DELETE FROM revops."{t["table_name"]}"')


_CLEAN: dict[str, dict] = {}


def _clean_snapshot(wh) -> dict:
    if wh.dialect not in _CLEAN:
        _reset(wh)
        land(wh, golden_lines())
        run_transform(wh)
        _CLEAN[wh.dialect] = snapshot(wh)
    return _CLEAN[wh.dialect]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), duplicates=st.integers(0, 25), batches=st.integers(1, 5))
def test_any_order_and_duplicates_give_the_same_facts_and_marts(wh, seed, duplicates, batches):
    expected = _clean_snapshot(wh)
    rng = random.Random(seed)
    lines = golden_lines()
    deliveries = lines + [rng.choice(lines) for _ in range(duplicates)]
    rng.shuffle(deliveries)
    _reset(wh)
    cuts = sorted(rng.sample(range(1, len(deliveries)), batches - 1)) if batches > 1 else []
    for start, end in zip([0, *cuts], [*cuts, len(deliveries)], strict=True):
        land(wh, deliveries[start:end])
        run_transform(wh)
    assert snapshot(wh) == expected
