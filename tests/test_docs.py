"""The docs are true: every link and every file they name exists, and every `gapwatch ...`
command line they show names commands and options the CLI has (the Typer app, parsed).

Reads README.md and docs/*.md as a reader would: fenced code blocks and inline code spans are
where commands are shown; `[text](target)` links and bare `NAME.md` mentions are files.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from gapwatch.dashboard.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
MD_MENTION = re.compile(r"(?<![\w/.-])([\w./-]+\.md)\b")
FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.S)
SPAN = re.compile(r"`([^`\n]+)`")


def _doc_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _strip_code(text: str) -> str:
    return SPAN.sub("", FENCE.sub("", text))


@pytest.mark.parametrize("doc", DOCS, ids=_doc_id)
def test_every_link_and_named_file_exists(doc: Path) -> None:
    text = doc.read_text()
    missing = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+://|^mailto:|^#", target):
            continue
        path = target.split("#", 1)[0]
        if path and not (doc.parent / path).exists():
            missing.append(target)
    for name in MD_MENTION.findall(_strip_code(text)):
        if not any((base / name).exists() for base in (doc.parent, ROOT, ROOT / "docs")):
            missing.append(name)
    assert not missing, f"{_doc_id(doc)} names files that do not exist: {missing}"


def _commands(text: str) -> list[str]:
    """Every `gapwatch ...` command line in code blocks and code spans."""
    found = []
    chunks = FENCE.findall(text) + SPAN.findall(_strip_fences(text))
    for chunk in chunks:
        for full in chunk.splitlines():
            for part in re.split(r"&&|;", full.split(" #", 1)[0]):
                # the program itself (maybe .venv/bin/gapwatch, maybe after VAR=value), not
                # an argument of another one (`kubectl -n gapwatch ...`)
                match = re.match(
                    r"^(?:\$ )?(?:[A-Z_]+=\S+\s+)*(?:\S*/)?gapwatch (.*)$", part.strip()
                )
                if match:
                    found.append(match.group(1))
    return found


def _strip_fences(text: str) -> str:
    return FENCE.sub("", text)


def _tokens(args: str) -> list[str]:
    args = args.replace("\\|", "|")
    try:
        words = shlex.split(args, posix=True)
    except ValueError:
        words = args.split()
    out = []
    for w in words:
        if w in ("|", "&&", ";", ">", "2>&1") or w.startswith((">", "|")):
            break
        # `poll elbv2|slb|clb` shows alternatives: each must exist, check the first here and
        # the rest in test_every_alternative_shown_exists
        out.append(w.split("|")[0].strip("[]"))
    return [w for w in out if w]


def _resolve(words: list[str]) -> tuple[Any, list[str], list[str]]:
    """(click command, the subcommand path, the remaining words)."""
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    rest = list(words)
    while rest and isinstance(getattr(command, "commands", None), dict):
        if rest[0] not in command.commands:
            break
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    return command, path, rest


def _cases() -> list[tuple[str, str]]:
    return [(_doc_id(doc), cmd) for doc in DOCS for cmd in _commands(doc.read_text())]


@pytest.mark.parametrize(("doc", "line"), _cases())
def test_every_command_shown_in_the_docs_exists(doc: str, line: str) -> None:
    words = _tokens(line)
    command, path, rest = _resolve(words)
    if isinstance(getattr(command, "commands", None), dict):
        # a group: the next word must be one of its commands (or --help)
        assert not rest or rest[0] in ("--help", "-h") or rest[0].startswith("--"), (
            f"{doc}: `gapwatch {line}`: {' '.join(['gapwatch', *path])} has no command "
            f"{rest[0]!r} (it has {', '.join(sorted(command.commands))})"
        )
        if not rest:
            return
    options = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    options |= {"--help", "-h"}
    for word in rest:
        if word.startswith("-") and word != "-":
            name = word.split("=", 1)[0]
            assert name in options, (
                f"{doc}: `gapwatch {line}`: {' '.join(['gapwatch', *path])} has no option {name}"
            )


def test_the_docs_show_commands() -> None:
    """The parser above finds the README's commands (so the test cannot pass vacuously)."""
    readme = [cmd for doc, cmd in _cases() if doc == "README.md"]
    assert any(cmd.startswith("demo") for cmd in readme)
    assert any(cmd.startswith("gaps") for cmd in readme)


def test_the_large_demo_is_described_the_same_everywhere() -> None:
    """`demo --large` once said 12 hours and ~500k events, docs/dashboard.md a million, and the
    preset it runs is 24 hours: every description now comes from the preset's duration."""
    from typer.testing import CliRunner

    from gapwatch.recorder.sim.presets import PRESETS

    hours = int(PRESETS["large"]["duration_s"] // 3600)
    help_text = " ".join(CliRunner().invoke(app, ["demo", "--help"]).output.split())
    dashboard_md = " ".join((ROOT / "docs" / "dashboard.md").read_text().split())
    simulator_md = (ROOT / "docs" / "simulator.md").read_text()
    assert f"{hours}-hour" in help_text
    assert f"{hours}-hour" in dashboard_md
    assert f"{hours} h" in simulator_md
    for text in (help_text, dashboard_md, simulator_md):
        assert "1.1M" in text
        assert "12-hour" not in text and "500k" not in text


@pytest.mark.parametrize("doc", DOCS, ids=_doc_id)
def test_commands_use_no_path_only_one_machine_has(doc: Path) -> None:
    for chunk in FENCE.findall(doc.read_text()) + SPAN.findall(doc.read_text()):
        assert not re.search(r"(?<![\w.])/(work|root|home|Users)/", chunk), (
            f"{_doc_id(doc)}: {chunk.strip()[:80]}"
        )


ALTERNATIVES = [c for c in _cases() if re.search(r"^\S+ \S*\\?\|", c[1])]


@pytest.mark.parametrize(("doc", "line"), ALTERNATIVES)
def test_every_alternative_shown_exists(doc: str, line: str) -> None:
    """`gapwatch poll elbv2|slb|clb ...`: every alternative names a real subcommand."""
    group, second = line.replace("\\|", "|").split()[:2]
    command = typer.main.get_command(app)
    assert isinstance(getattr(command, "commands", None), dict)
    sub = command.commands[group]  # type: ignore[attr-defined]
    for name in second.split("|"):
        assert name in sub.commands, f"{doc}: `gapwatch {group} {name}` does not exist"
