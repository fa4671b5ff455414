"""What a generation asks Segmind for: the parameters, their checks, and what a clip costs.

``VideoRequest`` validates itself on construction and names every problem at once; keyframe URLs
that point at this machine or a private network are refused by ``private_host_problem``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import idna

from ray_studio.client.errors import InvalidRequestError
from ray_studio.client.wording import describe_shape

ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9")
DURATIONS = (5, 9)
DEFAULT_ASPECT_RATIO = "16:9"
DEFAULT_DURATION = 5
MAX_PROMPT_CHARS = 2000
MAX_URL_CHARS = 2048
# Segmind's listed price for this model: US dollars per second of video ($0.375 for 5 s, $0.675 for 9 s).
PRICE_PER_SECOND = 0.075
UNSAFE_HOST_NAMES = ("localhost", "metadata", "metadata.google.internal", "instance-data")
# Names that only mean something inside a machine, a LAN or a cluster (Kubernetes: .svc, .cluster.local).
UNSAFE_HOST_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".svc", ".lan", ".intranet")
# Services whose names resolve to whatever address they spell, or to 127.0.0.1.
WILDCARD_DNS = ("nip.io", "sslip.io", "xip.io", "localtest.me", "lvh.me", "vcap.me", "lacolhost.com", "traefik.me")


def coerce_duration(value: Any) -> int | None:
    """5 or 9 as a number (9, 9.0) or its plain text ("9"); anything else (True, "009", "9s") is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip() in {str(d) for d in DURATIONS}:
        return int(value.strip())
    return None


