"""Loopback never goes through a forward proxy.

Every outbound httpx client honours HTTP(S)_PROXY and NO_PROXY (trust_env). A proxy on the way to
this machine itself is never what an operator means, and behind a corporate proxy it breaks the
console (its own API is on loopback) and the demo model: so each client is given `mounts` that send
localhost, 127.0.0.1, ::1, and any other loopback host the client is configured to reach (any of
127.0.0.0/8), directly, whatever NO_PROXY says.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

ALWAYS = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _pattern(host: str) -> str:
    return f"all://[{host}]" if ":" in host else f"all://{host}"


def direct_mounts(urls: Iterable[str] = ()) -> dict[str, None]:
    """httpx `mounts` that take loopback hosts, and the loopback hosts of `urls`, off any proxy.

    (httpx matches mount patterns by exact host, so hosts of 127.0.0.0/8 other than 127.0.0.1 are
    added from the URLs the client is configured for.)
    """
    hosts = dict.fromkeys(ALWAYS)
    for url in urls:
        host = urlsplit(url).hostname if url else None
        if host and is_loopback(host):
            hosts[host] = None
    return {_pattern(host): None for host in hosts}
