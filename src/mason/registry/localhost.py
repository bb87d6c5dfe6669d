"""Which registries may answer in plain HTTP without ``--insecure-registry``.

go-containerregistry, and so Kaniko, treats registries that look local as "http" registries:
it tries HTTPS first and falls back to plain HTTP (``name.Registry.Scheme`` and the ping in
``transport``). Pipelines rely on it: a job pushing to a registry service at ``localhost:5000``
or ``10.0.3.7:5000`` works with Kaniko without any flag. Its rule, which mason follows:

* an IPv4 address in an RFC 1918 block (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16),
  with or without a port;
* ``localhost:<port>``;
* a name ending in ``.local`` or ``.localhost``, with or without a port;
* the loopback addresses ``127.0.0.1`` and ``::1``.

go-containerregistry matches the loopback addresses as substrings (so ``127.0.0.10`` and
``[fd00::1]`` pass, ``127.0.0.2`` does not); mason parses the address and takes the whole
loopback block (127.0.0.0/8, ::1), and a bare ``localhost`` without a port as well. Every
other registry stays HTTPS-only unless a flag says otherwise.
"""

from __future__ import annotations

import ipaddress
import re

_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_LOCAL_NAME = re.compile(r".*\.local(?:host)?(?::\d{1,5})?", re.I)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address of ``host`` (``a.b.c.d[:port]`` or ``[v6][:port]``), or None for a name."""
    if host.startswith("["):
        text = host[1:].partition("]")[0]
    elif host.count(":") > 1:
        text = host                      # a bare IPv6 address, no port
    else:
        text = host.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def may_fall_back_to_http(host: str) -> bool:
    """True for registries (``host[:port]``) that go-containerregistry would reach over HTTP
    when HTTPS fails: loopback, RFC 1918 addresses, ``localhost``, ``*.local``."""
    address = _address(host)
    if address is not None:
        if address.is_loopback:
            return True
        return address.version == 4 and any(address in net for net in _RFC1918)
    name = host.lower()
    if name == "localhost" or name.startswith("localhost:"):
        return True
    return _LOCAL_NAME.fullmatch(name) is not None
