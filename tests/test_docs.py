"""The docs are true: every link and every file they name exists, and every `gapwatch ...`
command line they show names commands and options the CLI has (the Typer app, parsed).

Reads README.md, docs/*.md and deploy/README.md as a reader would: fenced code blocks and inline
code spans are where commands are shown; `[text](target)` links and bare `NAME.md` mentions are
files. Below, the names and defaults they show (metrics, the recorder's example configuration and
environment variables) are checked against the code.
"""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from gapwatch.dashboard.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy" / "README.md"]
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


# -- names and defaults the docs show are the code's ------------------------------------------

#: A metric name as the docs write it (the roles gapwatch_recorder, gapwatch_reader, ... are not).
DOC_METRIC = re.compile(r"\bgapwatch_(?:recorder|lb|probe|push)_[a-z_]*[a-z]\b")
METRIC_TYPES = {"Counter", "Gauge", "Histogram", "Summary", "GaugeMetricFamily"}


@functools.lru_cache(maxsize=1)
def _exported_metrics() -> frozenset[str]:
    """Every metric name the recorder's code registers, as /metrics shows it (a Counter `x` is
    `x_total`; a Histogram adds `_bucket`, `_sum`, `_count`), read from the source with ast so
    that no source has to be built."""
    import ast

    names: set[str] = set()
    for path in (ROOT / "recorder").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            kind = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            first = node.args[0]
            if kind in METRIC_TYPES and isinstance(first, ast.Constant):
                name = str(first.value)
                names.add(name)
                if kind == "Counter":
                    names.add(f"{name}_total")
                if kind == "Histogram":
                    names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return frozenset(names)


def test_the_metrics_scan_finds_every_family() -> None:
    """The scan above sees the recorder's own, the Kubernetes source's custom collector, the LB
    pollers', the push API's and the prober's metrics (so the next test cannot pass vacuously)."""
    exported = _exported_metrics()
    for name in (
        "gapwatch_recorder_spool_full_episodes_total",
        "gapwatch_recorder_write_lag_seconds_bucket",
        "gapwatch_recorder_last_event_age_seconds",
        "gapwatch_lb_poll_errors_total",
        "gapwatch_push_write_errors_total",
        "gapwatch_probe_looks_total",
    ):
        assert name in exported, name
    named = {m for d in DOCS for m in DOC_METRIC.findall(d.read_text())}
    assert len(named) >= 20 and "gapwatch_probe_looks_total" in named, sorted(named)


@pytest.mark.parametrize("doc", DOCS, ids=_doc_id)
def test_every_metric_the_docs_name_is_exported(doc: Path) -> None:
    exported = _exported_metrics()
    missing = sorted(set(DOC_METRIC.findall(doc.read_text())) - exported)
    assert not missing, f"{_doc_id(doc)} names metrics the recorder does not export: {missing}"


