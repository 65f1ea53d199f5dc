"""The outbound-request guard: classification, policy, resolution and rebinding-safe connect.

No test resolves or contacts a host other than loopback: DNS answers are
monkeypatched, and IP literals go through getaddrinfo with AI_NUMERICHOST.
"""

import ipaddress
import socket

import pytest

from evals import netguard
from evals.netguard import (
    EgressPolicy,
    EgressRefused,
    check_address,
    classify,
    connect_checked,
    resolve_and_check,
)

_real_getaddrinfo = socket.getaddrinfo


def _v4int(ip: str) -> int:
    return int(ipaddress.IPv4Address(ip))


def wrapped_forms(ip: str) -> dict[str, str]:
    """Every IPv6 form that carries an IPv4 address, built from the integer."""
    n = _v4int(ip)
    teredo_server = _v4int("65.54.227.120")  # RFC 4380's example server (public)
    return {
        "mapped": str(ipaddress.IPv6Address((0xFFFF << 32) | n)),
        "mapped-dotted": f"::ffff:{ip}",
        "compatible": str(ipaddress.IPv6Address(n)),
        "translated": str(ipaddress.IPv6Address((0xFFFF << 48) | n)),
        "nat64": str(ipaddress.IPv6Address((0x64FF9B << 96) | n)),
        "nat64-local": str(ipaddress.IPv6Address((0x64FF9B0001 << 80) | n)),
        "6to4": str(ipaddress.IPv6Address((0x2002 << 112) | (n << 80) | 1)),
        "teredo": str(
            ipaddress.IPv6Address(
                (0x20010000 << 96) | (teredo_server << 64) | (0x8000_63BF << 32) | (~n & 0xFFFFFFFF)
            )
        ),
    }


WRAPPED = {
    "127.0.0.1": "loopback",
    "10.0.0.1": "private",
    "169.254.169.254": "metadata",
    "8.8.8.8": "public",
}

WRAPPED_CASES = [
    pytest.param(address, expected, id=f"{form}:{ip}")
    for ip, expected in WRAPPED.items()
    for form, address in wrapped_forms(ip).items()
]

