"""Refused pushes cannot flood the receiver's log (session 29's security review).

Each refused request was a 210-byte warning, and anyone on the pod network may send one: a
single connection without a token got 2,068 answers of 401 in 5 s (87 KB/s of log, up to the
connection cap of such connections). Now one line per client and status every 10 s says how
many were left out; /metrics still counts every request.
"""

from __future__ import annotations

import json
import signal

from tests.lb.test_push import Receiver, _samples, line, ndjson, receiver

__all__ = ["receiver"]  # the fixture, imported for the test below

#: Requests of each kind: their lines fit the receiver's stderr pipe (64 KiB) even unthrottled.
N = 120


def test_a_flood_of_refused_requests_writes_a_line_per_client_and_status(
    receiver: Receiver,
) -> None:
    good = ndjson([line(1)])
    for _ in range(N):
        assert receiver.post(good, token="wrong-token-of-the-same-size-xxxxx")[0] == 401
        assert receiver.post(ndjson([dict(line(1), op="UPSERTED")]))[0] == 400
    status, text = receiver.get("/metrics")
    assert status == 200
    samples = _samples(text)
    assert samples[("gapwatch_push_requests_total", (("code", "401"),))] == N
    assert samples[("gapwatch_push_requests_total", (("code", "400"),))] == N
    receiver.proc.send_signal(signal.SIGTERM)
    assert receiver.proc.stderr is not None
    said = [json.loads(x) for x in receiver.proc.stderr.read().splitlines()]
    refused = [e for e in said if e["event"] == "push refused"]
    by_status = {code: [e for e in refused if e["status"] == code] for code in (401, 400)}
    # the first of each, and one more only if the flood outlasted 10 s
    assert 1 <= len(by_status[401]) <= 2 and 1 <= len(by_status[400]) <= 2, refused
    assert by_status[401][0]["suppressed"] == 0 and by_status[401][0]["peer"] == "127.0.0.1"
    (stopped,) = [e for e in said if e["event"] == "stopped"]
    assert stopped["answered"] == {"401": N, "400": N}