def _recorder_example() -> dict[str, Any]:
    import yaml

    text = (ROOT / "docs" / "recorder.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "sources:" in b]
    assert len(blocks) == 1, "docs/recorder.md should show one recorder configuration"
    loaded = yaml.safe_load(blocks[0])
    assert isinstance(loaded, dict)
    return loaded


def test_the_recorder_example_parses_and_shows_the_defaults(tmp_path: Path) -> None:
    """docs/recorder.md's configuration file is accepted as it stands, and every value it shows
    (but the cluster's name and the retention, which have no default) is the code's default:
    the page is where an operator learns them."""
    import dataclasses

    import yaml

    from gapwatch.recorder.config import RecorderConfig, load_config
    from gapwatch.recorder.sources.k8s.config import K8sSettings, parse_settings
    from gapwatch.recorder.spool import SpoolSettings

    example = _recorder_example()
    path = tmp_path / "record.yaml"
    path.write_text(yaml.safe_dump(example))
    config = load_config(path, {})
    k8s_shown = example["sources"]["k8s"]
    k8s = parse_settings(config.sources["k8s"], "sources.k8s")

    wrong = []
    defaults = RecorderConfig()
    for key, shown in example.items():
        if key in ("cluster", "retention", "sources"):
            continue
        if key == "spool":
            for sub in shown:
                if getattr(config.spool, sub) != getattr(SpoolSettings(), sub):
                    wrong.append(f"spool.{sub}: {shown[sub]!r}")
        elif getattr(config, key) != getattr(defaults, key):
            wrong.append(f"{key}: {shown!r}")
    k8s_defaults = K8sSettings()
    for key, shown in k8s_shown.items():
        if key == "watch":
            for sub in shown:
                if getattr(k8s.watch, sub) != getattr(k8s_defaults.watch, sub):
                    wrong.append(f"watch.{sub}: {shown[sub]!r}")
        elif getattr(k8s, key) != getattr(k8s_defaults, key):
            wrong.append(f"sources.k8s.{key}: {shown!r}")
    assert not wrong, f"docs/recorder.md shows values that are not the defaults: {wrong}"
    # every key of the k8s source is shown, but the connection ones (their default: none)
    hidden = {f.name for f in dataclasses.fields(K8sSettings)} - set(k8s_shown)
    assert hidden <= {"kubeconfig", "api_server", "context"}, sorted(hidden)


def _keys(cls: type, prefix: str = "") -> list[str]:
    """Every configuration key of a settings dataclass, nested ones as `outer.inner`."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    keys = []
    for f in dataclasses.fields(cls):
        keys.append(prefix + f.name)
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            keys += _keys(hint, f"{prefix}{f.name}.")
    return keys


def test_every_key_of_the_recorder_and_its_k8s_source_has_a_doc_line() -> None:
    """docs/recorder.md's configuration section names every key the code takes (the example
    file or a `key` in the text): `context`, `api_server`, `kubeconfig`, `watch.list_timeout_s`
    and both `backoff` sections were taken and said nowhere."""
    from gapwatch.recorder.config import RecorderConfig
    from gapwatch.recorder.sources.k8s.config import K8sSettings

    text = (ROOT / "docs" / "recorder.md").read_text()
    section = text[text.index("Configuration (`recorder/config.py`)") : text.index("## Deploying")]
    keys = [k for k in _keys(RecorderConfig) if k != "origin"] + _keys(K8sSettings, "k8s.")
    missing = [
        key
        for key in keys
        if f"`{key.rsplit('.', 1)[-1]}`" not in section
        and not re.search(rf"[\s{{,]{re.escape(key.rsplit('.', 1)[-1])}:", section)
    ]
    assert not missing, f"docs/recorder.md's configuration names no {missing}"


def test_every_environment_variable_of_the_recorder_is_documented() -> None:
    from gapwatch.recorder.config import LEGACY_ENV

    text = (ROOT / "docs" / "recorder.md").read_text()
    source = (ROOT / "recorder" / "config.py").read_text()
    shown = set(re.findall(r"GAPWATCH_[A-Z_]+", source)) | set(LEGACY_ENV)
    missing = sorted(name for name in shown if name not in text)
    assert not missing, f"docs/recorder.md does not name {missing}"


def _simulator_cell(text: str) -> Any:
    """A default as docs/simulator.md's table writes it: `{p50, p90, max}` for a lag, `()` for an
    empty tuple, true/false/null, a number, or text."""
    text = text.strip().strip("`")
    if text.startswith("{"):
        return [float(x) for x in text.strip("{}").split(",")]
    words = {"()": [], "true": True, "false": False, "null": None, '""': ""}
    if text in words:
        return words[text]
    try:
        return float(text)
    except ValueError:
        return text


def _simulator_code(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"p50", "p90", "max"}:
        return [float(value[k]) for k in ("p50", "p90", "max")]
    if isinstance(value, (list, tuple)):
        return [float(v) if isinstance(v, (int, float)) else v for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def test_the_simulator_parameters_table_shows_the_defaults() -> None:
    """Every row of docs/simulator.md's "Parameters" table names a field of the scenario and its
    default (a row of several keys with one value: the value of each)."""
    import dataclasses

    from gapwatch.recorder.sim.scenario import Scenario

    defaults = dataclasses.asdict(Scenario())
    text = (ROOT / "docs" / "simulator.md").read_text()
    table = text.split("## Parameters", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (`[^|]+`) \| ([^|]+) \|", table, re.M)
    assert len(rows) > 40
    wrong = []
    for keys_cell, value_cell in rows:
        keys = [k.strip().strip("`") for k in keys_cell.split(",")]
        values = re.split(r",\s*(?![^{]*\})", value_cell.strip())
        if len(values) != len(keys):
            values = [value_cell] * len(keys)
        for key, shown in zip(keys, values, strict=True):
            code: Any = defaults
            for part in key.split("."):
                code = code[part]
            if key == "nodes.zones":  # written us-east-1a/b/c
                code = "/".join([code[0], *(z[-1] for z in code[1:])])
            as_shown = _simulator_cell(shown)
            if isinstance(code, str) and as_shown != "":
                as_shown = shown.strip().strip("`")
            if _simulator_code(code) != as_shown:
                wrong.append(f"{key}: shown {shown.strip()!r}, default {code!r}")
    assert not wrong, f"docs/simulator.md: {wrong}"


def test_the_prober_settings_table_shows_the_defaults() -> None:
    """docs/kubeproxy.md's Settings table lists every key of the prober's section with its
    default."""
    import dataclasses

    from gapwatch.recorder.sources.kubeproxy.settings import ProberSettings

    text = (ROOT / "docs" / "kubeproxy.md").read_text()
    table = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", table, re.M))
    fields = {f.name: f.default for f in dataclasses.fields(ProberSettings)}
    assert sorted(rows) == sorted(fields), "the table's keys are not ProberSettings' fields"
    wrong = []
    for key, cell in rows.items():
        shown = re.sub(r"\s*\(.*\)$", "", cell.strip()).strip("`")
        value: Any = {"none": None, "true": True, "false": False}.get(shown, shown)
        if isinstance(value, str) and value.startswith("["):
            value = [v.strip() for v in value.strip("[]").split(",")]
        elif isinstance(value, str) and re.fullmatch(r"[0-9.]+", value):
            value = float(value)
        code = fields[key]
        if isinstance(code, tuple):
            code = list(code)
        elif isinstance(code, (int, float)) and not isinstance(code, bool):
            code = float(code)
        if code != value:
            wrong.append(f"{key}: shown {cell.strip()!r}, default {fields[key]!r}")
    assert not wrong, f"docs/kubeproxy.md: {wrong}"


def test_citus_md_places_every_table_as_the_code_does() -> None:
    """docs/citus.md's "Where each table goes" names the tables of recorder/distribution.py's
    three lists, each in its row."""
    from gapwatch.recorder import distribution

    text = (ROOT / "docs" / "citus.md").read_text()
    rows = {
        kind: set(re.findall(r"`([a-z_]+)`", tables))
        for kind, tables in re.findall(r"^\| ([a-z-]+)[^|]* \| ([^|]+) \|", text, re.M)
    }
    assert rows["distributed"] == set(distribution.DISTRIBUTED)
    assert rows["reference"] == set(distribution.REFERENCE)
    assert rows["coordinator-local"] == set(distribution.COORDINATOR_LOCAL)


def test_sql_md_lists_every_table_and_view() -> None:
    """docs/sql.md's Tables and Views name every table of the schema and every view migration
    0002 creates (deploy/README.md's alerts point operators at `quarantine`, say)."""
    import importlib

    import gapwatch.replay.tables  # noqa: F401 (its tables join the recorder's MetaData)
    from gapwatch.recorder.tables import metadata

    views = importlib.import_module("gapwatch.migrations.versions.0002_facts_projections")

    text = (ROOT / "docs" / "sql.md").read_text()
    tables = text.split("## Tables", 1)[1].split("\n### ", 1)[0]
    named = set(re.findall(r"`([a-z_]+)`", " ".join(re.findall(r"^\| ([^|]+) \|", tables, re.M))))
    assert set(metadata.tables) <= named, sorted(set(metadata.tables) - named)
    view_rows = text.split("## Views", 1)[1].split("\n## ", 1)[0]
    assert set(views.VIEWS) <= set(re.findall(r"^\| `(v_[a-z_]+)` \|", view_rows, re.M))


def _benchmark_lines() -> list[tuple[str, str, str]]:
    """(doc, script, its arguments) for every `benchmarks/NAME.py ...` a doc shows as code."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for chunk in FENCE.findall(text) + SPAN.findall(_strip_fences(text)):
            for match in re.finditer(r"benchmarks/(\w+\.py)([^\n`|;&#]*)", chunk):
                found.append((_doc_id(doc), match.group(1), match.group(2)))
    return found


@pytest.mark.parametrize(("doc", "script", "args"), _benchmark_lines())
def test_every_benchmark_option_shown_exists(doc: str, script: str, args: str) -> None:
    path = ROOT / "benchmarks" / script
    assert path.exists(), f"{doc}: benchmarks/{script} does not exist"
    source = path.read_text()
    for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", args):
        assert f'"{option}"' in source, f"{doc}: benchmarks/{script} has no option {option}"


#: Paths a doc names as history (what a measurement ran), not as files of today.
HISTORICAL_PATHS = {"tests/lab/test_lab_clouds.py"}  # docs/lab.md "CI time": since split
REPO_PATH = re.compile(
    r"(?<![\w/.-])((?:tests|recorder|replay|dashboard|benchmarks|migrations|deploy)/[\w./*-]*\w)"
)


@pytest.mark.parametrize("doc", DOCS, ids=_doc_id)
def test_every_repository_path_named_exists(doc: Path) -> None:
    """`recorder/sources/k8s/stream.py`, `tests/k8s/test_ha.py`, `deploy/components/alerts`: a
    path a doc names exists (a glob matches something)."""
    missing = []
    for path in set(REPO_PATH.findall(doc.read_text())) - HISTORICAL_PATHS:
        # `replay/detect` (a module), `tests/lb/fakecloud.FakeCloud` (a module's attribute)
        candidates = [path, f"{path}.py", re.sub(r"\.[A-Za-z_]\w*$", ".py", path)]
        if not any(list(ROOT.glob(c)) if "*" in c else (ROOT / c).exists() for c in candidates):
            missing.append(path)
    assert not missing, f"{_doc_id(doc)} names paths that do not exist: {sorted(missing)}"


def test_simulator_md_lists_every_preset() -> None:
    from gapwatch.recorder.sim.presets import PRESETS

    text = (ROOT / "docs" / "simulator.md").read_text()
    table = text.split("## Presets", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `([\w-]+)`", table, re.M)) == set(PRESETS)


def test_dashboard_md_names_every_dashboard_module() -> None:
    text = (ROOT / "docs" / "dashboard.md").read_text()
    table = text.split("## Code", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(?:dashboard/)?(\w+)\.py`", table))
    for glob in re.findall(r"`(?:dashboard/)?(\w*\*)\.py`", table):
        named |= {p.stem for p in (ROOT / "dashboard").glob(f"{glob}.py")}
    modules = {p.stem for p in (ROOT / "dashboard").glob("*.py")} - {"__init__"}
    assert modules <= named, f"docs/dashboard.md, Code: {sorted(modules - named)} not named"


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of every `#`-heading of a page, the body up to the next heading."""
    parts = re.split(r"^(#{1,6} .*)$", text, flags=re.M)
    return list(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize("doc", DOCS, ids=_doc_id)
def test_nothing_listed_as_not_fixed_says_it_was_fixed(doc: Path) -> None:
    """A "Found and not fixed" list holds what is still open: docs/security.md's listed the pod
    arguments, the recorder's sequences and proxy mode's open port, each "(fixed after the
    review ...)", under it after their fixes merged."""
    for heading, body in _sections(doc.read_text()):
        if re.search(r"not fixed|left open", heading, re.I):
            fixed = re.findall(r"^- \*\*([^*]+)\*\*[^\n]*\(fixed\b", body, re.M)
            assert not fixed, f"{_doc_id(doc)}, {heading.strip()}: fixed, yet listed: {fixed}"


def _help_texts() -> dict[str, str]:
    """Every command's --help, whitespace folded (the box drawing left out)."""
    from typer.testing import CliRunner

    runner, found = CliRunner(), {}

    def walk(command: Any, path: list[str]) -> None:
        output = runner.invoke(app, [*path, "--help"], terminal_width=400).output
        found[" ".join(["gapwatch", *path])] = " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_progress_in_a_log_is_described_as_it_is_printed() -> None:
    """Where a doc or a command's --help says how progress shows in a log, it says what
    recorder.progresslines does: a line at most every LOG_EVERY_S seconds (`gapwatch replay
    --help` still said a line at each tenth of a step of 100,000 or more, as before that)."""
    from gapwatch.recorder.progresslines import LOG_EVERY_S

    texts = {_doc_id(doc): " ".join(doc.read_text().split()) for doc in DOCS}
    texts |= _help_texts()
    said = [
        (where, how)
        for where, text in texts.items()
        for how in re.findall(r"in a log\b[^.;]{0,40}?\ba line ([^.;)]*)", text)
    ]
    assert len(said) >= 3, said  # README's two and docs/dashboard.md's, at least
    wrong = [(w, h) for w, h in said if not h.startswith(f"at most every {LOG_EVERY_S:g} s")]
    assert not wrong, wrong


def test_the_readme_index_lists_every_page() -> None:
    """README's Documentation section is the index: it links every page of docs/, deploy/'s and
    benchmarks/' README (deploy/README.md, where an install starts, was linked from no index)."""
    index = (ROOT / "README.md").read_text().split("\n## Documentation", 1)[1].split("\n## ", 1)[0]
    linked = {target.split("#", 1)[0] for target in LINK.findall(index)}
    pages = {_doc_id(p) for p in (ROOT / "docs").glob("*.md")}
    pages |= {"deploy/README.md", "benchmarks/README.md"}
    assert not pages - linked, f"README.md, Documentation: {sorted(pages - linked)} not linked"


def test_every_limit_of_the_push_source_has_a_doc_line() -> None:
    """docs/lb.md names each key of the recorder's `push` source (its Limits): it named
    `read_timeout_s` and `max_connections` as the settings, and `max_body_bytes` and `max_lines`,
    which the source takes, nowhere."""
    import dataclasses

    from gapwatch.recorder.sources.lb.push import Limits

    text = (ROOT / "docs" / "lb.md").read_text()
    missing = [f.name for f in dataclasses.fields(Limits) if f"`{f.name}`" not in text]
    assert not missing, f"docs/lb.md names no {missing}"