TABLE = [
    # IPv4
    ("8.8.8.8", "public"),
    ("1.1.1.1", "public"),
    ("93.184.216.34", "public"),
    ("100.63.255.255", "public"),  # just below 100.64/10
    ("100.128.0.0", "public"),  # just above it
    ("172.15.255.255", "public"),
    ("172.32.0.0", "public"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "private"),  # carrier-grade NAT
    ("100.127.255.255", "private"),
    ("169.254.0.1", "link_local"),
    ("169.254.169.253", "link_local"),
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("100.100.100.200", "metadata"),
    ("0.0.0.0", "reserved"),  # noqa: S104 -- classified, never bound
    ("0.1.2.3", "reserved"),
    ("192.0.0.8", "reserved"),
    ("192.0.2.1", "reserved"),
    ("198.51.100.7", "reserved"),
    ("203.0.113.9", "reserved"),
    ("198.18.0.1", "reserved"),
    ("198.19.255.255", "reserved"),
    ("224.0.0.1", "reserved"),
    ("239.255.255.250", "reserved"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    # IPv6
    ("2606:4700:4700::1111", "public"),
    ("2a00:1450:4001:82a::200e", "public"),
    ("::1", "loopback"),
    ("[::1]", "loopback"),
    ("::", "reserved"),
    ("fe80::1", "link_local"),
    ("fe80::1%eth0", "link_local"),
    ("febf:ffff::1", "link_local"),
    ("fec0::1", "reserved"),  # site-local
    ("fc00::1", "private"),
    ("fd12:3456:789a::1", "private"),
    ("fd00:ec2::254", "metadata"),
    ("fd00:ec2::254%1", "metadata"),  # a zone id must not hide it
    ("ff02::1", "reserved"),
    ("2001:db8::1", "reserved"),
    ("3fff::1", "reserved"),
    ("100::1", "reserved"),  # discard-only
    ("4000::1", "reserved"),  # outside global unicast
    ("64:ff9b:0:0:1::", "reserved"),  # near, not in, the NAT64 /96
    # Known answers written out by hand, not built by wrapped_forms()
    ("::ffff:7f00:1", "loopback"),
    ("64:ff9b::a9fe:a9fe", "metadata"),
    ("2002:a9fe:a9fe::", "metadata"),
    ("2002:0a00:0001::1", "private"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"),  # RFC 4380: client 192.0.2.45
    ("::ffff:100.64.0.1", "private"),
    ("64:ff9b::6440:1", "private"),  # 100.64.0.1 behind NAT64
    # Local-use NAT64 deployed at /48: 169.254.169.254 in bits 48-63 and 72-87
    ("64:ff9b:1:a9fe:a9:fe00::", "metadata"),
    ("64:ff9b:1::808:808", "public"),
]


@pytest.mark.parametrize(("address", "expected"), TABLE + WRAPPED_CASES)
def test_classify(address, expected):
    assert classify(address) == expected


def test_table_is_large_and_covers_every_category():
    cases = TABLE + [tuple(p.values) for p in WRAPPED_CASES]
    assert len(cases) >= 40
    assert {expected for _, expected in cases} == {
        "public",
        "private",
        "loopback",
        "link_local",
        "metadata",
        "reserved",
    }


def test_classify_accepts_address_objects():
    assert classify(ipaddress.IPv6Address("::ffff:10.0.0.1")) == "private"
    assert classify(ipaddress.IPv4Address("169.254.169.254")) == "metadata"


def test_teredo_reading_matches_the_standard_library():
    address = ipaddress.IPv6Address(wrapped_forms("127.0.0.1")["teredo"])
    assert address.teredo == (
        ipaddress.IPv4Address("65.54.227.120"),
        ipaddress.IPv4Address("127.0.0.1"),
    )


@pytest.mark.parametrize(
    "address",
    [
        "::7f00:1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
    ],
)
def test_stdlib_flags_miss_wrapped_loopback_and_link_local(address):
    """Why we unwrap ourselves: ipaddress judges the IPv6 wrapper only."""
    ip = ipaddress.ip_address(address)
    assert not ip.is_loopback
    assert not ip.is_link_local
    assert classify(address) in {"loopback", "metadata"}


@pytest.mark.parametrize("address", ["::7f00:1", "64:ff9b::7f00:1", "2002:7f00:1::"])
def test_stdlib_calls_wrapped_loopback_global(address):
    assert ipaddress.ip_address(address).is_global


def test_stdlib_does_not_call_carrier_grade_nat_private():
    for address in ("100.64.0.1", "100.100.100.200"):
        assert not ipaddress.ip_address(address).is_private
    assert classify("100.64.0.1") == "private"


# --- Policy ------------------------------------------------------------------

EVERYTHING_ALLOWED = EgressPolicy(
    allow_private=True,
    allow_loopback=True,
    allowed_networks=(
        ipaddress.ip_network("0.0.0.0/0"),
        ipaddress.ip_network("::/0"),
        ipaddress.ip_network("169.254.0.0/16"),
    ),
)

POLICIES = {
    "default": EgressPolicy(),
    "loopback": EgressPolicy(allow_loopback=True),
    "private": EgressPolicy(allow_private=True),
    "net-127": EgressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),)),
    "net-10": EgressPolicy(allowed_networks=(ipaddress.ip_network("10.0.0.0/24"),)),
    "everything": EVERYTHING_ALLOWED,
}

# address -> the policies that allow it
MATRIX = {
    "8.8.8.8": set(POLICIES),
    "2606:4700:4700::1111": set(POLICIES),
    "127.0.0.1": {"loopback", "net-127", "everything"},
    "::ffff:127.0.0.1": {"loopback", "net-127", "everything"},
    "::1": {"loopback", "everything"},
    "10.0.0.1": {"private", "net-10", "everything"},
    "10.0.1.1": {"private", "everything"},
    "64:ff9b::a00:1": {"private", "net-10", "everything"},
    "fd12::1": {"private", "everything"},
    "169.254.169.254": set(),
    "::ffff:169.254.169.254": set(),
    "fd00:ec2::254": set(),
    "100.100.100.200": set(),
    "169.254.1.1": set(),
    "fe80::1": set(),
    "0.0.0.0": set(),  # noqa: S104 -- checked, never bound
    "240.0.0.1": set(),
    "224.0.0.1": set(),
    "::": set(),
}


