"""Fixtures of the LB tests: cloud credentials in the environment only (as in production), and
one moto server (with the health proxy in front) per module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from gapwatch.recorder.store import make_engine, upgrade
from tests.lb.fakeelb import HealthProxy, moto_server

#: What each SDK's standard credential chain reads; the fakes never check them.
CLOUD_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "ali-ak",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "ali-secret",
    "TENCENTCLOUD_SECRET_ID": "tc-id",
    "TENCENTCLOUD_SECRET_KEY": "tc-secret",
    "HUAWEICLOUD_SDK_AK": "hw-ak",
    "HUAWEICLOUD_SDK_SK": "hw-secret",
    "HUAWEICLOUD_SDK_PROJECT_ID": "hw-project",
}


ALI_ID, ALI_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"


@pytest.fixture(autouse=True)
def cloud_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in CLOUD_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # Alibaba's credentials library copies the environment once, when first imported (maybe by
    # another test module, with other credentials): give its copy these too
    auth_util = sys.modules.get("alibabacloud_credentials.utils.auth_util")
    if auth_util is not None:
        monkeypatch.setattr(auth_util, "environment_access_key_id", CLOUD_ENV[ALI_ID])
        monkeypatch.setattr(auth_util, "environment_access_key_secret", CLOUD_ENV[ALI_SECRET])


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in CLOUD_ENV.items():
            mp.setenv(key, value)
        with moto_server() as url:
            yield url


@pytest.fixture
def elb_proxy(moto_url: str) -> Iterator[HealthProxy]:
    with HealthProxy(moto_url) as proxy:
        yield proxy


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """In the LB tests, one migrated SQLite store per test (tests/conftest.py's `engine` runs on
    both backends): what a poller stores does not depend on the backend; the writer's tests
    cover both."""
    eng = make_engine(f"sqlite:///{tmp_path / 'lb.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    """A store on both backends (`engine` here is SQLite only)."""
    eng = make_engine(store_url)
    yield eng
    eng.dispose()
