"""A rules sync of seconds, as kube-proxy's own pages show it (replay.syncs `began_by`): the sync
that ended at `last_timestamp` began its duration earlier, and applied only the changes queued
before that. The pages are the real v1.21.1 scrape (tests/fixtures/kubeproxy: 23 syncs, 9.37 s)
and the next two scrapes of the same process, as the prober stores them and the fold reads
them; `process_start_time_seconds` (left out of the subset) is added, as every real page has it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gapwatch.recorder.observation import Observation
from gapwatch.recorder.sources.kubeproxy.metrics import parse_metrics
from gapwatch.replay.assumptions import DEFAULTS, seconds_us
from gapwatch.replay.facts import derive
from gapwatch.replay.fold import FoldState, SyncLook, fold
from gapwatch.replay.signals import Step
from gapwatch.replay.synccount import quiet_spans
from gapwatch.replay.syncorder import synced_on
from gapwatch.replay.syncs import began_by, index_looks, programmed

PAGE = Path(__file__).resolve().parents[1] / "fixtures/kubeproxy"
PAGE /= "datadog-kubeproxy-v1.21.1-iptables-metrics-subset.prom"
S = 1_000_000
LAST = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"
QUEUED = "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"
COUNT = "kubeproxy_sync_proxy_rules_duration_seconds_count"
SUM = "kubeproxy_sync_proxy_rules_duration_seconds_sum"
REACH = seconds_us(DEFAULTS.watch_skew_s)
SPAN = seconds_us(DEFAULTS.sync_span_s)


def _page(text: str, **values: float) -> str:
    """The page with these samples' values replaced (the metric's name, as printed)."""
    out = []
    for line in text.splitlines():
        name = line.split(" ")[0]
        out.append(f"{name} {values[name]!r}" if name in values else line)
    return "\n".join(out) + f"\nprocess_start_time_seconds {values['process']!r}\n"


def _looks() -> tuple[list[SyncLook], float]:
    """Three scrapes of one kube-proxy: the real page, then a sync of 4 s that ended 2 s after
    an endpoints change was queued (it began 2 s before it), then one of 50 ms begun after it."""
    text = PAGE.read_text()
    real = parse_metrics(text)
    last, count, busy = real[LAST], real[COUNT], real[SUM]
    process = last - 3600.0
    later = {QUEUED: last + 10}
    pages = [
        (last + 5, _page(text, process=process)),
        (
            last + 14,
            _page(
                text,
                **later,
                **{LAST: last + 12, COUNT: count + 1, SUM: busy + 4.0},
                process=process,
            ),
        ),
        (
            last + 16,
            _page(
                text,
                **later,
                **{LAST: last + 15, COUNT: count + 2, SUM: busy + 4.05},
                process=process,
            ),
        ),
    ]
    facts = []
    for i, (at, page) in enumerate(pages):
        payload = {"metrics": parse_metrics(page), "status": 200, "error": None}
        obs = Observation(datetime.fromtimestamp(at, UTC), "prod", "kube-proxy-probe",
                          "ProxyMetrics", "OBSERVED", payload, node="node-a")  # fmt: skip
        facts += derive(i + 1, obs)
    return fold(FoldState(), facts).syncs[("prod", "node-a")], last


def test_a_long_sync_began_before_the_change_it_ended_after() -> None:
    looks, last = _looks()
    assert [look.syncs for look in looks] == [23, 24, 25]
    assert began_by(looks, 1, SPAN) == round((last + 8) * S)  # 12 s less its 4 s
    assert abs(began_by(looks, 2, SPAN) - round((last + 14.95) * S)) <= 1
    assert began_by(looks, 0, SPAN) == looks[0].synced_us - SPAN  # no earlier page: assumed
    change = round((last + 10) * S)
    (step,) = programmed([Step(change, change, False, 9)], looks, 0, 60 * S, REACH)
    # the 4 s sync ended 2 s after the change with nothing queued since, but began before it;
    # the next one began after it and ended at +15 s: programmed by then, not by +12 s
    assert step.latest == looks[2].synced_us == round((last + 15) * S)


def test_a_turn_on_needs_a_look_whose_sync_began_after_the_emptying() -> None:
    """syncorder: only a look whose last sync began after the emptying reached kube-proxy shows
    the rules held the empty set (so a sync made the turn-on, and the count's quiet spans may
    move it); the 4 s sync that ended 2 s after the emptying began before it, so the rules may
    never have dropped the endpoint and the probed turn-on stays where the probe put it."""
    looks, last = _looks()

    def t(s: float) -> int:
        return round((last + s) * S)

    emptied = Step(t(10), t(10), False, 1)
    opened = Step(t(13), t(13), True, 2)
    probed = Step(t(13.5), t(14.5), True, 3)  # F seen on by a probe in (13.5, 14.5]
    quiet = quiet_spans(looks, SPAN, 0)
    assert any(iv.start < t(14.5) <= iv.end for iv in quiet)  # after the look at +14
    out = synced_on([probed], [emptied, opened], index_looks(looks), REACH, quiet, span_us=SPAN)
    assert out == [probed]