@pytest.mark.parametrize("address", MATRIX)
@pytest.mark.parametrize("policy_name", POLICIES)
def test_policy_matrix(address, policy_name):
    policy = POLICIES[policy_name]
    if policy_name in MATRIX[address]:
        check_address(address, policy)
    else:
        with pytest.raises(EgressRefused):
            check_address(address, policy)


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("169.254.169.254", "169.254.169.254 is a cloud metadata address: always refused"),
        ("fe80::1", "fe80::1 is a link-local address: always refused"),
        ("240.0.0.1", "240.0.0.1 is a reserved or non-routable address: always refused"),
        (
            "127.0.0.1",
            "127.0.0.1 is a loopback address: refused unless an organization admin allow-lists it",
        ),
        (
            "10.0.0.1",
            "10.0.0.1 is a private address: refused unless an organization admin allow-lists it",
        ),
        (
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::a9fe:a9fe (embeds 169.254.169.254) is a cloud metadata address: "
            "always refused",
        ),
    ],
)
def test_refusal_message_names_the_address_and_why(address, message):
    with pytest.raises(EgressRefused) as refused:
        check_address(address, EgressPolicy())
    assert str(refused.value) == message
    assert isinstance(refused.value, ValueError)


def test_metadata_inside_an_allowed_network_is_still_refused():
    policy = EgressPolicy(allow_private=True, allowed_networks=("100.64.0.0/10", "fd00::/8"))
    check_address("100.64.0.1", policy)
    check_address("fd00::1", policy)
    for address in ("100.100.100.200", "fd00:ec2::254"):
        with pytest.raises(EgressRefused, match="cloud metadata"):
            check_address(address, policy)


def test_policy_parses_networks_strictly():
    assert EgressPolicy(allowed_networks=["10.0.0.0/8"]).allowed_networks == (
        ipaddress.ip_network("10.0.0.0/8"),
    )
    with pytest.raises(ValueError, match="host bits set"):
        EgressPolicy(allowed_networks=("10.0.0.1/8",))


def test_not_an_address_is_refused():
    with pytest.raises(EgressRefused, match="is not an IP address"):
        check_address("example.com", EgressPolicy())


# --- Resolution ----------------------------------------------------------------


def _info(ip: str, port: int):
    if ":" in ip:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))


class FakeDNS:
    """getaddrinfo stand-in: answers[i] is returned on the i-th call (the last one repeats)."""

    def __init__(self, *answers: list[str]):
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host, port, *args, **kwargs):
        self.calls.append((host, port))
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        return [_info(ip, port) for ip in answer]


@pytest.fixture
def numeric_only(monkeypatch):
    """Real getaddrinfo for IP literals, with DNS lookups made impossible."""

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "answer", [["8.8.8.8", "10.0.0.1"], ["10.0.0.1", "8.8.8.8"], ["2606:4700::1", "fd00::1"]]
)
def test_a_dns_answer_mixing_public_and_private_is_refused(monkeypatch, answer):
    monkeypatch.setattr(socket, "getaddrinfo", FakeDNS(answer))
    with pytest.raises(
        EgressRefused, match="^api.example.test resolves to a refused address: .* private address"
    ):
        resolve_and_check("api.example.test", 443, EgressPolicy())


def test_every_public_answer_is_returned_once(monkeypatch):
    dns = FakeDNS(["8.8.8.8", "2606:4700::1", "8.8.8.8"])
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    assert resolve_and_check("api.example.test", 443, EgressPolicy()) == [
        (socket.AF_INET, ("8.8.8.8", 443)),
        (socket.AF_INET6, ("2606:4700::1", 443, 0, 0)),
    ]
    assert dns.calls == [("api.example.test", 443)]


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f.1", "017700000001", "0177.0.0.1", "127.1", "0x7f000001"]
)
def test_numeric_forms_of_loopback_are_normalized_then_checked(numeric_only, host):
    with pytest.raises(EgressRefused, match="127.0.0.1 is a loopback address"):
        resolve_and_check(host, 80, EgressPolicy())
    assert resolve_and_check(host, 80, EgressPolicy(allow_loopback=True)) == [
        (socket.AF_INET, ("127.0.0.1", 80))
    ]


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("[::1]", "loopback"),
        ("[::ffff:169.254.169.254]", "cloud metadata"),
        ("[64:ff9b::7f00:1]", "loopback"),
        ("[fe80::1%lo]", "link-local"),
        ("0xa9fea9fe", "cloud metadata"),
    ],
)
def test_ip_literals_are_checked(numeric_only, host, reason):
    with pytest.raises(EgressRefused, match=reason):
        resolve_and_check(host, 80, EgressPolicy())


@pytest.mark.parametrize("port", [0, 65536, -1, True, "80"])
def test_invalid_ports_are_refused(port):
    with pytest.raises(EgressRefused, match="not a valid port"):
        resolve_and_check("127.0.0.1", port, EgressPolicy())


# --- Connecting ------------------------------------------------------------------


@pytest.fixture
def listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.3)
    yield server
    server.close()


