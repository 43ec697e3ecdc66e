"""Who may read /metrics: an address range and a bearer token of its own, both from the settings.

/metrics takes no tenant's token: it tells no tenant anything of theirs, and a scraper should hold
no key to the API. What it tells (the installation's size, its providers' health) is still the
operator's, so an installation can limit it to its monitoring network (``LOOPBACK_METRICS_NETWORKS``)
and ask for ``LOOPBACK_METRICS_TOKEN``; an answer refused is a 403 (address) or a 401 (token).
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from loopback.kit.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class MetricsGuard:
    networks: tuple[Network, ...]
    token: str | None

    @classmethod
    def for_settings(cls, settings: Settings) -> MetricsGuard:
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        return cls(tuple(ipaddress.ip_network(n) for n in settings.metrics_networks), token or None)

    def refusal(self, client_address: str | None, authorization: str | None) -> int | None:
        """None when the scrape may be answered; else the status that refuses it (403 or 401)."""
        if self.networks and not self._inside(client_address):
            return 403
        if self.token is not None:
            scheme, _, given = (authorization or "").partition(" ")
            matches = hmac.compare_digest(given.strip().encode(), self.token.encode())
            if scheme.lower() != "bearer" or not matches:
                return 401
        return None

    def _inside(self, client_address: str | None) -> bool:
        try:
            address = ipaddress.ip_address(client_address or "")
        except ValueError:  # no address (a Unix socket), or one no network contains
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)
