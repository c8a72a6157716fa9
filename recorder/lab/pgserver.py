"""A throwaway PostgreSQL 15 server for tests, CI and benchmarks.

`python -m gapwatch.recorder.lab.pgserver start DIR [PORT] [--durable]` (or tests/pgserver.py)
prints the URL of a server whose data lives in DIR; `... stop DIR` stops it. initdb and pg_ctl
refuse to run as root, so when we are root they run as the `postgres` OS user through runuser, and
DIR is made theirs.

Tests run the server without durability (`FAST_SETTINGS`: fsync, synchronous_commit and
full_page_writes off), which roughly doubles COPY throughput and is harmless for throwaway data.
Benchmarks start it with `durable=True`: the server's own defaults, what a user's PostgreSQL does,
so their figures mean something (`durability()` reads the settings back to print beside them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")


def pg_bin() -> Path | None:
    """The directory with initdb and pg_ctl, or None when PostgreSQL is not installed."""
    override = os.environ.get("GAPWATCH_PG_BIN")
    for candidate in ([override] if override else []) + list(PG_BIN_CANDIDATES):
        if candidate and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


#: What tests turn off: the server no longer waits for the disk at commit (fine for test data).
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
#: The settings `durability()` reports.
DURABILITY_SETTINGS = ("fsync", "synchronous_commit", "full_page_writes")


def start(data_root: Path, port: int | None = None, *, durable: bool = False) -> str:
    """Start a server with its data under data_root; return its SQLAlchemy URL.

    `durable=False` (tests) turns FAST_SETTINGS on; `durable=True` (benchmarks) keeps the
    server's default durability. A data directory keeps the mode it is restarted with."""
    binary = pg_bin()
    if binary is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql-15)")
    port = port or free_port()
    data_root.mkdir(parents=True, exist_ok=True)
    data = data_root / "data"
    if os.geteuid() == 0:
        shutil.chown(data_root, "postgres", "postgres")
        # Every directory above the data must be traversable by the postgres user.
        for parent in [data_root, *data_root.parents]:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)
    if not (data / "PG_VERSION").exists():
        subprocess.run(
            _as_owner(
                [
                    str(binary / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    fast = "" if durable else "".join(f"-c {setting} " for setting in FAST_SETTINGS)
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={data_root} "
        f"{fast}-c max_connections=200 -c shared_buffers=256MB"
    )
    subprocess.run(
        _as_owner(
            [
                str(binary / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(data_root / "server.log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


def stop(data_root: Path) -> None:
    binary = pg_bin()
    if binary is None or not (data_root / "data").exists():
        return
    subprocess.run(
        _as_owner([str(binary / "pg_ctl"), "-D", str(data_root / "data"), "-m", "fast", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def durability(url: str) -> dict[str, str]:
    """The durability settings of the server at `url` (SQLAlchemy or libpq URL), by name."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
            (list(DURABILITY_SETTINGS),),
        ).fetchall()
    return {str(name): str(setting) for name, setting in rows}


def describe_durability(settings: dict[str, str]) -> str:
    """One line for a benchmark's output: 'default durability' or which settings are off."""
    off = [name for name in DURABILITY_SETTINGS if settings.get(name) == "off"]
    if not off:
        return (
            "PostgreSQL with default durability ("
            + ", ".join(f"{k}={settings.get(k, '?')}" for k in DURABILITY_SETTINGS)
            + ")"
        )
    return (
        "PostgreSQL WITHOUT durability ("
        + ", ".join(f"{k}=off" for k in off)
        + "): not comparable to a real server"
    )


def main(argv: list[str] | None = None) -> None:
    """`start DIR [PORT] [--durable]` prints the URL; `stop DIR` stops the server."""
    argv = sys.argv[1:] if argv is None else argv
    args = [a for a in argv if a != "--durable"]
    if len(args) < 2 or args[0] not in ("start", "stop"):
        sys.exit("usage: pgserver.py start DIR [PORT] [--durable] | stop DIR")
    root = Path(args[1]).resolve()
    if args[0] == "start":
        port = int(args[2]) if len(args) > 2 else None
        print(start(root, port, durable="--durable" in argv))
    else:
        stop(root)


if __name__ == "__main__":
    main()
