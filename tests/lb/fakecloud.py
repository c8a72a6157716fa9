"""A local HTTP fake of the Alibaba SLB, Tencent CLB and Huawei ELB v3 APIs, for the official SDKs.

It answers the real published response samples (tests/fixtures/lb/, copied unchanged from
samples/other-clouds/) and changes its answer on cue: a test swaps the body an action returns
(`fake.answer(action, body)`), or queues error answers (`fake.fail(action, status, body)`).

How an action is told apart, as each SDK sends it:
- Alibaba (RPC style, ACS3 signature): the `x-acs-action` header (older signers: `Action=`);
- Tencent (API 3.0): the `X-TC-Action` header of a JSON POST;
- Huawei ELB v3: `GET /v3/{project_id}/elb/pools/{pool_id}/members` is `ListMembers`.

Every SDK signs its requests (Alibaba HMAC-SHA1/ACS3, Tencent TC3-HMAC-SHA256, Huawei SDK-HMAC-
SHA256); this fake does not verify signatures, it only records that an Authorization (or
Signature) was sent, so a test can check credentials came from the environment.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gapwatch.recorder.lab.fakes.jsonserver import JsonServer

FIXTURES = Path(__file__).parent.parent / "fixtures" / "lb"
_HUAWEI_MEMBERS = re.compile(r"^/v3/[^/]+/elb/pools/([^/]+)/members$")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text("utf-8"))


class FakeCloud:
    """Start with `with FakeCloud() as fake:`; `fake.url` is http://127.0.0.1:PORT."""

    def __init__(self) -> None:
        self._answers: dict[str, Any] = {}
        self._failures: dict[str, deque[tuple[int, Any]]] = {}
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._http = JsonServer(self._answer)
        self.url, self.host = self._http.url, self._http.host

    def __enter__(self) -> FakeCloud:
        self._http.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.__exit__(*exc)

    def _answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, str]:
        status, answer = self._respond(method, path, headers, body)
        return status, answer, "application/json"

    def answer(self, action: str, body: Any) -> None:
        """From now on, `action` answers 200 with `body` (or `body(path)` when it is callable)."""
        with self._lock:
            self._answers[action] = body

    def fail(self, action: str, status: int, body: Any, times: int = 1) -> None:
        """The next `times` calls of `action` answer `status` with `body`."""
        with self._lock:
            self._failures.setdefault(action, deque()).extend([(status, body)] * times)

    def count(self, action: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c["action"] == action)

    def _action(self, method: str, path: str, headers: dict[str, str], body: bytes) -> str:
        lower = {k.lower(): v for k, v in headers.items()}
        for header in ("x-tc-action", "x-acs-action"):
            if header in lower:
                return lower[header]
        parts = urlsplit(path)
        match = _HUAWEI_MEMBERS.match(parts.path)
        if method == "GET" and match:
            return "ListMembers"
        params = parse_qs(parts.query)
        if "Action" not in params and body:
            params = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in params:
            return params["Action"][0]
        return f"{method} {parts.path}"

    def _respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        action = self._action(method, path, headers, body)
        lower = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self.calls.append(
                {
                    "action": action,
                    "path": path,
                    "body": body,
                    "signed": "authorization" in lower
                    or b"Signature=" in body
                    or "Signature=" in path,
                    "headers": lower,
                }
            )
            queue = self._failures.get(action)
            if queue:
                return queue.popleft()
            if action not in self._answers:
                return 404, {"error": f"fake cloud: no answer for {action}"}
            answer = self._answers[action]
            return 200, answer(path) if callable(answer) else answer
