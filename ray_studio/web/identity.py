"""Who a visitor is: a login, else the client address (behind trusted proxies, by X-Forwarded-For).

This module does no HTTP and never imports gradio: the page passes plain values (the TCP peer, the
X-Forwarded-For values, the logged-in names). ``spending.SpendGate`` counts what a visitor spends by
``Visitor.id`` (and a customer's whole IPv6 block by ``Visitor.network``); ``http_guard`` counts
uploads by the same ``Visitor.id``.

Decisions, so nobody has to rediscover them:

* A Hugging Face login first, then a RAY_AUTH username, else the client address.
* The address is the TCP peer unless RAY_PROXY_HOPS = N > 0 AND the peer is a trusted proxy
  (RAY_TRUSTED_PROXIES, by default the private ranges and loopback, where a Space's proxy and a local
  one connect from): then it is the N-th X-Forwarded-For entry from the right, the address the
  nearest trusted proxy saw (werkzeug ProxyFix x_for=N). A peer that reaches the app around the
  proxy is itself, whatever its header says. A chain shorter than N (a misconfigured or bypassed
  proxy) and an entry that is not an IP address both fall back to the peer, so text in a header can
  never mint a new identity. A peer that is missing or not an IP address (a Unix socket) is trusted
  by no rule: it is the one shared visitor "ip:unknown".
* IPv4-mapped IPv6 is the IPv4 address, and so are 6to4 (2002::/16) and Teredo (2001::/32)
  addresses: each carries one IPv4 address, and whoever holds that address holds 2^80 (6to4) or
  very many (Teredo) IPv6 addresses around it.
* Any other IPv6 client counts as its /64 (one subscriber usually holds a whole /64, so per-address
  counting would give one person 2^64 identities), and its ``network`` is its /56, the block an ISP
  usually gives one customer: one customer may hold 256 /64s, so the gate caps that block as a
  whole too (RAY_NETWORK_LIMITS). IPv4 is not grouped at all (carrier NAT already puts many people
  behind one address, and the neighbours of an address are other customers), so an IPv4 visitor has
  no wider network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

VISITOR_PREFIX = 64  # an IPv6 subscriber's LAN
NETWORK_PREFIX = 56  # an IPv6 customer's whole delegation
EVERY_PEER = "any"
DEFAULT_TRUSTED_PROXIES = "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 127.0.0.0/8, ::1, fc00::/7"
TRUSTED_PROXIES_EXPECTED = f"comma-separated addresses or CIDR blocks like {DEFAULT_TRUSTED_PROXIES!r}, or any"


@dataclass(frozen=True)
class Visitor:
    id: str  # stable key for counters: "hf:alice", "user:bob", "ip:203.0.113.9", "ip:2001:db8:1:2::/64"
    label: str  # for logs and messages: "alice", "203.0.113.9"
    network: str | None = None  # an IPv6 visitor's /56 ("net:2001:db8:1::/56"); None for logins and IPv4


UNKNOWN_VISITOR = Visitor("ip:unknown", "unknown address")


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """RAY_TRUSTED_PROXIES: comma-separated addresses or CIDR blocks, or ``any``. Raises ValueError."""
    if text.strip().lower() == EVERY_PEER:
        return (ipaddress.IPv4Network("0.0.0.0/0"), ipaddress.IPv6Network("::/0"))
    entries = [entry.strip() for entry in text.split(",")]
    if not text.isascii() or not all(entries):
        raise ValueError(text)
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


@dataclass(frozen=True)
class Proxies:
    """Who may say where a request came from: ``hops`` proxies in front (RAY_PROXY_HOPS), the nearest
    of them connecting from an address in ``trusted`` (RAY_TRUSTED_PROXIES)."""

    hops: int = 0
    trusted: tuple[IPNetwork, ...] = parse_networks(DEFAULT_TRUSTED_PROXIES)

    def may_forward(self, peer: IPAddress | None) -> bool:
        """Whether X-Forwarded-For from this peer names the client."""
        return self.hops > 0 and peer is not None and any(peer in network for network in self.trusted)


def identify(
    peer: str | None,
    forwarded_for: list[str] | str | None,
    proxies: Proxies | int,
    username: str | None = None,
    hf_username: str | None = None,
) -> Visitor:
    """The visitor behind a request: Hugging Face login, else RAY_AUTH login, else client address."""
    if hf_name := _clean_name(hf_username):
        return Visitor(f"hf:{hf_name}", hf_name)
    if name := _clean_name(username):
        return Visitor(f"user:{name}", name)
    return address_visitor(client_address(peer, forwarded_for, proxies))


def client_address(peer: str | None, forwarded_for: list[str] | str | None, proxies: Proxies | int) -> IPAddress | None:
    """The client's IP address: the peer, or (from a trusted proxy) the entry ``proxies.hops`` from the
    right of X-Forwarded-For. A bare number of hops trusts the default proxies."""
    proxies = proxies if isinstance(proxies, Proxies) else Proxies(proxies)
    peer_address = parse_address(peer)
    if not proxies.may_forward(peer_address):
        return peer_address
    chain = forwarded_chain(forwarded_for)
    if len(chain) < proxies.hops:
        return peer_address  # the proxies we trust did not all add an entry: not behind them, or misconfigured
    return parse_address(chain[-proxies.hops]) or peer_address


def forwarded_chain(forwarded_for: list[str] | str | None) -> list[str]:
    """All X-Forwarded-For values as one list of entries, left (client side) to right (nearest proxy)."""
    if not forwarded_for:
        return []
    values = [forwarded_for] if isinstance(forwarded_for, str) else list(forwarded_for)
    joined = ",".join(values)
    # Empty entries are kept: dropping them would shift the count from the right onto what the visitor wrote.
    return [entry.strip() for entry in joined.split(",")] if joined.strip() else []


def parse_address(text: str | None) -> IPAddress | None:
    """An IP address from a peer or header entry (port, brackets and zone dropped), or None."""
    if not text:
        return None
    text = text.strip()
    candidates = [text]
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        candidates.append(text[1 : text.index("]")])
    elif text.count(":") == 1:  # "203.0.113.9:51234"
        candidates.append(text.partition(":")[0])
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate.partition("%")[0])
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            return address.ipv4_mapped
        return address
    return None


def address_visitor(address: IPAddress | None) -> Visitor:
    """The visitor for an address: IPv4 as is, 6to4 and Teredo as the IPv4 address they carry, any
    other IPv6 by its /64 (in the network of its /56)."""
    if address is None:
        return UNKNOWN_VISITOR
    if isinstance(address, ipaddress.IPv4Address):
        return Visitor(f"ip:{address}", str(address))
    if carried := carried_ipv4(address):
        return Visitor(f"ip:{carried}", str(address))
    block = ipaddress.IPv6Network((address, VISITOR_PREFIX), strict=False)
    network = ipaddress.IPv6Network((address, NETWORK_PREFIX), strict=False)
    return Visitor(f"ip:{block}", str(address), f"net:{network}")


def carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4 or Teredo address stands for (Teredo: the client's public one)."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def _clean_name(name: str | None) -> str | None:
    return (name.strip() or None) if isinstance(name, str) else None
