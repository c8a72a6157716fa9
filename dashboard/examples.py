"""One example per command, shown at the end of its `--help` ("Example: gapwatch ...").

A new user's first hour: every `--help` said what the command does and what each option means,
and not one (but `report`'s) showed a whole command line to start from. The examples live here,
beside the composition root that sees every command, and `add_examples` hangs each on its
command as the help's epilog. tests/test_cli.py checks that every command has one and that each
parses against the command's own options, so an example cannot outlive a renamed option.
"""

from __future__ import annotations

import typer

SVC = "istio-system/istio-ingressgateway"

#: Command path -> an example command line (a shell line: quotes as a shell reads them).
EXAMPLES: dict[tuple[str, ...], str] = {
    ("advise",): f"gapwatch advise --service {SVC} --cluster seed",
    ("assumptions",): "gapwatch assumptions --set proxy_lag_max_s=30",
    ("dashboard",): "gapwatch dashboard --db sqlite:///gapwatch-demo.db",
    ("db", "current"): "gapwatch db current",
    ("db", "downgrade"): "gapwatch db downgrade 0009_views_also",
    ("db", "history"): "gapwatch db history",
    ("db", "maintain"): "gapwatch db maintain --retention 90d",
    ("db", "stats"): "gapwatch db stats --json",
    ("db", "upgrade"): "gapwatch db upgrade --db sqlite:///postmortem.db",
    ("demo",): "gapwatch demo --build-only",
    ("export", "events"): "gapwatch export events --since 2026-01-01T00:00:00Z -o events.ndjson.gz",
    ("gaps",): f"gapwatch gaps --service {SVC} --since 2026-01-01T00:00:00Z",
    ("import", "cloudtrail"): "gapwatch import cloudtrail --cluster prod cloudtrail/*.json.gz",
    ("import", "elb-access-log"): "gapwatch import elb-access-log --cluster prod alb/*.log.gz",
    ("import", "events"): "gapwatch import events recorded.ndjson.gz",
    ("import", "k8s-audit"): "gapwatch import k8s-audit --cluster prod audit.log",
    ("import", "k8s-watch"): "gapwatch import k8s-watch --cluster prod watch.json",
    ("import", "prometheus"): "gapwatch import prometheus --cluster prod query_range.json",
    ("lab",): "gapwatch lab --scenario seed-3node --faults sigkill",
    ("lab", "table"): "gapwatch lab table --only sigkill",
    ("poll", "clb"): "gapwatch poll clb --load-balancer-id lb-abc123 --region ap-guangzhou",
    ("poll", "elbv2"): 'gapwatch poll elbv2 --target-group "$TG_ARN" --duration 3600',
    ("poll", "huawei-elb"): "gapwatch poll huawei-elb --pool-id POOL_ID --region cn-north-4",
    ("poll", "slb"): (
        "gapwatch poll slb --load-balancer-id lb-abc --vserver-group-id rsp-abc "
        "--region cn-hangzhou"
    ),
    ("probe",): (
        f"gapwatch probe --service {SVC} --health-check-node-port 32999 "
        "--node n1=10.0.1.10 --node n2=10.0.1.11"
    ),
    ("receive",): "gapwatch receive --listen 0.0.0.0:8090 --token-file token",
    ("record",): "gapwatch record --config record.yaml",
    ("replay",): "gapwatch replay --rebuild",
    ("rollouts",): "gapwatch rollouts --cluster prod --since 2026-01-01T00:00:00Z",
    ("simulate",): "gapwatch simulate -s aws-nlb --seed 7 --truth truth.ndjson",
    ("sql",): 'gapwatch sql "SELECT class, count(*) AS n FROM v_windows GROUP BY class"',
    ("timeline",): f"gapwatch timeline --service {SVC} --at 2026-01-01T00:01:11Z",
    ("whatif",): "gapwatch whatif --rollout ro-8ce96 --prestop 10 --pte --register-delay 5",
}
#: Commands whose own help already ends with an example.
OWN_EXAMPLE = frozenset({("report",)})


def _name(info: typer.models.CommandInfo) -> str:
    if info.name:
        return info.name
    assert info.callback is not None
    return info.callback.__name__.lower().replace("_", "-")


def add_examples(group: typer.Typer, path: tuple[str, ...] = ()) -> None:
    """Set each command's epilog to its example, for `group` and every group below it."""
    if path in EXAMPLES:
        group.info.epilog = f"Example: {EXAMPLES[path]}"
    for info in group.registered_commands:
        here = (*path, _name(info))
        if here in EXAMPLES:
            info.epilog = f"Example: {EXAMPLES[here]}"
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            name = sub.name or sub.typer_instance.info.name
            assert isinstance(name, str)
            add_examples(sub.typer_instance, (*path, name))
