"""A stored name cannot put live markdown on the dashboard's pages or in `report --format md`.

Session 31's review: headers, captions and alerts render markdown, and some took a cluster or a
node name as it was (`st.header(f"Node {node}")`), so a node named as a markdown image made each
viewer's browser fetch its URL, a link looked like ours, and Streamlit's `:red[...]` and
shortcodes styled it; the Markdown report escaped `|` only; Plotly drew a name's `<b>` and `<a>`.

The store: the seed simulation written to a file, every node and the cluster renamed to carry
an image, a link, emphasis, a Streamlit directive, a Material icon, an emoji shortcode and HTML,
imported with `gapwatch import events` and replayed, as anyone's file would be. Each element's
markdown source is rendered by a CommonMark parser (markdown-it, with GFM tables and
strikethrough): no image, no link but ours, and none of Streamlit's own patterns in its text;
the names must still read as they are (the word joiner that breaks a shortcode is drawn as
nothing).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from gapwatch.dashboard import lanes
from gapwatch.dashboard.inert import JOINER, md, md_sentence, plotly_text
from gapwatch.replay.model import Segment, ServiceRef

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
ENTRY = "from gapwatch.dashboard.entry import main; main()"
HOSTILE = (
    "![b](https://attacker.example/n.png)[c](https://phish.example/)**x**"
    ":red[y]:material/home::smile:<b>z</b>"
)
NODES = {f"NODE{i}": f"NODE{i}{HOSTILE}" for i in (1, 2, 3)}
CLUSTER = f"c1{HOSTILE}"
SERVICE = "istio-system/istio-ingressgateway"
#: Streamlit's own markdown, live in a text node: a directive, a Material icon, a shortcode.
STREAMLIT_LIVE = re.compile(r":[a-z][a-z0-9-]*\[|:material/|:[\w+-]*[A-Za-z][\w+-]*:")
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
#: the elements whose body Streamlit renders as markdown
MARKDOWN_ELEMENTS = ("title", "header", "subheader", "caption", "markdown", "info", "warning",
                     "error", "success")  # fmt: skip


def gapwatch(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", ENTRY, *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done


def renamed_store(root: Path, nodes: dict[str, str], cluster: str) -> str:
    """The seed simulation in a SQLite store in `root`, its nodes and cluster renamed, imported
    with `gapwatch import events` and replayed; its URL."""
    sim = root / "sim.ndjson"
    gapwatch("simulate", "-s", "seed-3node", "--cluster", "c1", "-o", str(sim))
    text = sim.read_text()
    for plain, name in nodes.items():
        text = text.replace(plain, json.dumps(name)[1:-1])
    text = text.replace('"cluster":"c1"', '"cluster":' + json.dumps(cluster))
    (root / "h.ndjson").write_text(text)
    url = f"sqlite:///{root / 'h.db'}"
    gapwatch("db", "upgrade", "--db", url)
    gapwatch("import", "events", "--db", url, str(root / "h.ndjson"))
    gapwatch("replay", "--db", url)
    return url


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> str:
    return renamed_store(tmp_path_factory.mktemp("names"), NODES, CLUSTER)


def rendered(source: str) -> str:
    """The HTML a CommonMark renderer makes of `source`, asserted inert: no image, no link but
    the dashboard's own, no tag of the source's, none of Streamlit's patterns in its text."""
    out = MARKDOWN.render(source)
    assert "<img" not in out, source
    for href in re.findall(r'<a href="([^"]*)"', out):
        assert href.startswith("http://127.0.0.1:8501/?"), source
    assert "<b>" not in out and "<strong>x" not in out, source
    text = html.unescape(re.sub(r"<[^>]+>", "", out))
    assert not STREAMLIT_LIVE.search(text), source
    return text.replace(JOINER, "").strip()


def page_texts(at: AppTest) -> list[str]:
    """What each markdown element of the page reads as, each asserted inert."""
    return [rendered(el.value) for kind in MARKDOWN_ELEMENTS for el in getattr(at, kind)]


