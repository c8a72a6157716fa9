"""The Kubernetes side's errors, below recorder.errors.SourceError.

    SourceError
    └── K8sError              the API could not be used (connection, HTTP status, bad JSON)
        ├── Gone              410: the resourceVersion or continue token is too old -> relist
        └── StreamStalled     the watch stream sent nothing for longer than the read timeout

aiohttp and asyncio exceptions are translated into these in recorder.sources.k8s.stream, so the
watch loops above it only ever catch K8sError.
"""

from __future__ import annotations

from gapwatch.recorder.errors import SourceError


class K8sError(SourceError):
    """A request to the Kubernetes API failed; the reconnect loop backs off and retries."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Gone(K8sError):
    """HTTP 410 / an ERROR event with code 410: the resourceVersion is compacted away."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=410)


class StreamStalled(K8sError):
    """No byte arrived within the client-side read timeout (a half-open connection)."""
