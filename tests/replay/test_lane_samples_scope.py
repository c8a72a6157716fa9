"""What docs/sql.md says v_lane_samples holds, and where the rest is, on an import-only postmortem:
a simulated rollout imported as its audit log, CloudTrail and Prometheus' kube-proxy metrics (no
probe, no LB poller). The view holds the endpoints the audit log's EndpointSlices name; CloudTrail's
calls and kube-proxy's syncs name no Service (and CloudTrail no node), and replay ties them: the lb
lane (CloudTrail's membership), the pod and node lanes are in replay_segments, which the page's
query shows around the first window."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, text

from tests.replay.postmortem import import_only

DOC = (Path(__file__).parent.parent.parent / "docs" / "sql.md").read_text()
#: the page's query of every lane around the first window, as replay read them
AROUND = next(
    b for b in re.findall(r"```sql\n(.*?)```", DOC, flags=re.S) if "replay_segments s" in b
)


def _import(engine: Engine, tmp_path: Path) -> None:
    import_only(engine, tmp_path, "seed-3node", 3, ("k8s-audit", "cloudtrail", "prometheus"))


def test_an_import_only_postmortem_has_its_endpoints_in_the_view_and_every_lane_in_segments(
    engine: Engine, tmp_path: Path
) -> None:
    _import(engine, tmp_path)
    with engine.connect() as conn:
        sampled = {r[0] for r in conn.execute(text("SELECT DISTINCT lane FROM v_lane_samples"))}
        untied: dict[str, int] = dict(
            conn.execute(
                text(
                    "SELECT fact, count(*) FROM facts WHERE fact IN ('member', 'sync')"
                    " AND namespace IS NULL GROUP BY fact"
                )
            ).all()
        )
        around = {(r.lane, r.state, r.provenance) for r in conn.execute(text(AROUND))}
    assert sampled == {"endpoints"}
    assert untied.keys() == {"member", "sync"}  # stored, but naming no Service
    assert {lane for lane, _, _ in around} >= {"endpoints", "lb", "pod", "node"}
    assert ("lb", "REGISTERED", "measured") in around  # CloudTrail's RegisterTargets
