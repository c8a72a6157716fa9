"""Loading the `kubernetes` client's configuration (recorder/sources/k8s/client.py
`load_configuration`), shared by the watcher's endpoint and the TargetGroupBinding lister: a
kubeconfig that is missing or names no cluster becomes the caller's own error, not chained to
the loader's (whose frames hold the kubeconfig's secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gapwatch.recorder.errors import ConfigError
from gapwatch.recorder.sources.k8s.client import load_configuration, load_endpoint
from gapwatch.recorder.sources.lb.bindings import BindingLister
from gapwatch.recorder.sources.lb.shape import LbApiError
from tests.test_cli import gapwatch
from tests.test_cli_interrupt import store


def _kubeconfig(path: Path, server: str, context: str = "fake") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "s3cret"}}],
                "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
                "current-context": context,
            }
        )
    )
    return path


class Refused(Exception):
    pass


def test_a_kubeconfig_gives_its_server_and_token(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "config", "https://10.0.0.1:6443")
    cfg = load_configuration(kubeconfig=str(path), fail=Refused)
    assert cfg.host == "https://10.0.0.1:6443"
    assert "s3cret" in str(cfg.api_key)


def test_a_missing_kubeconfig_is_the_callers_error_and_not_chained(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    with pytest.raises(Refused) as caught:
        load_configuration(kubeconfig=missing, fail=Refused)
    assert "No configuration found" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_unknown_context_fails_the_same_way(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "config", "https://10.0.0.1:6443")
    with pytest.raises(Refused, match="nope"):
        load_configuration(kubeconfig=str(path), context="nope", fail=Refused)


def test_each_caller_keeps_its_own_message(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match=r"^no Kubernetes configuration \(in-cluster or kube"):
        load_endpoint(kubeconfig=missing)
    with pytest.raises(LbApiError, match=r"^TargetGroupBindings: no Kubernetes configuration: "):
        BindingLister(kubeconfig=missing)


def test_a_token_file_ending_in_a_newline_gives_a_usable_header(tmp_path: Path) -> None:
    """`echo TOKEN > file` leaves a newline that client-go trims (transport/token_source.go) and
    the Python client keeps: the recorder sent it, aiohttp refused the header before any request
    ("Forbidden control character") and it retried that forever, recording nothing."""
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    path = tmp_path / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"tokenFile": str(token)}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    endpoint = load_endpoint(kubeconfig=str(path))
    # each request re-reads the token (the client's refresh hook, which re-installs itself)
    for _ in range(3):
        assert endpoint.headers()["Authorization"] == "Bearer s3cret"
    # the TargetGroupBinding lister's client sends the configuration's key as it is
    cfg = load_configuration(kubeconfig=str(path), fail=Refused)
    for _ in range(3):
        assert cfg.get_api_key_with_prefix("BearerToken") == "Bearer s3cret"


def test_a_missing_kubeconfig_is_named_with_where_it_came_from(tmp_path: Path) -> None:
    """`Invalid kube-config file. No configuration found.` named no file: a mistyped
    --kubeconfig (or KUBECONFIG) read as a broken cluster."""
    missing = str(tmp_path / "missing")
    with pytest.raises(ConfigError) as caught:
        load_endpoint(kubeconfig=missing)
    assert str(caught.value).endswith(f"(read {missing}, kubeconfig; no such file: {missing})")


def test_a_kubeconfig_that_is_not_yaml_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """A yaml.YAMLError escaped the loader: the recorder printed a traceback."""
    broken = tmp_path / "config"
    broken.write_text("clusters: [\n")
    with pytest.raises(Refused) as caught:
        load_configuration(kubeconfig=str(broken), fail=Refused)
    said = str(caught.value)
    assert "\n" not in said and said.endswith(f"(read {broken}, kubeconfig)"), said
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_record_names_the_kubeconfig_variable_it_read(tmp_path: Path) -> None:
    """The real command: KUBECONFIG pointing nowhere is named, in one line."""
    missing = str(tmp_path / "nowhere")
    db = store(tmp_path / "r.db")
    done = gapwatch("record", "--cluster", "c", "--db", db, cwd=tmp_path, KUBECONFIG=missing)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: configuration: sources.k8s: no Kubernetes configuration (in-cluster or "
        "kubeconfig): Invalid kube-config file. No configuration found. "
        f"(read {missing}, KUBECONFIG; no such file: {missing})"
    ], done.stderr