def test_connect_checked_reaches_an_allowed_loopback_listener(monkeypatch, listener):
    port = listener.getsockname()[1]
    # Rebinding: a second lookup would answer the metadata address.
    dns = FakeDNS(["127.0.0.1"], ["169.254.169.254"])
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    sock = connect_checked("agent.example.test", port, EgressPolicy(allow_loopback=True), 1.0)
    try:
        accepted, peer = listener.accept()
        accepted.close()
        assert sock.getpeername() == ("127.0.0.1", port)
        assert peer == sock.getsockname()
        assert sock.gettimeout() == 1.0
    finally:
        sock.close()
    assert dns.calls == [("agent.example.test", port)]


class RecordingSocket:
    """A socket that connects nowhere: it records the address and reports a peer."""

    instances: list["RecordingSocket"] = []

    def __init__(self, family, type_, peer: str | None = None):
        self.family = family
        self.connected_to = None
        self.closed = False
        self.peer = peer
        RecordingSocket.instances.append(self)

    def settimeout(self, timeout):
        self.timeout = timeout

    def connect(self, sockaddr):
        self.connected_to = sockaddr

    def getpeername(self):
        return (self.peer or self.connected_to[0], self.connected_to[1])

    def close(self):
        self.closed = True


@pytest.fixture
def recording_sockets(monkeypatch):
    RecordingSocket.instances = []
    monkeypatch.setattr(netguard.socket, "socket", RecordingSocket)
    return RecordingSocket.instances


def test_rebinding_resolves_once_and_connects_to_the_checked_address(
    monkeypatch, recording_sockets
):
    dns = FakeDNS(["8.8.8.8"], ["127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    sock = connect_checked("rebind.example.test", 443, EgressPolicy(), 1.0)
    assert dns.calls == [("rebind.example.test", 443)]
    assert recording_sockets == [sock]
    assert sock.connected_to == ("8.8.8.8", 443)
    assert not sock.closed


def test_a_peer_other_than_the_checked_address_is_refused(monkeypatch, recording_sockets):
    monkeypatch.setattr(socket, "getaddrinfo", FakeDNS(["8.8.8.8"]))
    monkeypatch.setattr(
        netguard.socket, "socket", lambda family, type_: RecordingSocket(family, type_, "127.0.0.1")
    )
    with pytest.raises(EgressRefused, match="127.0.0.1 is a loopback address"):
        connect_checked("nat.example.test", 443, EgressPolicy(), 1.0)
    assert [s.closed for s in recording_sockets] == [True]


def test_a_peer_mismatch_is_refused_even_when_both_are_allowed(monkeypatch, recording_sockets):
    monkeypatch.setattr(socket, "getaddrinfo", FakeDNS(["8.8.8.8"]))
    monkeypatch.setattr(
        netguard.socket, "socket", lambda family, type_: RecordingSocket(family, type_, "1.1.1.1")
    )
    with pytest.raises(EgressRefused, match="connected to 1.1.1.1, expected 8.8.8.8"):
        connect_checked("nat.example.test", 443, EgressPolicy(), 1.0)
    assert [s.closed for s in recording_sockets] == [True]


def test_a_refused_loopback_connect_never_opens_a_connection(numeric_only, listener):
    port = listener.getsockname()[1]
    with pytest.raises(EgressRefused, match="127.0.0.1 is a loopback address"):
        connect_checked("127.0.0.1", port, EgressPolicy(), 1.0)
    with pytest.raises(TimeoutError):
        listener.accept()


def test_a_mixed_answer_never_opens_a_connection(monkeypatch, listener):
    port = listener.getsockname()[1]
    monkeypatch.setattr(socket, "getaddrinfo", FakeDNS(["127.0.0.1", "10.0.0.1"]))
    with pytest.raises(EgressRefused, match="10.0.0.1 is a private address"):
        connect_checked("mixed.example.test", port, EgressPolicy(allow_loopback=True), 1.0)
    with pytest.raises(TimeoutError):
        listener.accept()


def test_connect_falls_through_to_the_next_checked_address(monkeypatch, listener):
    port = listener.getsockname()[1]
    # Nothing listens on ::1 at this port (or IPv6 is off): the IPv4 answer is used.
    monkeypatch.setattr(socket, "getaddrinfo", FakeDNS(["::1", "127.0.0.1"]))
    sock = connect_checked("dual.example.test", port, EgressPolicy(allow_loopback=True), 1.0)
    try:
        assert sock.getpeername() == ("127.0.0.1", port)
        listener.accept()[0].close()
    finally:
        sock.close()
