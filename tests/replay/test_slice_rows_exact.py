"""replay.facts_k8s.slice_rows builds a slice's facts as tuples (ingest session 28); the facts
must be the ones the dict rows gave, on any JSON a mutated or foreign slice may hold. The oracle
below is the code before the rewrite (main eba45cd: slice_facts; replay.facts._typed, whose
loop is replay.facts._retyped unchanged)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.recorder.observation import Observation
from gapwatch.replay.facts import FACT_COLUMNS, _retyped, _typed, derive
from gapwatch.replay.facts_k8s import HOSTNAME_KEY, SERVICE_LABEL
from gapwatch.replay.owntime import write_stamp_us
from gapwatch.replay.payload import as_dict, as_list


def _condition(conditions: Any, key: str, default: bool) -> bool:
    value = conditions.get(key)
    return default if value is None else bool(value)


def oracle(event_id: int, obs: Observation) -> list[tuple[Any, ...]]:
    at = obs.observed_at - datetime(1970, 1, 1, tzinfo=UTC)
    base = dict.fromkeys(FACT_COLUMNS)
    base |= {"event_id": event_id, "seq": 0, "cluster": obs.cluster, "fact": "slice",
             "at_us": (at.days * 86_400 + at.seconds) * 1_000_000 + at.microseconds,
             "op": obs.op, "namespace": obs.namespace, "name": obs.name, "node": obs.node,
             "src_us": write_stamp_us(obs.op, obs.payload)}  # fmt: skip
    meta = as_dict(obs.payload.get("metadata"))
    service = as_dict(meta.get("labels")).get(SERVICE_LABEL)
    if not service:
        return []
    ns = meta.get("namespace") or obs.namespace
    slice_name = meta.get("name") or obs.name
    rows = [dict(base, namespace=ns, name=service, node=None, state=obs.op, text1=slice_name)]
    if obs.op != "DELETED" and obs.payload.get("addressType") != "FQDN":
        per_node: dict[str, list[Any]] = {}
        for ep in as_list(obs.payload.get("endpoints")):
            ep = as_dict(ep)
            node = ep.get("nodeName") or as_dict(ep.get("topology")).get(HOSTNAME_KEY)
            if not node or not isinstance(node, str):
                continue
            cond = as_dict(ep.get("conditions"))
            ready = _condition(cond, "ready", True)
            serving = _condition(cond, "serving", ready)
            terminating = _condition(cond, "terminating", False)
            counts = per_node.setdefault(node, [0, 0, 0, [], []])
            counts[0] += ready
            counts[1] += serving and terminating and not ready
            counts[2] += terminating
            ref = as_dict(ep.get("targetRef"))
            if ref.get("name"):
                counts[3].append(str(ref["name"]))
                if ready:
                    counts[4].append(str(ref["name"]))
        for node in sorted(per_node):
            ready, serving_term, terminating, pods, ready_pods = per_node[node]
            rows.append(
                dict(base, namespace=ns, name=service, node=node, state=obs.op, num1=ready,
                     num2=serving_term, num3=terminating, text1=slice_name,
                     text2=",".join(sorted(set(pods))),
                     text3=",".join(sorted(set(ready_pods))) or None)
            )  # fmt: skip
    out = []
    for i, row in enumerate(rows):
        row["seq"] = i
        out.append(tuple(_retyped(row)[c] for c in FACT_COLUMNS))
    return out


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
FLAG = st.none() | st.booleans() | JSON
NODE = st.sampled_from(["n1", "n2", "n3", ""]) | JSON


@st.composite
def endpoint(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)
    ep: dict[str, Any] = {}
    if draw(st.booleans()):
        ep["nodeName"] = draw(NODE)
    else:
        ep["topology"] = {HOSTNAME_KEY: draw(NODE)}
    conditions = {k: draw(FLAG) for k in ("ready", "serving", "terminating") if draw(st.booleans())}
    ep["conditions"] = conditions if draw(st.integers(0, 9)) else draw(JSON)
    ep["targetRef"] = {"name": draw(st.sampled_from(["p1", "p2", "p3", ""]) | JSON)}
    return ep


@st.composite
def slices(draw: st.DrawFn) -> Observation:
    meta: dict[str, Any] = {
        "name": draw(st.sampled_from(["s-abc", ""]) | JSON),
        "namespace": draw(st.sampled_from(["ns", ""]) | JSON),
        "labels": {SERVICE_LABEL: draw(st.sampled_from(["svc", ""]) | JSON)},
    }
    if draw(st.booleans()):
        meta["managedFields"] = [{"time": "2026-01-01T00:00:01Z"}]
    payload = {"metadata": meta, "endpoints": draw(st.lists(endpoint(), max_size=6) | JSON)}
    if draw(st.booleans()):
        payload["addressType"] = draw(st.sampled_from(["IPv4", "FQDN"]))
    return Observation(
        observed_at=datetime(2026, 1, 1, 0, 0, 2, 5, tzinfo=UTC),
        cluster="c",
        source="k8s-watch",
        kind="EndpointSlice",
        op=draw(st.sampled_from(["ADDED", "MODIFIED", "DELETED"])),
        payload=payload,
        namespace="ns",
        name=draw(st.sampled_from(["s-abc", None])),
        resource_version="7",
    )


@settings(max_examples=400, deadline=None)
@given(slices())
def test_slice_facts_are_the_dict_rows_facts(obs: Observation) -> None:
    assert [tuple(f) for f in derive(3, obs)] == oracle(3, obs)


COLUMN = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3) | JSON


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries({k: COLUMN for k in FACT_COLUMNS[11:]}))
def test_the_typing_fast_path_types_as_the_loop(row: dict[str, Any]) -> None:
    assert _typed(dict(row)) == _retyped(dict(row))