def _coerce_loop(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def prompt_problem(prompt: str) -> str | None:
    if not prompt:
        return "prompt is empty; describe the video you want"
    if len(prompt) > MAX_PROMPT_CHARS:
        return f"prompt is {len(prompt)} characters long; the limit is {MAX_PROMPT_CHARS}"
    controls = sorted({ch for ch in prompt if unicodedata.category(ch) == "Cc" and ch not in "\n\t"})
    if controls:
        return f"prompt contains control characters ({', '.join(f'U+{ord(c):04X}' for c in controls[:3])})"
    # Letters, marks on letters, numbers, punctuation, symbols: something a person can read.
    if not any(unicodedata.category(ch)[0] in "LNPS" for ch in prompt):
        return "prompt has no visible characters; describe the video you want"
    return None


def _url_problem(name: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{name} must be a URL string"
    if len(value) > MAX_URL_CHARS:
        return f"{name} is {len(value)} characters long; the limit is {MAX_URL_CHARS}"
    if any(ch.isspace() for ch in value):
        return f"{name} contains spaces; paste the image's full address"
    if "\\" in value:  # browsers and most HTTP stacks read it as "/", so the host would not be the one checked
        return f"{name} contains a backslash; web addresses use / (paste the image's address as it is)"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        return f"{name} is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{name} must be an absolute http:// or https:// address of an image (got {value[:60]!r})"
    if parts.username is not None or parts.password is not None:
        return f"{name} must not carry a user name or password; use a public image address"
    return None


def _host_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names literally, in any of the forms resolvers accept (127.1, 0x7f.0.0.1,
    2130706433, [::1]); None for a DNS name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", host):
        try:
            return ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries: mapped, IPv4-compatible (::a.b.c.d), 6to4, Teredo's
    server, or NAT64 (64:ff9b::/96)."""
    teredo = ip.teredo
    if ip.ipv4_mapped or ip.sixtofour or teredo:
        return ip.ipv4_mapped or ip.sixtofour or (teredo[0] if teredo else None)
    in_nat64 = ip in ipaddress.ip_network("64:ff9b::/96") or ip in ipaddress.ip_network("64:ff9b:1::/48")
    translated = ip in ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT's IPv4-translated addresses
    if in_nat64 or translated or ip in ipaddress.ip_network("::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _unsafe_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        return _unsafe_ip(inner)
    return not ip.is_global or ip.is_multicast


def host_spellings(url: str) -> list[str] | None:
    """The host of ``url`` as the HTTP stacks that may fetch it will read it: as written, lowercased;
    mapped by IDNA's UTS #46 rules (what requests and browsers do to a non-ASCII name: fullwidth or
    circled digits become ASCII digits, ideographic full stops become dots); and NFKC-folded. None
    when the host cannot be a host name at all (percent-escapes, or a name IDNA refuses)."""
    host = urlsplit(url).hostname or ""
    if "%" in host:
        return None
    spellings = [host]
    if not host.isascii():
        try:
            mapped = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            return None
        spellings = [mapped, unicodedata.normalize("NFKC", host).casefold(), host]
    return list(dict.fromkeys(h.rstrip(".").lower() for h in spellings))


def private_host_problem(name: str, url: str) -> str | None:
    """Why ``url`` points at this machine or a private network, or None. Segmind fetches keyframe
    URLs itself: a hosted page must not be a way to make it (or anyone) fetch such addresses.

    Checked as written, without a DNS lookup, in every spelling an HTTP stack may read (``host_spellings``):
    literal addresses in every form resolvers accept (and IPv4 inside IPv6), local and cluster names,
    names that spell a private address (``10.0.0.1.nip.io``) and the wildcard-DNS services that exist
    to point names at any address."""
    spellings = host_spellings(url)
    if spellings is None:
        return f"{name} has a host name that cannot be used ({urlsplit(url).netloc[:60]!r}); use a public image URL"
    for host in spellings:
        if problem := _host_problem(name, host):
            return problem
    return None


def _host_problem(name: str, host: str) -> str | None:
    ip = _host_ip(host)
    if ip is not None:
        if _unsafe_ip(ip):
            return f"{name} points at a private, loopback or link-local address ({host}); use a public image URL"
        return None
    spelled = re.search(r"(?<![0-9])([0-9]{1,3})[.-]([0-9]{1,3})[.-]([0-9]{1,3})[.-]([0-9]{1,3})(?![0-9])", host)
    spelled_ip = _host_ip(".".join(spelled.groups())) if spelled else None
    wildcard = any(host == d or host.endswith("." + d) for d in WILDCARD_DNS)
    if wildcard or (spelled_ip is not None and _unsafe_ip(spelled_ip)):
        return f"{name} points at a name that resolves to a local or private address ({host}); use a public image URL"
    if host in UNSAFE_HOST_NAMES or host.endswith(UNSAFE_HOST_SUFFIXES) or "." not in host:
        return f"{name} points at a local or internal host name ({host}); use a public image URL"
    return None


@dataclass(frozen=True)
class VideoRequest:
    """One generation's parameters. Construction validates: a bad value raises InvalidRequestError
    naming every problem, before anything is sent.

    Lenient only where a form or the API naturally sends another spelling of the same value
    ("9" or 9.0 for a duration, "true" for loop, "" for no keyframe); everything else is refused.
    """

    prompt: str
    aspect_ratio: str = DEFAULT_ASPECT_RATIO
    duration: int = DEFAULT_DURATION
    loop: bool = False
    start_image_url: str | None = None
    end_image_url: str | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        normalised: dict[str, Any] = {}

        if not isinstance(self.prompt, str):
            problems.append("prompt must be text")
        else:
            prompt = self.prompt.strip()
            if problem := prompt_problem(prompt):
                problems.append(problem)
            normalised["prompt"] = prompt

        ratio = self.aspect_ratio.strip() if isinstance(self.aspect_ratio, str) else self.aspect_ratio
        if ratio not in ASPECT_RATIOS:
            problems.append(f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)} (got {str(ratio)[:20]!r})")
        normalised["aspect_ratio"] = ratio

        duration = coerce_duration(self.duration)
        if duration not in DURATIONS:
            problems.append(f"duration must be 5 or 9 seconds (got {str(self.duration)[:20]!r})")
        normalised["duration"] = duration

        loop = _coerce_loop(self.loop)
        if loop is None:
            problems.append(f"loop must be true or false (got {str(self.loop)[:20]!r})")
        normalised["loop"] = loop

        for name in ("start_image_url", "end_image_url"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = value.strip() or None
            if value is not None and (problem := _url_problem(name, value)):
                problems.append(problem)
            normalised[name] = value

        if problems:
            raise InvalidRequestError(problems)
        for name, value in normalised.items():
            object.__setattr__(self, name, value)

    def to_payload(self) -> dict[str, Any]:
        """The JSON body Segmind expects; keyframes only when set."""
        body: dict[str, Any] = {
            "prompt": self.prompt,
            "aspect_ratio": self.aspect_ratio,
            "duration": self.duration,
            "loop": self.loop,
        }
        if self.start_image_url:
            body["start_image_url"] = self.start_image_url
        if self.end_image_url:
            body["end_image_url"] = self.end_image_url
        return body

    def price(self, per_second: float = PRICE_PER_SECOND) -> float:
        """What Segmind charges for this clip, in US dollars."""
        return clip_price(self.duration, per_second)

    def describe(self) -> str:
        """A short human summary, e.g. ``16:9 · 5 s · loop · start+end keyframes``."""
        return describe_shape(
            self.aspect_ratio, self.duration, self.loop, bool(self.start_image_url), bool(self.end_image_url)
        )


def clip_price(duration: int, per_second: float = PRICE_PER_SECOND, clips: int = 1) -> float:
    """What ``clips`` clips of ``duration`` seconds cost at ``per_second`` US dollars: the one price rule."""
    return round(clips * duration * per_second, 6)