def _open(hostile: str, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    monkeypatch.setenv("GAPWATCH_DB", hostile)
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_rollout_pages_show_the_names_inert(
    hostile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = NODES["NODE2"]
    at = _open(
        hostile, monkeypatch, page="rollout", cluster=CLUSTER, service=SERVICE, node=node,
        since="2026-01-01T00:00:00Z", until="2026-01-01T00:05:00Z",
    )  # fmt: skip
    texts = page_texts(at)
    assert f"Node {node}" in texts
    assert any(t.startswith(f"{CLUSTER} · {SERVICE} · ") for t in texts)
    assert f"Events behind the window on {node}" in texts
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert plotly_text(node) in json.dumps(spec) and "<b>z" not in json.dumps(spec)

    at = _open(hostile, monkeypatch, page="rollout", cluster=CLUSTER, node=node)
    assert f"Events behind the window on {node}" in page_texts(at)


def test_the_overview_and_whatif_pages_show_the_names_inert(
    hostile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(hostile, monkeypatch, page="overview", cluster=CLUSTER)
    texts = page_texts(at)
    assert any(f"on {NODES['NODE1']} (" in t for t in texts)  # the longest window's node
    ranked = json.dumps([json.loads(c.proto.spec) for c in at.get("plotly_chart")])
    assert plotly_text(CLUSTER) in ranked and "<b>z" not in ranked

    at = _open(hostile, monkeypatch, page="whatif", cluster=CLUSTER, service=SERVICE)
    assert any(f"in cluster {CLUSTER} (" in t for t in page_texts(at))
    spec = json.dumps(json.loads(at.get("plotly_chart")[0].proto.spec))
    assert plotly_text(NODES["NODE1"]) in spec and "<b>z" not in spec


def test_a_url_parameter_is_shown_inert(hostile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A link someone sends names a cluster the store does not hold: the warning quotes it."""
    at = _open(hostile, monkeypatch, page="overview", cluster=f"nope{HOSTILE}")
    assert any(f"no cluster 'nope{HOSTILE}'" in t for t in page_texts(at))


def test_the_markdown_report_shows_the_names_inert(hostile: str) -> None:
    out = gapwatch("report", "--db", hostile, "--format", "md").stdout
    text = rendered(out)
    assert f"{SERVICE} in cluster {CLUSTER}" in text
    for name in NODES.values():
        assert f"| {name} |" not in out and name in text
    assert "<code>--format html</code>" in MARKDOWN.render(out)  # our own code spans stay


def test_md_keeps_every_character_and_nothing_live() -> None:
    for name in (HOSTILE, "# h", "- x", "---", "1. x", "> q", "a|b", "www.evil.example",
                 "a@b.example", "$x$ ~~s~~ `c` &amp; \\*", "arn:aws:eks:us-east-1:1:cluster/x",
                 "line\nbreak", "ip-10-0-1-12.ec2.internal"):  # fmt: skip
        shown = rendered(md(name))
        assert shown == name.replace("\n", "\\u000a"), (name, shown)
    # what carries no markdown is left as it is
    for plain in ("ip-10-0-1-12.ec2.internal", SERVICE, "00:01:03.1", "1.2-7.0 s"):
        assert md(plain) == plain


def test_md_sentence_keeps_our_code_spans() -> None:
    said = md_sentence(f"of cluster {CLUSTER} (`gapwatch replay --rebuild`)")
    assert "<code>gapwatch replay --rebuild</code>" in MARKDOWN.render(said)
    assert rendered(said) == f"of cluster {CLUSTER} (gapwatch replay --rebuild)"


def test_plotly_labels_carry_no_tag_of_a_name() -> None:
    """Plotly draws `<b>`, `<br>` and `<a href>` in its titles, ticks and hovers: a name's are
    entities, and the lanes still find their node's rows."""
    service = ServiceRef(cluster=CLUSTER, namespace="istio-system", name="istio-ingressgateway")
    node = NODES["NODE1"]
    seg = Segment(
        service=service, node=node, lane="lb", state="HEALTHY", start_us=0,
        end_us=1_000_000, start_earliest_us=0, start_latest_us=0, provenance="measured",
    )  # fmt: skip
    fig = lanes.lane_timeline([seg], [])
    assert fig.layout.meta["rows"] == [f"{plotly_text(node)} · lb"]
    assert "<b>z" not in json.dumps(fig.to_plotly_json()["data"], default=str)
    assert "&lt;b&gt;z&lt;/b&gt;" in plotly_text(node)


#: remark-emoji's pattern (Streamlit's frontend replaces each match that names an emoji)
REMARK_EMOJI = re.compile(r":\+1:|:-1:|:[\w-]+:")


def test_a_numeric_shortcode_stays_text() -> None:
    """`:100:` and `:1234:` are emoji names in the dictionary Streamlit's remark-emoji looks up
    (session 31 left them: the pattern above skipped words of digits, for a time's `00:01:03`);
    a time still renders with no joiner in it."""
    for name in (":100:", "score:100:x", "n:1234:", "a:100::1234:b"):
        text = html.unescape(re.sub(r"<[^>]+>", "", MARKDOWN.render(md(name)))).strip()
        assert not REMARK_EMOJI.search(text), (name, text)
        assert text.replace(JOINER, "") == name
    for time in ("00:01:03.1", "2026-01-01T00:01:03Z", "12:30:00"):
        assert md(time) == time
