"""BuildKit's entitlements: what a Dockerfile may ask for only when the command line allows it.

``RUN --network=host`` shares the builder's network namespace (it can watch mason's registry
traffic and reach the job's 127.0.0.1); ``RUN --security=insecure`` drops the whole confinement
(all capabilities, no seccomp, nothing masked).  As with ``buildctl --allow`` and
``docker buildx build --allow``, a Dockerfile asking for either is refused unless the person
running the build allowed it with ``--allow network.host`` / ``--allow security.insecure``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from mason.errors import UsageError

if TYPE_CHECKING:   # names only: the CLI reads these before any RUN, and needs no RunSpec
    from mason.sandbox.spec import Network, Security

NETWORK_HOST = "network.host"
SECURITY_INSECURE = "security.insecure"
ENTITLEMENTS = (NETWORK_HOST, SECURITY_INSECURE)

# RUN --network values (Dockerfile spelling) -> RunSpec.network
NETWORKS: dict[str | None, Network] = {None: "sandbox", "default": "sandbox", "none": "none", "host": "host"}
SECURITIES: dict[str | None, Security] = {None: "sandbox", "sandbox": "sandbox", "insecure": "insecure"}


def parse(values: Iterable[str]) -> frozenset[str]:
    """``--allow`` values (repeatable, or comma-separated as buildx accepts them)."""
    out = set()
    for value in values:
        for item in (v.strip() for v in value.split(",")):
            if item not in ENTITLEMENTS:
                raise UsageError(f"--allow={item}: unknown entitlement",
                                 hint=f"mason knows {' and '.join(ENTITLEMENTS)}")
            out.add(item)
    return frozenset(out)


def run_modes(network: str | None, security: str | None, allowed: frozenset[str], where: str) -> tuple[Network, Security]:
    """``(RunSpec.network, RunSpec.security)`` for a RUN's flags, refusing what is not allowed."""
    if network not in NETWORKS:
        raise UsageError(f"{where}: RUN --network={network} is not supported (default, none or host)")
    if security not in SECURITIES:
        raise UsageError(f"{where}: RUN --security={security} is not supported (sandbox or insecure)")
    net, sec = NETWORKS[network], SECURITIES[security]
    if net == "host" and NETWORK_HOST not in allowed:
        raise UsageError(f"{where}: RUN --network=host needs the {NETWORK_HOST} entitlement, which this build "
                         "does not grant", hint=f"pass --allow {NETWORK_HOST} if the Dockerfile is trusted with "
                         "the builder's network (its registry traffic and every service on 127.0.0.1)")
    if sec == "insecure" and SECURITY_INSECURE not in allowed:
        raise UsageError(f"{where}: RUN --security=insecure needs the {SECURITY_INSECURE} entitlement, which this "
                         "build does not grant", hint=f"pass --allow {SECURITY_INSECURE} if the Dockerfile is "
                         "trusted with full root on the build machine")
    return net, sec
