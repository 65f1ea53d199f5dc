"""Outbound-request guard: checks every address the eval engine connects to (SSRF defence).

A target URL is typed by an organization member, so the engine must not become a
way to reach the cloud metadata service, the host's own services or the private
network. The rules:

* An address is classified *after* unwrapping the IPv6 forms that carry an IPv4
  address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``,
  IPv4-translated ``::ffff:0:a.b.c.d``, NAT64 ``64:ff9b::/96`` and the local-use
  ``64:ff9b:1::/48``, 6to4 ``2002::/16``, Teredo ``2001::/32``).
  Python's ``ipaddress`` flags judge the IPv6 wrapper, not the IPv4 address
  behind it (``64:ff9b::7f00:1`` is "global" to them), and call
  ``100.64.0.0/10`` neither private nor global; hence our own tables below.
* Link-local, cloud-metadata and reserved addresses are always refused. Private
  and loopback addresses are refused unless the organization's
  :class:`EgressPolicy` allows them (by flag or allow-listed network).
* Every address a name resolves to is checked; one refused answer refuses the
  name, so a DNS answer mixing public and private addresses does not pass.
* DNS rebinding: the name is resolved once and the connection goes to exactly the
  address that was checked (never re-resolved); the peer is checked again after
  connect.

How the HTTP client uses it (built later, with the targets):

* An aiohttp ``AbstractResolver`` whose ``resolve(host, port, family)`` runs
  ``loop.getaddrinfo`` and passes the answer through :func:`check_resolved`,
  returning only checked IP addresses. ``TCPConnector`` then connects to those
  IPs (TLS still verifies the certificate against the original host name), so
  nothing re-resolves between check and connect. The connector also checks
  ``transport.get_extra_info("peername")`` with :func:`check_address`.
* ``trust_env=False`` (an ``HTTP(S)_PROXY`` from the environment would make the
  proxy, not us, choose the address), ``allow_redirects=False`` (a redirect is a
  new, unchecked URL: it is reported, not followed), and the response body is
  read in chunks up to a size cap. Those belong to the client.
* Synchronous callers (the "test connection" action) can use
  :func:`connect_checked` directly.

DNS failures surface as ``socket.gaierror`` (an ``OSError``); only policy
refusals raise :class:`EgressRefused`.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PUBLIC = "public"
PRIVATE = "private"
LOOPBACK = "loopback"
LINK_LOCAL = "link_local"
METADATA = "metadata"
RESERVED = "reserved"

# Most severe first: when an address has several possible readings, the most
# severe one decides.
_SEVERITY = (METADATA, LINK_LOCAL, RESERVED, LOOPBACK, PRIVATE, PUBLIC)
ALWAYS_REFUSED = frozenset({METADATA, LINK_LOCAL, RESERVED})

_REASONS = {
    METADATA: "a cloud metadata address: always refused",
    LINK_LOCAL: "a link-local address: always refused",
    RESERVED: "a reserved or non-routable address: always refused",
    LOOPBACK: "a loopback address: refused unless an organization admin allow-lists it",
    PRIVATE: "a private address: refused unless an organization admin allow-lists it",
}

_v4 = ipaddress.IPv4Network
_v6 = ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OCI, DigitalOcean IMDS
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS Pod Identity agent
        "100.100.100.200",  # Alibaba Cloud (inside 100.64/10)
        "168.63.129.16",  # Azure WireServer (public space, platform-only)
        "fd00:ec2::254",  # AWS IMDS over IPv6 (inside fc00::/7)
        "fd00:ec2::23",  # AWS EKS Pod Identity agent over IPv6
    )
)

_V4_TABLE: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_v4("127.0.0.0/8"), LOOPBACK),
    (_v4("169.254.0.0/16"), LINK_LOCAL),
    (_v4("10.0.0.0/8"), PRIVATE),
    (_v4("172.16.0.0/12"), PRIVATE),
    (_v4("192.168.0.0/16"), PRIVATE),
    (_v4("100.64.0.0/10"), PRIVATE),  # shared address space (carrier-grade NAT)
    (_v4("0.0.0.0/8"), RESERVED),  # "this network"; 0.0.0.0 reaches the local host on Linux
    (_v4("192.0.0.0/24"), RESERVED),  # IETF protocol assignments
    (_v4("192.0.2.0/24"), RESERVED),  # documentation (TEST-NET-1)
    (_v4("198.51.100.0/24"), RESERVED),  # documentation (TEST-NET-2)
    (_v4("203.0.113.0/24"), RESERVED),  # documentation (TEST-NET-3)
    (_v4("198.18.0.0/15"), RESERVED),  # benchmarking
    (_v4("192.88.99.0/24"), RESERVED),  # deprecated 6to4 relay anycast
    (_v4("224.0.0.0/4"), RESERVED),  # multicast
    (_v4("240.0.0.0/4"), RESERVED),  # reserved, includes 255.255.255.255 broadcast
)

_V6_TABLE: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_v6("::1/128"), LOOPBACK),
    (_v6("fe80::/10"), LINK_LOCAL),
    (_v6("fec0::/10"), RESERVED),  # deprecated site-local
    (_v6("fc00::/7"), PRIVATE),  # unique local
    (_v6("ff00::/8"), RESERVED),  # multicast
    (_v6("2001::/23"), RESERVED),  # IETF protocol assignments (Teredo is unwrapped before)
    (_v6("2001:db8::/32"), RESERVED),  # documentation
    (_v6("3fff::/20"), RESERVED),  # documentation (RFC 9637)
    (_v6("5f00::/16"), RESERVED),  # SRv6 SIDs
)
# Everything outside global unicast (::, ::/8 leftovers, 100::/64 discard, 4000::/3 …)
# is reserved: the check fails closed.
_V6_GLOBAL_UNICAST = _v6("2000::/3")

_NAT64_WKP = _v6("64:ff9b::/96")
_NAT64_LOCAL = _v6("64:ff9b:1::/48")
_SIXTOFOUR = _v6("2002::/16")
_TEREDO = _v6("2001::/32")
_IPV4_TRANSLATED = _v6("::ffff:0:0:0/96")
_IPV4_COMPATIBLE = _v6("::/96")
_LOW32 = 0xFFFFFFFF


class EgressRefused(ValueError):
    """An outbound connection the egress policy does not allow."""


@dataclass(frozen=True)
class EgressPolicy:
    """What an organization lets its targets reach besides the public internet."""

    allow_private: bool = False
    allow_loopback: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    def __post_init__(self) -> None:
        # Accept strings from settings or the admin form; strict parsing, so a
        # typo such as "10.0.0.1/8" is an error rather than a silently wider net.
        nets = tuple(
            n if isinstance(n, _v4 | _v6) else ipaddress.ip_network(n, strict=True)
            for n in self.allowed_networks
        )
        object.__setattr__(self, "allowed_networks", nets)

    def allows(self, address: IPAddress, category: str) -> bool:
        """Whether an (unwrapped) address of this category may be connected to."""
        if category == PUBLIC:
            return True
        if category in ALWAYS_REFUSED:
            return False
        if category == LOOPBACK and self.allow_loopback:
            return True
        if category == PRIVATE and self.allow_private:
            return True
        return any(address in net for net in self.allowed_networks)


def _parse(ip: str | IPAddress) -> IPAddress:
    if isinstance(ip, str):
        ip = ipaddress.ip_address(ip.strip().removeprefix("[").removesuffix("]"))
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        # IPv6Address equality includes the zone: drop it so the tables match.
        ip = ipaddress.IPv6Address(int(ip))
    return ip


def _v4_at(value: int, shift: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address((value >> shift) & _LOW32)


def _rfc6052_candidates(value: int) -> list[ipaddress.IPv4Address]:
    """IPv4 readings of a 64:ff9b:1::/48 address for prefix lengths /48, /56, /64 (RFC 6052)."""
    bits = value.to_bytes(16, "big")
    # Bits 64-71 (byte 8) are the reserved "u" octet and never carry address bits.
    readings = (bits[6:8] + bits[9:11], bits[7:8] + bits[9:12], bits[9:13])
    return [ipaddress.IPv4Address(r) for r in readings]


def _readings(address: IPAddress) -> tuple[IPAddress, list[ipaddress.IPv4Address]]:
    """The address to classify, plus secondary IPv4 readings that may only make it stricter."""
    if isinstance(address, ipaddress.IPv4Address):
        return address, []
    value = int(address)
    if value in (0, 1):  # "::" and "::1" are not IPv4-compatible forms
        return address, []
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, []
    if address in _IPV4_TRANSLATED or address in _IPV4_COMPATIBLE or address in _NAT64_WKP:
        return _v4_at(value, 0), []
    if address in _NAT64_LOCAL:
        # The local-use prefix may be deployed at any length from /48 to /96; the /96
        # reading is the common one, the others are checked too so they fail closed.
        return _v4_at(value, 0), _rfc6052_candidates(value)
    if address in _SIXTOFOUR:
        return _v4_at(value, 80), []
    if address in _TEREDO:
        # Traffic goes to the client (last 32 bits, inverted); the server (bits 32-63)
        # is checked as well, failing closed.
        return ipaddress.IPv4Address(~value & _LOW32), [_v4_at(value, 64)]
    return address, []


def _classify_plain(address: IPAddress) -> str:
    if address in METADATA_ADDRESSES:
        return METADATA
    if isinstance(address, ipaddress.IPv4Address):
        table: tuple[tuple[IPNetwork, str], ...] = _V4_TABLE
    else:
        table = _V6_TABLE
        if address not in _V6_GLOBAL_UNICAST and not any(address in n for n, _ in table):
            return RESERVED
    for network, category in table:
        if address in network:
            return category
    return PUBLIC


def _effective(address: IPAddress) -> list[tuple[IPAddress, str]]:
    """Each address that decides the verdict, with its category."""
    primary, secondary = _readings(address)
    found = [(primary, _classify_plain(primary))]
    for candidate in secondary:
        category = _classify_plain(candidate)
        # Secondary readings are often junk (0.x.x.x); only a local reading counts.
        if category not in (PUBLIC, RESERVED):
            found.append((candidate, category))
    return found


def classify(ip: str | IPAddress) -> str:
    """Category of an address, after unwrapping IPv4 carried inside IPv6 forms."""
    categories = {category for _, category in _effective(_parse(ip))}
    return next(c for c in _SEVERITY if c in categories)


def check_address(ip: str | IPAddress, policy: EgressPolicy) -> None:
    """Raise EgressRefused unless the policy lets us connect to this address."""
    try:
        address = _parse(ip)
    except ValueError:
        raise EgressRefused(f"{ip!r} is not an IP address") from None
    verdicts = sorted(_effective(address), key=lambda item: _SEVERITY.index(item[1]))
    for inner, category in verdicts:
        if policy.allows(inner, category):
            continue
        shown = str(address) if inner == address else f"{address} (embeds {inner})"
        raise EgressRefused(f"{shown} is {_REASONS[category]}")


def check_resolved(
    host: str, infos: list[tuple], policy: EgressPolicy
) -> list[tuple[socket.AddressFamily, tuple]]:
    """Check every getaddrinfo answer for a host; return (family, sockaddr) pairs to connect to."""
    checked: list[tuple[socket.AddressFamily, tuple]] = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            raise EgressRefused(f"{host} resolved to an unsupported address family {family!r}")
        try:
            check_address(sockaddr[0], policy)
        except EgressRefused as refused:
            # One refused answer refuses the name: the client may pick any of them.
            raise EgressRefused(f"{host} resolves to a refused address: {refused}") from None
        if (family, sockaddr) not in checked:
            checked.append((family, sockaddr))
    if not checked:
        raise socket.gaierror(f"{host} resolved to no addresses")
    return checked


def _validate_target(host: str, port: int) -> str:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise EgressRefused(f"{port!r} is not a valid port")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise EgressRefused("the host is empty")
    return host


def resolve_and_check(
    host: str, port: int, policy: EgressPolicy
) -> list[tuple[socket.AddressFamily, tuple]]:
    """Resolve a host once and return its addresses, refusing if any one is refused.

    IP literals, including the integer, hex and octal forms a resolver accepts
    (``2130706433``, ``0x7f.1``), go through getaddrinfo too, so what is checked is
    the address the resolver actually produced.
    """
    host = _validate_target(host, port)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return check_resolved(host, infos, policy)


def connect_checked(host: str, port: int, policy: EgressPolicy, timeout: float) -> socket.socket:
    """Open a TCP connection to a checked address of host (resolved once, peer re-checked).

    The timeout applies to each connection attempt and stays set on the socket.
    """
    addresses = resolve_and_check(host, port, policy)
    last_error: OSError | None = None
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            peer = sock.getpeername()
            # The kernel's view of the peer must be the address we checked; anything
            # else (a transparent proxy, a NAT rule) is checked and refused.
            check_address(peer[0], policy)
            if _parse(peer[0]) != _parse(sockaddr[0]):
                raise EgressRefused(f"connected to {peer[0]}, expected {sockaddr[0]}")
        except EgressRefused:
            sock.close()
            raise
        except OSError as error:
            sock.close()
            last_error = error
            continue
        return sock
    if last_error is None:  # unreachable: resolve_and_check never returns []
        raise socket.gaierror(f"{host} resolved to no addresses")
    raise last_error
