"""kube-proxy's mode on a node, and what it makes of a NodePort look that was refused. Pure.

What a packet from outside meets on a node with no local endpoint of an
`externalTrafficPolicy: Local` Service (DESIGN.md section 6):

- iptables (pkg/proxy/iptables/proxier.go) and nftables: a filter rule DROPs it ("... has no
  local endpoints"): the look times out, an L7 LB answers 502/504. REJECT, a refused
  connection, only where the Service has no endpoints at all ("... has no endpoints"). So a
  refused look at a node whose Service has endpoints is rules that forward to a local pod
  that is gone (detect's "refused": `pod-gone-before-deregistered`).
- IPVS (pkg/proxy/ipvs/proxier.go, syncEndpoint): since kubernetes#97081 the virtual server
  takes the cluster's endpoints where none is local ("Traffic from an external source will be
  routed but the reply will have the POD address and will be discarded"): a timeout as well.
  Before it the virtual server had no real server and the connection was refused, as at a
  local pod that is gone. Which kube-proxy release first carried #97081 is not read here
  (merged in 2022, after the review of 2022-01-17), so on an IPVS node a refused look does not
  say which of the two it met.
- any other mode (`kernelspace` on Windows) is not read: a refused look says nothing there.

The mode is the node's own `/configz` `Mode` (ProxyConfig, recorder/sources/kubeproxy/configz.py)
where every stored answer of the node names one; empty is the platform's default, iptables on
Linux (cmd/kube-proxy/app/server_linux.go); a node whose answers name different modes (a
restart with another configuration) is not read. Where none was stored, `proxy_mode` (the
assumption) when set, else iptables, kube-proxy's default on Linux (`DEFAULT_MODE`).
Where neither states it, or the mode is IPVS, replay.modeshape reads what a refusal is from
the node's own looks, else names every reading.
"""

from __future__ import annotations

from gapwatch.replay.assumptions import DetectSettings
from gapwatch.replay.fold import FoldState

#: kube-proxy's mode where nothing says another: its default on Linux (`--proxy-mode` blank:
#: iptables; cmd/kube-proxy/app/server_linux.go), the mode replay's readings were written for
DEFAULT_MODE = "iptables"
#: the modes whose refused NodePort look is rules forwarding to a local pod that is gone
REFUSED_IS_RULES = frozenset({"iptables", "nftables"})


def stated_mode(state: FoldState, cluster: str, node: str) -> str | None:
    """The mode `node`'s /configz answers name (lower case; empty: iptables), where they all
    name one; None where none was stored or they differ."""
    modes = {
        (look.mode or DEFAULT_MODE).lower() for look in state.proxy_confs.get((cluster, node), ())
    }
    return modes.pop() if len(modes) == 1 else None


def proxy_mode(state: FoldState, cluster: str, node: str, settings: DetectSettings) -> str:
    """The mode detection reads for `node`: stated by its /configz, else the `proxy_mode`
    assumption, else `DEFAULT_MODE` (module docstring)."""
    return stated_mode(state, cluster, node) or settings.proxy_mode or DEFAULT_MODE
