"""identity.py: who a visitor is, from a login, the TCP peer and (behind trusted proxies) X-Forwarded-For."""

from __future__ import annotations

import pytest

from ray_studio.web.identity import (
    DEFAULT_TRUSTED_PROXIES,
    Proxies,
    Visitor,
    address_visitor,
    identify,
    parse_address,
    parse_networks,
)

ALICE = Visitor("ip:203.0.113.9", "203.0.113.9")
BOB = Visitor("ip:198.51.100.7", "198.51.100.7")


def trusting_every_peer(hops: int) -> Proxies:
    return Proxies(hops, parse_networks("any"))


# --------------------------------------------------------------------------- proxies and the address


def test_with_no_proxy_hops_the_peer_is_the_visitor_whatever_the_header_says():
    assert identify("203.0.113.9", "198.51.100.1", 0) == ALICE
    assert identify("203.0.113.9", ["198.51.100.1", "192.0.2.4"], 0) == ALICE


def test_with_one_proxy_hop_the_rightmost_forwarded_entry_is_the_visitor():
    # The left part is whatever the visitor sent; the proxy appended the address it saw.
    assert identify("10.0.0.1", "198.51.100.66, 203.0.113.9", 1) == ALICE


def test_with_two_proxy_hops_the_second_entry_from_the_right_is_the_visitor():
    assert identify("10.0.0.1", "198.51.100.66, 203.0.113.9, 10.0.0.2", 2) == ALICE


def test_several_forwarded_header_lines_are_read_as_one_chain():
    assert identify("10.0.0.1", ["198.51.100.66", "203.0.113.9 ,10.0.0.2"], 2) == ALICE


@pytest.mark.parametrize("forwarded", [None, "", [], "203.0.113.50"])
def test_a_chain_shorter_than_the_proxy_hops_falls_back_to_the_peer(forwarded):
    assert identify("198.51.100.7", forwarded, trusting_every_peer(2)) == BOB


@pytest.mark.parametrize(
    "garbage", ["evil", "x1", "203.0.113.9x", "", "999.1.1.1", "::ffff:zz", "١٢٣.١.١.١", "unknown", "2001:db8::/64"]
)
def test_garbage_where_the_address_should_be_cannot_mint_identities(garbage):
    assert identify("198.51.100.7", f"203.0.113.1, {garbage}", trusting_every_peer(1)) == BOB


@pytest.mark.parametrize(
    "written", ["203.0.113.9:51234", " 203.0.113.9 ", "::ffff:203.0.113.9", "[::ffff:203.0.113.9]:443"]
)
def test_a_proxy_may_write_the_address_with_a_port_brackets_or_mapped(written):
    assert identify("10.0.0.1", written, 1).id == "ip:203.0.113.9"


def test_an_ipv4_mapped_ipv6_peer_is_the_ipv4_visitor():
    assert identify("::ffff:203.0.113.9", None, 0) == ALICE


def test_ipv6_addresses_in_one_64_block_are_one_visitor():
    first = identify("2001:db8:aa:bb::1", None, 0)
    second = identify("2001:db8:aa:bb:ffff:ffff:ffff:fffe", None, 0)
    assert first.id == second.id == "ip:2001:db8:aa:bb::/64"
    assert first.label == "2001:db8:aa:bb::1"


def test_ipv6_addresses_in_different_64_blocks_are_different_visitors():
    assert identify("2001:db8:aa:bb::1", None, 0).id != identify("2001:db8:aa:bc::1", None, 0).id


@pytest.mark.parametrize("peer", [None, "", "testclient", "unix:/run/app.sock"])
def test_a_missing_or_unreadable_peer_is_one_shared_unknown_visitor(peer):
    assert identify(peer, None, 0).id == "ip:unknown"


def test_a_hugging_face_login_beats_a_username_and_the_address():
    assert identify("203.0.113.9", None, 0, username="bob", hf_username="alice") == Visitor("hf:alice", "alice")


def test_a_ray_auth_username_beats_the_address():
    assert identify("203.0.113.9", "198.51.100.1", 1, username="bob") == Visitor("user:bob", "bob")


def test_blank_login_names_are_ignored():
    assert identify("203.0.113.9", None, 0, username="  ", hf_username="") == ALICE


# --------------------------------------------------------------------------- trusted proxies


