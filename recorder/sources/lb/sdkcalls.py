"""One cloud SDK client's calls, each within a time, and its answers read as failed looks when
they are not of the cloud's shape (the Alibaba, Tencent and Huawei pollers).

The SDKs read an answer under a timeout per socket read only (Tencent 60 s, Huawei 120 s,
Alibaba's `readTimeout`): an endpoint trickling its headers or its body held the look, and the
poller with it, for as long as it liked (session 36). `SdkCalls.call` waits for each call at most
`seconds` (lb/intime.py: the thread left reading ends when the endpoint lets go, at most
`max_held` of them; one reading a body is made to stop at once, lb/heldreads.py). `reading()`
turns what reading an answer of another shape raises (a key missing, a list where an object
was) into an `LbApiError` naming the last call, where before it went past the poller and
stopped the recorder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from gapwatch.recorder.sources.lb.heldreads import end_reads
from gapwatch.recorder.sources.lb.intime import (
    ANSWER_SECONDS,
    MAX_HELD,
    AnswerRefused,
    Held,
    call_in_time,
)
from gapwatch.recorder.sources.lb.shape import SHAPE_ERRORS, LbApiError, answer_error

T = TypeVar("T")


def _refusal(exc: BaseException) -> AnswerRefused | None:
    """The `AnswerRefused` that `exc` was raised from or during, or wraps, if any (Alibaba's
    SDK wraps it in its `UnretryableException`, as `inner_exception`)."""
    seen: BaseException | None = exc
    for _ in range(10):  # an SDK wraps once or twice
        if seen is None or isinstance(seen, AnswerRefused):
            return seen
        inner = getattr(seen, "inner_exception", None)
        seen = inner if isinstance(inner, BaseException) else seen.__cause__ or seen.__context__
    return None


class SdkCalls:
    """The calls of one client of `cloud`; `error(exc, operation)` translates the SDK's own."""

    def __init__(
        self,
        cloud: str,
        error: Callable[[Exception, str], LbApiError],
        *,
        seconds: float = ANSWER_SECONDS,
        max_held: int = MAX_HELD,
    ) -> None:
        self.cloud, self.error, self.seconds = cloud, error, seconds
        self.held = Held(max_held)
        self.operation = ""  # the last call made: the one whose answer is being read

    def call(self, operation: str, call: Callable[[], T]) -> T:
        """`call()` (the SDK's `operation`) within `seconds`, its errors an `LbApiError`."""
        self.operation = operation
        try:
            return call_in_time(call, seconds=self.seconds, held=self.held, abandon=end_reads)
        except AnswerRefused as exc:
            raise answer_error(self.cloud, operation, exc) from exc
        except Exception as exc:  # the SDK's tree plus transport errors and its parsing's
            refused = _refusal(exc)  # lb/sizecap.py's, which an SDK may wrap in its own
            if refused is not None:
                raise answer_error(self.cloud, operation, refused) from exc
            raise self.error(exc, operation) from exc

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Around the reading of answers: one not of the cloud's shape is a failed look."""
        try:
            yield
        except SHAPE_ERRORS as exc:
            raise answer_error(self.cloud, self.operation, exc) from exc
