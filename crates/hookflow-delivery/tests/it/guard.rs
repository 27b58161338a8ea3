//! The private-address guard, alone and through the client.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use expect_test::{expect, Expect};
use hookflow_delivery::{ErrorKind, Guard, Request};

use crate::utils::{check, client, strict_client, Peer};

/// Checks every address of `ips` (one per line) with `guard`.
fn check_ips(guard: &Guard, ips: &str, expect: Expect) {
    let mut out = String::new();
    for ip in ips.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let ip: IpAddr = ip.parse().unwrap();
        match guard.check(ip) {
            Ok(()) => out += &format!("{ip}: allowed\n"),
            Err(refused) => out += &format!("{refused}\n"),
        }
    }
    expect.assert_eq(&out);
}

#[test]
fn every_special_category_is_refused_with_its_reason() {
    check_ips(
        &Guard::default(),
        "
        0.0.0.0
        0.1.2.3
        127.0.0.1
        127.255.0.9
        10.0.0.1
        172.16.0.1
        172.31.255.255
        192.168.1.1
        100.64.0.1
        100.127.255.254
        169.254.169.254
        192.0.0.8
        192.0.2.1
        198.51.100.7
        203.0.113.9
        198.18.0.1
        224.0.0.251
        239.255.255.250
        240.0.0.1
        255.255.255.255
        ::
        ::1
        fe80::1
        febf::1
        fec0::1
        fc00::1
        fd12:3456::1
        ff02::1
        2001:db8::1
        3fff::1
        2001:2::1
        100::1
        ",
        expect![[r#"
            refused to connect to 0.0.0.0: an unspecified address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 0.1.2.3: a "this network" address (0.0.0.0/8) (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 127.0.0.1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 127.255.0.9: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 10.0.0.1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 172.16.0.1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 172.31.255.255: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 192.168.1.1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 100.64.0.1: a shared (carrier-grade NAT) address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 100.127.255.254: a shared (carrier-grade NAT) address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 169.254.169.254: a link-local address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 192.0.0.8: a reserved address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 192.0.2.1: a documentation address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 198.51.100.7: a documentation address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 203.0.113.9: a documentation address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 198.18.0.1: a benchmarking address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 224.0.0.251: a multicast address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 239.255.255.250: a multicast address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 240.0.0.1: a reserved address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 255.255.255.255: a broadcast address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to ::: an unspecified address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to ::1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to fe80::1: a link-local address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to febf::1: a link-local address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to fec0::1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to fc00::1: a unique-local address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to fd12:3456::1: a unique-local address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to ff02::1: a multicast address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 2001:db8::1: a documentation address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 3fff::1: a documentation address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 2001:2::1: a benchmarking address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 100::1: a reserved address (allow it with HOOKFLOW_ALLOW_NETWORKS)
        "#]],
    );
}

#[test]
fn ipv6_forms_of_ipv4_addresses_take_the_category_of_the_ipv4_address() {
    check_ips(
        &Guard::default(),
        "
        ::ffff:127.0.0.1
        ::ffff:10.0.0.1
        ::ffff:169.254.169.254
        ::ffff:0.0.0.0
        ::ffff:8.8.8.8
        ::127.0.0.1
        ::192.168.0.1
        64:ff9b::10.1.2.3
        64:ff9b::8.8.4.4
        2002:a9fe:a9fe::1
        2002:0808:0808::1
        ",
        expect![[r#"
            refused to connect to ::ffff:127.0.0.1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to ::ffff:10.0.0.1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to ::ffff:169.254.169.254: a link-local address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to ::ffff:0.0.0.0: an unspecified address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            ::ffff:8.8.8.8: allowed
            refused to connect to ::7f00:1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to ::c0a8:1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 64:ff9b::a01:203: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            64:ff9b::808:404: allowed
            refused to connect to 2002:a9fe:a9fe::1: a link-local address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            2002:808:808::1: allowed
        "#]],
    );
}

#[test]
fn public_addresses_pass() {
    check_ips(
        &Guard::default(),
        "
        8.8.8.8
        1.1.1.1
        93.184.215.14
        172.32.0.1
        100.128.0.1
        192.169.0.1
        2606:4700:4700::1111
        2a00:1450:4001::200e
        ",
        expect![[r#"
            8.8.8.8: allowed
            1.1.1.1: allowed
            93.184.215.14: allowed
            172.32.0.1: allowed
            100.128.0.1: allowed
            192.169.0.1: allowed
            2606:4700:4700::1111: allowed
            2a00:1450:4001::200e: allowed
        "#]],
    );
}

#[test]
fn allowed_networks_let_their_addresses_through() {
    let guard = Guard::parse(" 127.0.0.1/32, 10.0.0.0/8 ,fd00::/8, 192.168.1.7 ,").unwrap();
    expect![[r#"[127.0.0.1/32, 10.0.0.0/8, fd00::/8, 192.168.1.7/32]"#]].assert_eq(&format!("{:?}", guard.allowed()));
    check_ips(
        &guard,
        "
        127.0.0.1
        127.0.0.2
        10.200.3.4
        192.168.1.7
        192.168.1.8
        fd00::5
        fc00::5
        ::ffff:127.0.0.1
        ::ffff:10.9.9.9
        ::1
        169.254.169.254
        ",
        expect![[r#"
            127.0.0.1: allowed
            refused to connect to 127.0.0.2: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            10.200.3.4: allowed
            192.168.1.7: allowed
            refused to connect to 192.168.1.8: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            fd00::5: allowed
            refused to connect to fc00::5: a unique-local address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            ::ffff:127.0.0.1: allowed
            ::ffff:10.9.9.9: allowed
            refused to connect to ::1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 169.254.169.254: a link-local address (allow it with HOOKFLOW_ALLOW_NETWORKS)
        "#]],
    );
    // Host bits are cleared; a bare IPv6 address is a /128.
    let guard = Guard::parse("10.1.2.3/8,::1").unwrap();
    expect![[r#"[10.0.0.0/8, ::1/128]"#]].assert_eq(&format!("{:?}", guard.allowed()));
}

#[test]
fn an_empty_list_allows_nothing() {
    for list in ["", " ", " , ,"] {
        let guard = Guard::parse(list).unwrap();
        assert!(guard.allowed().is_empty());
        assert_eq!(guard, Guard::default());
    }
}

#[test]
fn parse_errors_name_the_bad_entry() {
    let mut out = String::new();
    for list in [
        "127.0.0.1/33",
        "10.0.0.0/8, localhost",
        "10.0.0.0/8;192.168.0.0/16",
        "1.2.3",
        "::1/129",
    ] {
        out += &format!("{list:?}: {}\n", Guard::parse(list).unwrap_err());
    }
    expect![[r#"
        "127.0.0.1/33": `127.0.0.1/33` is not an IP network: write networks like `10.0.0.0/8` or single addresses like `127.0.0.1`, separated by commas
        "10.0.0.0/8, localhost": `localhost` is not an IP network: write networks like `10.0.0.0/8` or single addresses like `127.0.0.1`, separated by commas
        "10.0.0.0/8;192.168.0.0/16": `10.0.0.0/8;192.168.0.0/16` is not an IP network: write networks like `10.0.0.0/8` or single addresses like `127.0.0.1`, separated by commas
        "1.2.3": `1.2.3` is not an IP network: write networks like `10.0.0.0/8` or single addresses like `127.0.0.1`, separated by commas
        "::1/129": `::1/129` is not an IP network: write networks like `10.0.0.0/8` or single addresses like `127.0.0.1`, separated by commas
    "#]]
    .assert_eq(&out);
}

/// Loopback URLs in every spelling, with a peer listening: refused, and the
/// peer sees nothing.
#[tokio::test]
async fn loopback_urls_are_refused_before_connecting() {
    let mut peer = Peer::start().await;
    let client = strict_client();
    let port = peer.port();
    for (url, expect) in [
        (
            format!("http://127.0.0.1:{port}/echo"),
            expect![[r#"
            => Refused: refused to connect to 127.0.0.1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
        "#]],
        ),
        (
            format!("http://localhost:{port}/echo"),
            expect![[r#"
            => Refused: refused to connect to localhost (127.0.0.1): a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
        "#]],
        ),
        (
            format!("http://[::1]:{port}/echo"),
            expect![[r#"
            => Refused: refused to connect to ::1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
        "#]],
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/echo"),
            expect![[r#"
            => Refused: refused to connect to ::ffff:127.0.0.1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
        "#]],
        ),
        // 2130706433 is 127.0.0.1 written as one number; URL parsing makes it an IPv4 address.
        (
            format!("http://2130706433:{port}/echo"),
            expect![[r#"
            => Refused: refused to connect to 127.0.0.1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
        "#]],
        ),
        (
            format!("http://0x7f.1:{port}/echo"),
            expect![[r#"
            => Refused: refused to connect to 127.0.0.1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
        "#]],
        ),
    ] {
        let mut req = Request::get(url);
        req.follow_redirects = true;
        check(&client, req, &mut [&mut peer], expect).await;
    }
}

/// Addresses nobody here listens on: the answer is a refusal, at once, never
/// a connection error or a timeout, so no packet left for them.
#[tokio::test]
async fn private_and_metadata_addresses_are_refused_before_any_packet() {
    let client = strict_client();
    for url in [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "https://192.168.0.1:8443/",
        "http://[fd00::1]/",
    ] {
        let mut req = Request::get(url);
        req.timeout = Duration::from_secs(30);
        let started = Instant::now();
        let err = client.send(req).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Refused, "{url}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{url} took {:?}",
            started.elapsed()
        );
    }
}

/// The tests' guard allows 127.0.0.1 only: an allowed peer that redirects to
/// a refused address gets the request refused at that hop.
#[tokio::test]
async fn a_redirect_to_a_refused_address_is_refused() {
    let mut peer = Peer::start().await;
    let client = client();
    let port = peer.port();
    for (target, expect) in [
        (
            "http://10.0.0.1/admin".to_owned(),
            expect![[r#"
                peer1 got GET /status/302?location=http://10.0.0.1/admin
                  accept: */*
                  user-agent: hookflow-test/1
                  host: 127.0.0.1:PORT1
                => Refused: refused to connect to 10.0.0.1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            "#]],
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            expect![[r#"
                peer1 got GET /status/302?location=http://169.254.169.254/latest/meta-data/
                  accept: */*
                  user-agent: hookflow-test/1
                  host: 127.0.0.1:PORT1
                => Refused: refused to connect to 169.254.169.254: a link-local address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            "#]],
        ),
        (
            format!("http://[::1]:{port}/echo"),
            expect![[r#"
                peer1 got GET /status/307?location=http://[::1]:PORT1/echo
                  accept: */*
                  user-agent: hookflow-test/1
                  host: 127.0.0.1:PORT1
                => Refused: refused to connect to ::1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            "#]],
        ),
    ] {
        let code = if target.contains("[::1]") { 307 } else { 302 };
        let mut req = Request::get(peer.url(&format!("/status/{code}?location={target}")));
        req.follow_redirects = true;
        check(&client, req, &mut [&mut peer], expect).await;
    }
}

/// A host name whose addresses are all refused is refused by the resolver:
/// `localhost` with a guard that allows 127.0.0.1 resolves to an allowed
/// address, so the request goes through.
#[tokio::test]
async fn host_names_are_checked_after_resolution() {
    let mut peer = Peer::start().await;
    let req = Request::get(format!("http://localhost:{}/echo", peer.port()));
    check(
        &client(),
        req,
        &mut [&mut peer],
        expect![[r#"
            peer1 got GET /echo
              accept: */*
              user-agent: hookflow-test/1
              host: localhost:PORT1
            => 200 OK from http://localhost:PORT1/echo
              content-type: text/plain; charset=utf-8
              content-length: 2
              body: ok
        "#]],
    )
    .await;
}

#[test]
fn siit_and_local_use_nat64_addresses_are_refused() {
    check_ips(
        &Guard::default(),
        "
        ::ffff:0:127.0.0.1
        ::ffff:0:10.0.0.1
        ::ffff:0:169.254.169.254
        ::ffff:0:8.8.8.8
        64:ff9b:1::127.0.0.1
        64:ff9b:1::8.8.8.8
        64:ff9b:1:ffff::1
        64:ff9b:2::8.8.8.8
        ",
        expect![[r#"
            refused to connect to ::ffff:0:7f00:1: a loopback address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to ::ffff:0:a00:1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to ::ffff:0:a9fe:a9fe: a link-local address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            ::ffff:0:808:808: allowed
            refused to connect to 64:ff9b:1::7f00:1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 64:ff9b:1::808:808: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            refused to connect to 64:ff9b:1:ffff::1: a private address (allow it with HOOKFLOW_ALLOW_NETWORKS)
            64:ff9b:2::808:808: allowed
        "#]],
    );
    // The operator can allow them as any other network: by the IPv4 address inside, or the prefix.
    let guard = Guard::parse("127.0.0.1/32, 64:ff9b:1::/48").unwrap();
    check_ips(
        &guard,
        "
        ::ffff:0:127.0.0.1
        64:ff9b:1::10.0.0.1
        ",
        expect![[r#"
            ::ffff:0:7f00:1: allowed
            64:ff9b:1::a00:1: allowed
        "#]],
    );
}