def test_behind_a_proxy_a_peer_that_reaches_the_app_around_it_is_itself_whatever_its_header_says():
    assert identify("198.51.100.7", "203.0.113.9", 1) == BOB
    assert identify("198.51.100.7", "203.0.113.9", Proxies(1, parse_networks("10.16.0.0/12"))) == BOB


@pytest.mark.parametrize("proxy", ["10.16.3.80", "172.20.0.5", "192.168.1.2", "127.0.0.1", "::1", "fd12::7"])
def test_by_default_a_proxy_on_a_private_address_or_loopback_names_the_visitor(proxy):
    assert identify(proxy, "198.51.100.66, 203.0.113.9", 1) == ALICE


def test_an_ipv4_mapped_proxy_address_is_trusted_as_its_ipv4_address():
    assert identify("::ffff:10.0.0.1", "203.0.113.9", 1) == ALICE


def test_only_the_proxies_named_may_name_the_visitor():
    proxies = Proxies(1, parse_networks("198.51.100.0/24, 2001:db8:ffff::1"))
    assert identify("198.51.100.7", "203.0.113.9", proxies) == ALICE
    assert identify("2001:db8:ffff::1", "203.0.113.9", proxies) == ALICE
    assert identify("10.0.0.1", "203.0.113.9", proxies).id == "ip:10.0.0.1"


def test_a_peer_without_an_address_is_trusted_by_no_rule():
    assert identify("unix:/run/proxy.sock", "203.0.113.9", trusting_every_peer(1)).id == "ip:unknown"


def test_any_trusts_every_peer():
    assert identify("198.51.100.7", "203.0.113.9", trusting_every_peer(1)) == ALICE
    assert identify("2001:db8::1", "203.0.113.9", trusting_every_peer(1)) == ALICE


@pytest.mark.parametrize("text", ["", " , ", "10.0.0.0/8,", "10.0.0.0/33", "proxy.local", "10", "١٠.0.0.0/8", "all"])
def test_trusted_proxies_that_are_not_addresses_or_blocks_are_refused(text):
    with pytest.raises(ValueError):
        parse_networks(text)


def test_the_default_trusted_proxies_are_the_private_ranges_and_loopback():
    assert [str(n) for n in parse_networks(DEFAULT_TRUSTED_PROXIES)] == [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "::1/128",
        "fc00::/7",
    ]


# --------------------------------------------------------------------------- IPv6 customers


def test_the_64s_of_one_56_are_different_visitors_in_one_network():
    visitors = [identify(f"2001:db8:aa:{n:02x}::1", None, 0) for n in range(6)]
    assert len({v.id for v in visitors}) == 6
    assert {v.network for v in visitors} == {"net:2001:db8:aa::/56"}


def test_different_56s_are_different_networks():
    assert identify("2001:db8:aa:ff::1", None, 0).network != identify("2001:db8:aa:100::1", None, 0).network


@pytest.mark.parametrize("address", ["2002:c000:204::1", "2002:c000:204:1::1", "2002:c000:204:ffff:1:2:3:4"])
def test_a_6to4_address_is_the_ipv4_address_it_carries(address):
    visitor = identify(address, None, 0)
    assert visitor.id == "ip:192.0.2.4"
    assert visitor.network is None


def test_six_6to4_addresses_of_one_ipv4_address_are_one_visitor():
    addresses = [f"2002:c000:204:{n}::1" for n in range(6)]
    assert {identify(a, None, 0).id for a in addresses} == {"ip:192.0.2.4"}


def test_a_teredo_address_is_the_clients_public_ipv4_address():
    # RFC 4380's example: server 65.54.227.120, client 192.0.2.45 behind its NAT at port 40000.
    assert identify("2001:0:4136:e378:8000:63bf:3fff:fdd2", None, 0).id == "ip:192.0.2.45"
    assert identify("2001:0:4136:e378:8000:1234:3fff:fdd2", None, 0).id == "ip:192.0.2.45"


def test_a_6to4_address_from_a_proxy_is_the_ipv4_address_too():
    assert identify("10.0.0.1", "2002:cb00:7109::1", 1).id == "ip:203.0.113.9"


def test_ipv4_visitors_and_logins_have_no_wider_network():
    assert identify("203.0.113.9", None, 0).network is None
    assert identify("2001:db8::1", None, 0, username="bob").network is None
    assert identify("2001:db8::1", None, 0, hf_username="alice").network is None


def test_the_visitor_label_is_the_address_seen():
    assert address_visitor(parse_address("2002:c000:204::1")).label == "2002:c000:204::1"
