"""Who a visitor is: a login, else the client address (behind trusted proxies, by X-Forwarded-For).

This module does no HTTP and never imports gradio: the page passes plain values (the TCP peer, the
X-Forwarded-For values, the logged-in names). ``spending.SpendGate`` counts what a visitor spends by
``Visitor.id``; ``http_guard`` counts uploads by the same rule.

Decisions, so nobody has to rediscover them:

* A Hugging Face login first, then a RAY_AUTH username, else the client address. The address is the
  TCP peer unless RAY_PROXY_HOPS = N > 0: then it is the N-th X-Forwarded-For entry from the right,
  the address the nearest trusted proxy saw (werkzeug ProxyFix x_for=N). A chain shorter than N (a
  misconfigured or bypassed proxy) and an entry that is not an IP address both fall back to the
  peer, so text in a header can never mint a new identity.
* IPv4-mapped IPv6 is the IPv4 address; any other IPv6 client counts as its /64 (one subscriber
  usually holds a whole /64, so per-address counting would give one person 2^64 identities). IPv4 is
  not grouped (carrier NAT already puts many people behind one address). A peer that is missing or
  not an IP address is the one shared visitor "ip:unknown".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class Visitor:
    id: str  # stable key for counters: "hf:alice", "user:bob", "ip:203.0.113.9", "ip:2001:db8:1:2::/64"
    label: str  # for logs and messages: "alice", "203.0.113.9"


UNKNOWN_VISITOR = Visitor("ip:unknown", "unknown address")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def identify(
    peer: str | None,
    forwarded_for: list[str] | str | None,
    proxy_hops: int,
    username: str | None = None,
    hf_username: str | None = None,
) -> Visitor:
    """The visitor behind a request: Hugging Face login, else RAY_AUTH login, else client address."""
    if hf_name := _clean_name(hf_username):
        return Visitor(f"hf:{hf_name}", hf_name)
    if name := _clean_name(username):
        return Visitor(f"user:{name}", name)
    return address_visitor(client_address(peer, forwarded_for, proxy_hops))


def client_address(peer: str | None, forwarded_for: list[str] | str | None, proxy_hops: int) -> IPAddress | None:
    """The client's IP address: the peer, or the entry ``proxy_hops`` from the right of X-Forwarded-For."""
    peer_address = parse_address(peer)
    if proxy_hops <= 0:
        return peer_address
    chain = forwarded_chain(forwarded_for)
    if len(chain) < proxy_hops:
        return peer_address  # the proxies we trust did not all add an entry: not behind them, or misconfigured
    return parse_address(chain[-proxy_hops]) or peer_address


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
    """The visitor for an address: IPv4 as is, IPv6 by its /64."""
    if address is None:
        return UNKNOWN_VISITOR
    if isinstance(address, ipaddress.IPv6Address):
        block = ipaddress.IPv6Network((address, 64), strict=False)
        return Visitor(f"ip:{block}", str(address))
    return Visitor(f"ip:{address}", str(address))


def _clean_name(name: str | None) -> str | None:
    return (name.strip() or None) if isinstance(name, str) else None
