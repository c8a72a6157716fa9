"""The observation contract: validation with actionable errors, identity, NDJSON round trip."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gapwatch.recorder.errors import ObservationError
from gapwatch.recorder.observation import Observation, from_dict, validate
from tests.store.samples import real_observations


def test_every_real_sample_satisfies_the_contract() -> None:
    observations = real_observations()
    kinds = {o.kind for o in observations}
    assert kinds == {"Service", "EndpointSlice", "Node", "ProxyHealth", "TargetHealth"}
    for obs in observations:
        assert validate(obs) == obs


def _base() -> dict[str, Any]:
    return real_observations()[0].to_dict()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("cluster"), "missing required field(s): cluster"),
        (lambda d: d.update(observed_at="2026-13-01T00:00:00Z"), "observed_at"),
        (lambda d: d.update(observed_at="2026-01-01T00:00:00"), "observed_at"),
        (lambda d: d.update(op="UPSERTED"), "op: 'UPSERTED' is not one of"),
        (lambda d: d.update(kind="service"), "kind: 'service' is not a kind: a capital letter"),
        (lambda d: d.update(name="other"), "differs from payload/metadata/name"),
        (lambda d: d.update(payload=[1, 2]), "payload: [1, 2] is not of type 'object'"),
        (lambda d: d.update(unknown=1), "Additional properties are not allowed ('unknown'"),
        (lambda d: d.update(namespace=None), "namespace: None is not of type 'string'"),
        (
            lambda d: d.update(previous_observed_at="2027-01-01T00:00:00Z"),
            "previous_observed_at: later than observed_at",
        ),
    ],
)
def test_invalid_observations_say_which_field_and_why(change: Any, expected: str) -> None:
    data = _base()
    change(data)
    with pytest.raises(ObservationError) as info:
        from_dict(data)
    assert expected in str(info.value)


SHAPE = "is not an RFC 3339 time with seconds (at most 6 decimals) and a zone ('Z' for UTC)"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("observed_at", "yesterday"),
        ("observed_at", "2026-01-01T09:00:00"),
        ("observed_at", "2026-01-01T09:00Z"),
        ("source_time", "2026-01-01T09:00:00.1234567Z"),
        ("previous_observed_at", "1767258000"),
    ],
)
def test_a_bad_time_says_what_a_time_is_not_the_schema_regex(field: str, value: str) -> None:
    """`observed_at: 'yesterday' does not match '^\\d{4}-\\d{2}-...$'`: the regex told a user
    importing a file (or pushing to the API) nothing they could act on."""
    data = _base()
    data[field] = value
    with pytest.raises(ObservationError) as info:
        from_dict(data)
    assert str(info.value).startswith(f"{field}: {value!r} {SHAPE}"), info.value
    assert "does not match" not in str(info.value) and "\\d" not in str(info.value)


def test_a_bad_source_name_says_what_a_source_is() -> None:
    data = _base()
    data["source"] = "LB Poller"
    with pytest.raises(ObservationError, match="source: 'LB Poller' is not a source name"):
        from_dict(data)


@pytest.mark.parametrize(
    ("line", "got"), [([], "an array"), (None, "null"), (1.5, "a number"), ("x", "a string")]
)
def test_a_line_that_is_no_object_is_named_in_json_terms(line: Any, got: str) -> None:
    """It said `got NoneType` or `got list`: Python's names for JSON's null and array."""
    with pytest.raises(ObservationError, match=f"expected a JSON object, got {got}$"):
        from_dict(line)


def test_probe_without_node_is_rejected() -> None:
    probe = next(o for o in real_observations() if o.kind == "ProxyHealth").to_dict()
    probe["node"] = None
    with pytest.raises(ObservationError, match="node"):
        from_dict(probe)


def test_offsets_are_normalized_to_utc() -> None:
    data = _base()
    data["observed_at"] = "2026-03-13T12:00:00.5+02:00"
    obs = from_dict(data)
    assert obs.observed_at == datetime(2026, 3, 13, 10, 0, 0, 500000, tzinfo=UTC)
    assert obs.to_dict()["observed_at"] == "2026-03-13T10:00:00.500000Z"


def _with(obs: Observation, **changes: Any) -> Observation:
    return replace(obs, **changes)


def test_identity_rules() -> None:
    observations = real_observations()
    eps = next(o for o in observations if o.kind == "EndpointSlice")
    probe = next(o for o in observations if o.kind == "ProxyHealth")
    later = timedelta(seconds=3)
    # An object change: the same resourceVersion is the same change, whoever saw it, whenever.
    assert _with(eps, observed_at=eps.observed_at + later, source="k8s-audit").dedupe_key() == (
        eps.dedupe_key()
    )
    assert _with(eps, op="ADDED").dedupe_key() == eps.dedupe_key()
    assert _with(eps, op="DELETED").dedupe_key() != eps.dedupe_key()
    assert _with(eps, resource_version="4243").dedupe_key() != eps.dedupe_key()
    assert _with(eps, cluster="other").dedupe_key() != eps.dedupe_key()
    # A sample: its time and content make it.
    assert _with(probe, observed_at=probe.observed_at + later).dedupe_key() != probe.dedupe_key()
    assert _with(probe, payload={**probe.payload, "status": 503}).dedupe_key() != (
        probe.dedupe_key()
    )
    reordered = dict(reversed(list(probe.payload.items())))
    assert _with(probe, payload=reordered).dedupe_key() == probe.dedupe_key()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(
    observed_at=times,
    previous=st.one_of(
        st.none(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=1))
    ),
    node=st.text(min_size=1, max_size=20),
    payload=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    source_time=st.one_of(st.none(), times),
)
def test_ndjson_form_round_trips(
    observed_at: datetime,
    previous: timedelta | None,
    node: str,
    payload: dict[str, Any],
    source_time: datetime | None,
) -> None:
    obs = Observation(
        observed_at=observed_at, cluster="c", source="lb-push", kind="CustomSample",
        op="OBSERVED", node=node, payload=payload, source_time=source_time,
        previous_observed_at=None if previous is None else observed_at - previous,
    )  # fmt: skip
    again = from_dict(obs.to_dict())
    assert again == obs
    assert again.dedupe_key() == obs.dedupe_key()
