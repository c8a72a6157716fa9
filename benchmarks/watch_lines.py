"""Benchmark: cutting one large watch line from the pieces the connection delivers.

What the recorder's event loop spends on a WATCH line of LINE_MB megabytes arriving in pieces
of PIECE bytes (a TCP segment's 1,448, an HTTP/2 frame's 16 KB), before the JSON is parsed:
`recorder.sources.k8s.lines.Lines` (each piece searched once, the line joined once) against the
baseline measured in the same run, the buffer the stream kept before session 32 (each piece
appended to one bytes buffer, the whole buffer searched again for a newline). Thread CPU,
medians of `--repeat` runs, alternated, and their ratio; the load average beside them.

    .venv/bin/python benchmarks/watch_lines.py [--sizes 1,4,8] [--pieces 1448,16384] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gapwatch.recorder.sources.k8s.lines import Lines


def appended_buffer(pieces: list[bytes]) -> list[bytes]:
    """The baseline: one growing buffer, searched whole after every piece."""
    out: list[bytes] = []
    buffer = b""
    for piece in pieces:
        buffer += piece
        if b"\n" not in buffer:
            continue
        *lines, buffer = buffer.split(b"\n")
        out.extend(lines)
    return out


def kept_apart(pieces: list[bytes]) -> list[bytes]:
    lines = Lines(limit=1 << 30)
    out: list[bytes] = []
    for piece in pieces:
        out.extend(lines.feed(piece))
    return out


def _cpu(fn: Callable[[list[bytes]], list[bytes]], pieces: list[bytes]) -> float:
    start = time.thread_time()
    fn(pieces)
    return time.thread_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,4,8", help="line sizes, MB")
    parser.add_argument("--pieces", default="1448,16384", help="piece sizes, bytes")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load {os.getloadavg()}")
    for size_mb in (int(s) for s in args.sizes.split(",")):
        line = b'{"type":"ADDED","object":{"data":"' + b"x" * (size_mb << 20) + b'"}}\n'
        for piece in (int(p) for p in args.pieces.split(",")):
            pieces = [line[i : i + piece] for i in range(0, len(line), piece)]
            assert kept_apart(pieces) == appended_buffer(pieces) == [line[:-1]]
            base, ours = [], []
            for _ in range(args.repeat):
                base.append(_cpu(appended_buffer, pieces))
                ours.append(_cpu(kept_apart, pieces))
            b, o = statistics.median(base), statistics.median(ours)
            print(
                f"{size_mb} MB line in {piece}-byte pieces: appended buffer {b * 1000:.1f} ms,"
                f" kept apart {o * 1000:.2f} ms, ratio {b / o:.0f}x"
                f"  [{', '.join(f'{x * 1000:.1f}' for x in base)}]"
                f" [{', '.join(f'{x * 1000:.2f}' for x in ours)}]"
            )
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
