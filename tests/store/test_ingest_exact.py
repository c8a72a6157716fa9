"""The ingest path's output pinned byte for byte (session 28 cut its CPU with rewrites that must
change nothing): the `events` rows `prepare` makes and the facts `derive` makes of the
benchmark's mix and of every simulator preset, as digests taken on main eba45cd before the
rewrites (tests/store/ingest_digest.py prints them)."""

from __future__ import annotations

import pytest

from tests.store.ingest_digest import NAMES, digests, source

PINNED = {
    "mix": (
        3000,
        "8c07bae00cc6676149466a450139176f510f65be4b26cff69a1ec50c3e539a27",
        "ef838e71c3a3b057c0cedf62526d72dea48e296e1956b696d652a53f8f5fd505",
    ),
    "alibaba-slb": (
        439,
        "afca74ce3b91284b2e78a2f4129d3b296aea9eacb5e9fd382222881aad6bf17e",
        "abbc52fa7c3bd9124c26aef061eb0fa83a9a92aa346b6a141bee586566254f3f",
    ),
    "aws-nlb": (
        580,
        "c04f58760447e1924b69b6bd88bb2bc840ef3be1c372f09f8af64b2f4ebacde2",
        "6d20a00e8db3bcc87ca7c83fbf598505142663cbcf09e05e37f2a4b589e27a1c",
    ),
    "aws-nlb-lbc": (
        369,
        "b715d7520ee9978b2982f50cc271ca30cfbe72f68662cc05880f907ce200973e",
        "7e891a6e52a0779ccdcf59b45466db07e38c2ad3fc7a0c56772c7003953e4500",
    ),
    "gke-l4": (
        391,
        "94225e600ed7ffba523444769192774507dc14f4910d6adc5e1e127cf396c373",
        "c9d5759e1ad6eef2f173e13604221631d4bca46ccd67e1169cfe39668981df26",
    ),
    "large": (
        9398,
        "307127603623c69bcc05f1b35c78e1656abee5ddc80b88965f6be12fbaf13c65",
        "4728c8cbcc1942406126f2e8ad3bf73857a2bf9f0d9e397cbaecbd977119d72a",
    ),
    "mitigated": (
        180,
        "52441cf1adbb12befdcaf7b73748e21bee1a744666b9cd3ba472fee78c17e43f",
        "18ab1aa80cc44758a5fe27b7d927ab2f425bdbf42ffdf48cf8f07ebe130319c2",
    ),
    "seed-3node": (
        296,
        "41350810d6503c1564ae33f026544d716888b689a9a2eb41fe07425ea8caa984",
        "b5b0a05296e81d217856f6e5c0f932b8eeb9749f0150da9d7a3b73136b51f35c",
    ),
    "slow-kube-proxy": (
        304,
        "5c90ddd3af6457c9a18398d3b1805880d5c9bab394a851c514e9d7e40d32973d",
        "82b0a9c8ffa5567ce16c8b63c229b422b8542995e336c2d9844181ea00123199",
    ),
    "tencent-clb": (
        200,
        "7126e7f45b1004c064834950dac6af148a24aaf9ed31fcb778e760cfd535fd3d",
        "c704d3c707e23951452a07fcd660fec8c39c411de9dd273ddb7ae987e3e1dae0",
    ),
    "tencent-clb-grace": (
        308,
        "1be457c50160b0288480e6ddc593b96f309d33e24123c3f15c16e7fc1ec07f20",
        "72095feb5ec74fd7442dae929d904a668566ac54e3bbca73a326e3588ea90483",
    ),
}


@pytest.mark.parametrize("name", NAMES)
def test_ingest_makes_the_same_rows_and_facts(name: str) -> None:
    assert digests(source(name)) == PINNED[name]
