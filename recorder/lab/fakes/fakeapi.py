"""A local fake of the kube-apiserver at the HTTP level, for the recorder's tests and benchmark.

What it does, as the real apiserver does it:
- one global resourceVersion counter across all kinds (etcd's revision): every create, update and
  delete bumps it and stamps `metadata.resourceVersion`;
- LIST (`GET /api/v1/pods`, `/apis/apps/v1/namespaces/NS/deployments`, ...) with `limit` and
  `continue`: pages of one consistent snapshot at the list's resourceVersion; items without
  `kind`/`apiVersion` (as real lists); a continue token whose resourceVersion has been compacted
  answers HTTP 410 `Expired`;
- WATCH (`?watch=1`) from `resourceVersion`: newline-delimited JSON events (ADDED, MODIFIED,
  DELETED with the last object state), `allowWatchBookmarks` (BOOKMARK events carrying only
  `metadata.resourceVersion`, as a raw object), `timeoutSeconds` (the server ends the stream),
  watching from a compacted resourceVersion answers HTTP 200 and one `ERROR` event with a 410
  Status, as the real server does; an empty resourceVersion starts with ADDED for every object;
- `labelSelector` with equality (`a=b`, `a!=b`) and existence (`a`, `!a`) terms;
- a slow consumer (its stream blocked for 0.2 s with more than `max_watch_lag` changes not yet
  sent) is cut off, as the watch cache closes unresponsive watchers;
- scripted faults: `drop_watches()` aborts every open stream mid-body, `silence()` keeps streams
  open but sends nothing (a half-open connection), `send_gone()` ends streams with ERROR 410,
  `compact()` forgets history, `down()` answers every request 503 (and drops streams),
  `refuse(401)` answers every request as an API server that rejects the credentials and
  `refuse(403, "pods")` those of one resource as RBAC does, with the real servers' Status bodies.

What it does NOT cover: authentication and authorization (any token is accepted unless
`refuse()` is on; nothing checks which token or role), field
selectors, set-based label selectors (`in`, `notin`), `resourceVersionMatch`, server-side apply,
watch-list streaming (`sendInitialEvents`), HTTP/2, protobuf, `GET` of a single object, admission,
finalizers (a delete removes at once), API discovery, and the watch cache's own window sizes.

Runs in a background thread with its own event loop: `with FakeApiServer() as api: api.url`.
Mutations (`create`, `update`, `delete`) are thread-safe and may come from the test's thread.
`served_at[rv]` is the wall time a change was first written to any watch stream (for latency).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import ClientConnectionResetError, web

from gapwatch.recorder.lab.fakes.fakestore import (
    KINDS,
    PLURAL_OF,
    Change,
    FakeStore,
    Snapshot,
    matches,
    parse_selector,
    status,
)

__all__ = ["KINDS", "PLURAL_OF", "Change", "FakeApiServer"]


class _SlowConsumer(Exception):
    """A watcher fell more than max_watch_lag changes behind while its buffers were full."""


class FakeApiServer(FakeStore):
    """See the module docstring."""

    def __init__(self, *, bookmark_interval: float = 0.5, max_watch_lag: int = 100_000) -> None:
        super().__init__()
        self.bookmark_interval = bookmark_interval
        self.max_watch_lag = max_watch_lag
        self._waiters: set[asyncio.Future[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        #: plural (or "*": every request) -> the refusal's HTTP status (refuse())
        self._refused: dict[str, int] = {}

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeApiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            app = web.Application()
            app.router.add_get("/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]  # (host, port) of the one site
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-kube-apiserver", daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self.drop_watches()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def refuse(self, code: int | None, plural: str = "*") -> None:
        """Answer `code` (401 or 403) to every request for `plural` ("*": all); None: stop."""
        if code is None:
            self._refused.pop(plural, None)
        else:
            self._refused[plural] = code

    def _refusal(self, plural: str) -> web.Response | None:
        code = self._refused.get(plural) or self._refused.get("*")
        if code is None:
            return None
        self._count(code)
        if code == 401:
            return web.json_response(status(401, "Unauthorized", "Unauthorized"), status=401)
        user = "system:serviceaccount:gapwatch:gapwatch-recorder"
        body = status(code, "Forbidden", f'{plural} is forbidden: User "{user}" cannot list '
                      f'resource "{plural}" at the cluster scope')  # fmt: skip
        return web.json_response(body, status=code)

    def _notify(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    # --- HTTP ------------------------------------------------------------------------------
    def _route(self, path: str) -> tuple[str, str | None] | None:
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            rest = parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            rest = parts[3:]
        else:
            return None
        if len(rest) == 1 and rest[0] in KINDS:
            return rest[0], None
        if len(rest) == 3 and rest[0] == "namespaces" and rest[2] in KINDS:
            return rest[2], rest[1]
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.authorizations.add(request.headers.get("Authorization", ""))
        if self._down:
            self._count(503)
            return web.json_response(status(503, "ServiceUnavailable", "down"), status=503)
        route = self._route(request.path)
        if route is None:
            self._count(404)
            return web.json_response(status(404, "NotFound", request.path), status=404)
        plural, namespace = route
        refusal = self._refusal(plural)
        if refusal is not None:
            return refusal
        if request.query.get("watch") in ("1", "true"):
            return await self._watch(request, plural, namespace)
        return self._list(request, plural, namespace)

    def _list(self, request: web.Request, plural: str, namespace: str | None) -> web.Response:
        self.counters.lists += 1
        kind, api_version, _ = KINDS[plural]
        limit = int(request.query.get("limit") or 0)
        token = request.query.get("continue")
        terms = parse_selector(request.query.get("labelSelector", ""))
        with self._lock:
            if token:
                decoded = json.loads(base64.urlsafe_b64decode(token))
                snap = self._snapshots.get(decoded["id"])
                if snap is None or snap.rv < self.compacted_rv:
                    self.counters.expired_continue += 1
                    self._count(410)
                    return web.json_response(
                        status(410, "Expired", "The provided continue parameter is too old"),
                        status=410,
                    )
                offset = decoded["offset"]
                snap_id = decoded["id"]
            else:
                items = [
                    o
                    for k, o in sorted(self.objects[plural].items())
                    if (namespace is None or k[0] == namespace) and matches(o, terms)
                ]
                snap = Snapshot(self.rv, items)
                self.lists_served.append((plural, snap.rv, time.time()))
                snap_id = f"{plural}-{len(self._snapshots)}-{self.rv}"
                self._snapshots[snap_id] = snap
                offset = 0
        end = offset + limit if limit else len(snap.items)
        page = [
            {k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
            for o in snap.items[offset:end]
        ]
        meta: dict[str, Any] = {"resourceVersion": str(snap.rv)}
        if end < len(snap.items):
            meta["continue"] = base64.urlsafe_b64encode(
                json.dumps({"id": snap_id, "offset": end}).encode()
            ).decode()
            meta["remainingItemCount"] = len(snap.items) - end
        else:
            self._snapshots.pop(snap_id, None)
        self._count(200)
        body = {"kind": f"{kind}List", "apiVersion": api_version, "metadata": meta, "items": page}
        return web.Response(body=json.dumps(body), content_type="application/json")

    async def _watch(
        self, request: web.Request, plural: str, namespace: str | None
    ) -> web.StreamResponse:
        try:
            return await self._watch_stream(request, plural, namespace)
        except (ConnectionResetError, ClientConnectionResetError):
            return web.Response(status=499)  # the client went away; nothing to answer
        except _SlowConsumer:
            self.counters.slow_closed += 1
            if request.transport is not None:
                request.transport.abort()  # its buffers are full: no clean end can be written
            return web.Response(status=499)

    async def _watch_stream(
        self, request: web.Request, plural: str, namespace: str | None
    ) -> web.StreamResponse:
        self.counters.watches += 1
        kind, api_version, _ = KINDS[plural]
        terms = parse_selector(request.query.get("labelSelector", ""))
        bookmarks = request.query.get("allowWatchBookmarks") in ("1", "true")
        timeout = float(request.query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        rv_text = request.query.get("resourceVersion", "")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        self._count(200)

        start_head = self.rv  # a new watch may drain an old backlog; falling further behind closes

        async def send(event: Mapping[str, Any]) -> None:
            try:
                await asyncio.wait_for(response.write(json.dumps(event).encode() + b"\n"), 0.2)
            except TimeoutError:  # the client does not read: the data waits in our buffer
                if self.rv - max(position, start_head) > self.max_watch_lag:
                    raise _SlowConsumer from None

        with self._lock:
            generation, gone_generation = self._generation, self._gone_generation
            if self._down:  # down() came after the check above: this stream is dropped too
                generation -= 1
            if rv_text in ("", "0"):
                position = self.rv
                initial = [
                    o
                    for k, o in sorted(self.objects[plural].items())
                    if (namespace is None or k[0] == namespace) and matches(o, terms)
                ]
            else:
                position, initial = int(rv_text), []
                if position < self.compacted_rv:
                    self.counters.gone += 1
                    message = f"too old resource version: {position} ({self.compacted_rv})"
                    gone = {"type": "ERROR", "object": status(410, "Expired", message)}
                    initial = []
                    position = -1
        if position < 0:
            await send(gone)
            await response.write_eof()
            return response
        for obj in initial:
            await send({"type": "ADDED", "object": obj})
        last_bookmark = time.monotonic()
        loop = asyncio.get_running_loop()
        while True:
            wake: asyncio.Future[None] = loop.create_future()
            self._waiters.add(wake)
            if self._generation != generation:
                if request.transport is not None:
                    request.transport.abort()
                return response
            if self._gone_generation != gone_generation:
                self.counters.gone += 1
                await send({"type": "ERROR", "object": status(410, "Expired", "compacted")})
                break
            now = time.monotonic()
            if now >= deadline:
                break
            if not self._silent:
                with self._lock:
                    # Checked under the lock that commits take: a change committed after
                    # drop_watches()/down() is never served on a stream opened before it.
                    dropped = self._generation != generation
                    start = self._index_after(position)
                    batch = [] if dropped else self.history[start : start + 500]
                    head = self.rv
                if dropped:
                    continue  # the top of the loop aborts the stream
                if head - max(position, start_head) > self.max_watch_lag:
                    self.counters.slow_closed += 1
                    break
                for change in batch:
                    position = change.rv
                    if change.plural != plural:
                        continue
                    if namespace is not None and change.key[0] != namespace:
                        continue
                    if not matches(change.obj, terms):
                        continue
                    self.served_at.setdefault(change.rv, time.time())
                    await send({"type": change.type, "object": change.obj})
                if batch:
                    continue
                if bookmarks and now - last_bookmark >= self.bookmark_interval:
                    last_bookmark = now
                    await send(
                        {
                            "type": "BOOKMARK",
                            "object": {
                                "kind": kind,
                                "apiVersion": api_version,
                                "metadata": {"resourceVersion": str(position)},
                            },
                        }
                    )
            wait = min(deadline - now, self.bookmark_interval)
            try:
                await asyncio.wait_for(wake, max(wait, 0.01))
            except TimeoutError:
                self._waiters.discard(wake)
        await response.write_eof()
        return response
