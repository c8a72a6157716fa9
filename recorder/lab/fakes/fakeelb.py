"""ELBv2 for tests: moto's server over real HTTP, behind a thin faithful proxy for what moto lacks.

moto 5 (server mode) keeps target groups, registrations, tags and attributes, but reports every
registered target `healthy` (stopped instances `unused`, terminated ones `draining`) and never
`initial`, `unhealthy`, `unhealthy.draining` or `unavailable`; it never throttles either. The proxy
forwards every request unchanged (signature included) to moto and, on cue:

- rewrites the `TargetHealth` of chosen targets in moto's real `DescribeTargetHealth` XML answer
  (`State`, `Reason`, `Description` elements, in ELBv2's namespace, as AWS sends them), so
  membership still comes from moto and only the health verdict is scripted;
- answers the next N requests with ELBv2's `Throttling` error (HTTP 400, `ErrorResponse` XML);
- gives the next N `DescribeTargetGroups` answers of a paginated listing (no ARNs or names
  asked) the `NextMarker` of the request they answer (or a first one): a server whose paging
  never ends (`loop_marker`);
- answers the next N requests of an action with a body of its own, sent a piece at a time as
  HTTP/1.1 chunks as they come from a generator (`answer_with`): an answer of hundreds of MB, one
  that never ends, one that is not ELBv2's XML, without holding it whole.

It keeps every `DescribeTargetHealth` it answered (`served`): what a poller could have seen, and
when.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
THROTTLE_XML = (
    f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>Throttling</Code>'
    "<Message>Rate exceeded</Message></Error><RequestId>fake-throttle</RequestId></ErrorResponse>"
).encode()

Header = tuple[str, str]

#: The first marker `HealthProxy.loop_marker` hands out.
LOOP_MARKER = "gapwatch-loop"


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free port; yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class HealthProxy:
    """`with HealthProxy(moto_url) as proxy:`; point boto3 at `proxy.url`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self._health: dict[str, tuple[str, str | None, str | None]] = {}
        self._throttle = 0
        self._loop_marker = 0
        self._answers: dict[str, list[tuple[Callable[[], Iterable[bytes]], list[Header]]]] = {}
        self.actions: list[str] = []
        #: every DescribeTargetHealth answered (not throttled): when it was sent (wall clock)
        #: and each member's `State` in it, as the poller got it; the lab's ledger counts an LB
        #: state no answer carried as unobservable (recorder/lab/ledger.py, `served`)
        self.served: list[tuple[float, dict[str, str]]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                own = proxy._own_answer(body)
                if own is not None:
                    self._send_chunks(*own)
                    return
                status, headers, data = proxy._forward(self.path, dict(self.headers), body)
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_chunks(self, chunks: Iterable[bytes], headers: list[Header]) -> None:
                self.protocol_version = "HTTP/1.1"
                self.send_response(200)
                for key, value in [("Content-Type", "text/xml"), *headers]:
                    self.send_header(key, value)
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for chunk in chunks:
                        if chunk:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                            self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:  # the client hung up: what the cue was for
                    pass
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HealthProxy:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def set_health(
        self, target_id: str, state: str, reason: str | None = None, description: str | None = None
    ) -> None:
        """From now on `target_id` (while moto has it registered) reports this health."""
        with self._lock:
            self._health[target_id] = (state, reason, description)

    def clear_health(self, target_id: str) -> None:
        with self._lock:
            self._health.pop(target_id, None)

    def throttle(self, times: int) -> None:
        with self._lock:
            self._throttle += times

    def loop_marker(self, times: int) -> None:
        """The next `times` listings of DescribeTargetGroups say there is a next page, whose
        marker is the one they were asked for (the first: `LOOP_MARKER`)."""
        with self._lock:
            self._loop_marker = times

    def answer_with(
        self,
        action: str,
        chunks: Callable[[], Iterable[bytes]],
        *,
        times: int = 1,
        headers: Iterable[Header] = (),
    ) -> None:
        """The next `times` requests of `action` are answered 200 with the pieces `chunks()`
        yields (as they come), with `headers` beside `Content-Type: text/xml`; moto is not
        asked."""
        with self._lock:
            queue = self._answers.setdefault(action, [])
            queue.extend([(chunks, list(headers))] * times)

    def _own_answer(self, body: bytes) -> tuple[Iterable[bytes], list[Header]] | None:
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        with self._lock:
            queue = self._answers.get(action)
            if not queue:
                return None
            self.actions.append(action)
            chunks, headers = queue.pop(0)
        return chunks(), headers

    def stop_throttling(self) -> None:
        """Answer every call from now on (the throttled calls still owed are forgiven)."""
        with self._lock:
            self._throttle = 0

    def _forward(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        query = parse_qs(body.decode("utf-8", "replace"))
        action = query.get("Action", ["?"])[0]
        listing = action == "DescribeTargetGroups" and not any(
            k.startswith(("TargetGroupArns.", "Names.", "LoadBalancerArn")) for k in query
        )
        with self._lock:
            self.actions.append(action)
            if self._throttle > 0:
                self._throttle -= 1
                return 400, [("Content-Type", "text/xml")], THROTTLE_XML
            overrides = dict(self._health)
            looping = listing and self._loop_marker > 0
            if looping:
                self._loop_marker -= 1
        request = urllib.request.Request(
            self.upstream + path,
            data=body,
            method="POST",
            headers={k: v for k, v in headers.items() if k.lower() != "host"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, out_headers, data = (
                    answer.status,
                    list(answer.headers.items()),
                    answer.read(),
                )
        except urllib.error.HTTPError as exc:
            status, out_headers, data = exc.code, list(exc.headers.items()), exc.read()
        if looping and status == 200:
            data = _with_next_marker(data, query.get("Marker", [LOOP_MARKER])[0])
        if action == "DescribeTargetHealth" and status == 200:
            if overrides:
                data = _rewrite(data, overrides)
            members = _states(data)
            with self._lock:
                self.served.append((time.time(), members))
        return status, out_headers, data


def _with_next_marker(data: bytes, marker: str) -> bytes:
    """A DescribeTargetGroups answer whose `NextMarker` is `marker`."""
    ET.register_namespace("", NS)
    root = ET.fromstring(data)
    result = root.find(f"{{{NS}}}DescribeTargetGroupsResult")
    if result is None:
        return data
    element = result.find(f"{{{NS}}}NextMarker")
    if element is None:
        element = ET.SubElement(result, f"{{{NS}}}NextMarker")
    element.text = marker
    out: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return out


def _states(data: bytes) -> dict[str, str]:
    """Each member's `State` in a DescribeTargetHealth answer, by target id."""
    found: dict[str, str] = {}
    for member in ET.fromstring(data).iter(f"{{{NS}}}member"):
        ident = member.find(f"{{{NS}}}Target/{{{NS}}}Id")
        state = member.find(f"{{{NS}}}TargetHealth/{{{NS}}}State")
        if ident is not None and ident.text and state is not None and state.text:
            found[ident.text] = state.text
    return found


def _rewrite(data: bytes, overrides: dict[str, tuple[str, str | None, str | None]]) -> bytes:
    ET.register_namespace("", NS)
    root = ET.fromstring(data)
    for member in root.iter(f"{{{NS}}}member"):
        ident = member.find(f"{{{NS}}}Target/{{{NS}}}Id")
        health = member.find(f"{{{NS}}}TargetHealth")
        if ident is None or health is None or ident.text not in overrides:
            continue
        state, reason, description = overrides[ident.text]
        for child in list(health):
            health.remove(child)
        for tag, value in (("State", state), ("Reason", reason), ("Description", description)):
            if value is not None:
                ET.SubElement(health, f"{{{NS}}}{tag}").text = value
    out: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return out


class MotoProcess:
    """moto's server in its own process (`python -m moto.server`): its CPU stays out of the
    process that serves the other fakes, and it can be killed and restarted (state is lost, as
    moto keeps everything in memory). `with MotoProcess(log) as moto: moto.url`."""

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.log_path = log_path
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MotoProcess:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/moto-api/", timeout=1):
                    return
            except (urllib.error.URLError, OSError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto did not start (log: {self.log_path})") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
