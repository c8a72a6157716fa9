"""A throwaway PostgreSQL 15 server for tests, CI and benchmarks.

`python -m gapwatch.recorder.lab.pgserver start DIR [PORT]` (or tests/pgserver.py) prints the URL
of a server whose data lives in DIR; `... stop DIR` stops it. initdb and pg_ctl refuse to run as
root, so when we are root they run as the `postgres` OS user through runuser, and DIR is made
theirs.
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


def start(data_root: Path, port: int | None = None) -> str:
    """Start a server with its data under data_root; return its SQLAlchemy URL."""
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
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={data_root} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        "-c max_connections=200 -c shared_buffers=256MB"
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


def main() -> None:
    """`pgserver.py start DIR [PORT]` prints the URL; `pgserver.py stop DIR`."""
    if len(sys.argv) < 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit("usage: pgserver.py start DIR [PORT] | stop DIR")
    root = Path(sys.argv[2]).resolve()
    if sys.argv[1] == "start":
        print(start(root, int(sys.argv[3]) if len(sys.argv) > 3 else None))
    else:
        stop(root)


if __name__ == "__main__":
    main()
