"""After `db maintain --retention` dropped a span's events, the report and `gaps --why` say
that why its possible windows are possible can no longer be read, instead of reading it from
the facts left: the projections outlive the events (docs/retention.md), and the report said
of the seed's NODE2 window 'no kube-proxy probe of this node: F read from the EndpointSlices'
and 'no target health recorded for this node', of lanes that were recorded and then dropped."""

from __future__ import annotations

from typer.testing import CliRunner

from gapwatch.dashboard.cli import app


def _ok(*args: str) -> str:
    done = CliRunner().invoke(app, list(args))
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    assert done.exit_code == 0, done.output
    return done.output


def test_windows_whose_events_were_dropped_are_not_blamed_on_missing_probes(
    store_url: str,
) -> None:
    _ok("simulate", "--db", store_url, "--cluster", "seed")
    _ok("replay", "--db", store_url)
    span = ("--since", "2026-01-01", "--until", "2026-01-02")
    before = _ok("report", "--db", store_url, *span)
    assert "1 possible window: the samples allow it" in before
    assert "kube-proxy's change (NodePort probe) lies between looks" in before
    # the simulated events are of 2026-01-01: a day's retention drops every one, with its facts
    assert "296 events" in _ok("db", "maintain", "--db", store_url, "--retention", "1d")
    for out in (_ok("report", "--db", store_url, *span), _ok("gaps", "--why", "--db", store_url)):
        assert "NODE2" in out  # the window is still there (the projections')
        assert "no kube-proxy probe of this node" not in out
        assert "no target health recorded" not in out
        assert "1 possible window lies before the first event the store still holds" in out
        assert "of cluster seed it holds none" in out


def test_the_advice_says_it_cannot_answer_for_windows_whose_timeline_was_dropped(
    store_url: str,
) -> None:
    """The report's advice replays the span's timeline under the settings it tries: after the
    retention that timeline is gone, and the demo's report advised preStop 1 s (10 s before) for
    '3 windows observed, 0 left'. It says the settings are not shown to close those windows."""
    _ok("simulate", "--db", store_url, "--cluster", "seed")
    _ok("replay", "--db", store_url)
    span = ("--since", "2026-01-01", "--until", "2026-01-02")
    note = "3 of the 3 windows this advice speaks of lie before the first event the store"
    assert note not in _ok("report", "--db", store_url, *span)
    _ok("db", "maintain", "--db", store_url, "--retention", "1d")
    for over in ("span", "history"):
        out = _ok("report", "--db", store_url, *span, "--advice-over", over)
        assert note in out and "the settings are not shown to close them" in out
    advise = _ok("advise", "--db", store_url, "--cluster", "seed")
    assert "windows observed: 0" in advise  # the replay's, of the events kept
    assert "note: 3 of the 3 windows this advice speaks of lie before the first event" in advise
