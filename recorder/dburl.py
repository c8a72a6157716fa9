"""Store URLs as text, without the store's libraries (the CLI's option callbacks use it before
SQLAlchemy loads): hiding a URL's password, and telling whether it holds one.

A password on the command line (`--db postgresql://u:PASSWORD@...`) is readable by every user of
the machine in `ps` and /proc/PID/cmdline for as long as the command runs; GAPWATCH_DB (the
process's environment, readable by its own user only) and libpq's PGPASSWORD, PGPASSFILE and
~/.pgpass keep it out of there. README.md, "Commands", says so where `--db` is documented.
"""

from __future__ import annotations

import re

#: Query parameters whose values are secrets (libpq's password/sslpassword, tokens, keys).
_SECRET_PARAM = re.compile(r"(pass|pwd|secret|token|api[-_]?key|credential)", re.IGNORECASE)
SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)(.*)$", re.DOTALL)


def redact(url: str) -> str:
    """The URL with its password (and secret query parameters) replaced by ***.

    Parsed by hand, not by SQLAlchemy, so odd forms redact too: an unencoded `@` or `/` in the
    password (everything up to the last `@` is user information), `?password=`, `&sslpassword=`.
    When unsure it hides more, never less. Anything that is not a URL is hidden whole."""
    match = SCHEME.match(url.strip())
    if match is None:
        return "<unparseable URL>" if url.strip() else url
    scheme, rest = match.groups()
    at = -1 if rest.startswith("/") else rest.rfind("@")  # sqlite:///path has no user part
    if at >= 0:
        user = rest[:at].split(":", 1)
        userinfo = f"{user[0]}:***" if len(user) == 2 else user[0]
        if "/" in user[0] or "?" in user[0]:  # the '@' sits in a path or query: hide it all
            userinfo = "***"
        rest = f"{userinfo}@{rest[at + 1 :]}"
    head, sep, query = rest.partition("?")
    if sep:
        parts = []
        for item in query.split("&"):
            key, eq, _value = item.partition("=")
            parts.append(f"{key}=***" if eq and _SECRET_PARAM.search(key) else item)
        rest = head + "?" + "&".join(parts)
    return scheme + rest


def store_key(url: object) -> str:
    """A store's URL as a key kept with its data (replay's checkpoints): `str(url)` with every
    secret hidden. SQLAlchemy's `str(URL)` hides the password of the user information but keeps
    `?password=` and other query secrets, which a pickled checkpoint would then carry."""
    return redact(str(url))


def ambiguous_userinfo(url: str) -> bool:
    """Whether the user information holds an unencoded '@' or '/' (parsers split it wrongly)."""
    match = SCHEME.match(url.strip())
    if match is None or match.group(2).startswith("/"):
        return False
    rest = match.group(2)
    region = rest[: rest.rfind("@")] if "@" in rest else ""
    if "?" in region and "=" in region.split("?", 1)[1]:
        return False  # the last '@' is in a query parameter's value
    return "@" in region or "/" in region


def holds_secret(url: str) -> bool:
    """Whether `url` holds a password or a secret query parameter (or cannot be read well enough
    to tell: then it may). Without an '@' or an '=' there is no place for one (no user
    information, no query value): `--db foo` was warned of as holding a password."""
    if "@" not in url and "=" not in url:
        return False
    return redact(url) != url
