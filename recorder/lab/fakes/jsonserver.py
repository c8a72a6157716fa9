"""A threaded HTTP server on loopback that answers every GET and POST with JSON from one function:
the transport of the lab's cloud API fakes (fakeclouds.py) and of the tests' sample-answering fake
(tests/lb/fakecloud.py). `with JsonServer(answer) as server:` serves on `server.url`."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: (method, path with query, headers with lower-case names, body) -> (status, JSON body,
#: Content-Type)
Answer = Callable[[str, str, dict[str, str], bytes], tuple[int, Any, str]]


class JsonServer:
    """Serves `answer` on 127.0.0.1 and a free port until the `with` block ends."""

    def __init__(self, answer: Answer) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, out, content_type = answer(self.command, self.path, headers, body)
                data = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> JsonServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
