//! `astrolab serve` as a user runs it: accounts and tokens made with the
//! CLI, readiness, revocation from another process taking effect on the
//! next request, and a graceful shutdown that finishes the request in
//! flight.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::{bin, start_server, text};

fn astrolab(home: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = bin();
    c.env("ASTROLAB_HOME", home).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    common::http(addr, method, path, token, "text/csv", body)
}

fn start(home: &Path) -> (common::Server, String) {
    let mut c = bin();
    c.env("ASTROLAB_HOME", home)
        .args(["serve", "--bind", "127.0.0.1:0", "--insecure-cookies"]);
    start_server(c)
}

#[test]
fn accounts_tokens_readiness_revocation_and_graceful_shutdown() {
    let Some(data) = astrolab_formats::testdata::require_shared_data("serve") else {
        return;
    };
    let redrock = data.join("desi/redrock-4-80613-thru20210324.fits");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let o = astrolab(&home, &["ingest", redrock.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", text(&o));

    // No default password: without one, `user add` refuses.
    let o = astrolab(
        &home,
        &["user", "add", "ada", "--admin"],
        &[("ASTROLAB_NEW_PASSWORD", "short")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = astrolab(
        &home,
        &["user", "add", "ada", "--admin"],
        &[("ASTROLAB_NEW_PASSWORD", "a long enough password")],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = astrolab(
        &home,
        &["token", "create", "--user", "ada", "--role", "viewer"],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let token = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    assert!(token.starts_with("alab_"), "{token}");

    let (mut server, addr) = start(&home);
    assert_eq!(http(&addr, "GET", "/readyz", None, b"").0, 200);
    assert_eq!(http(&addr, "GET", "/api/v1/me", None, b"").0, 401);
    let (s, me) = http(&addr, "GET", "/api/v1/me", Some(&token), b"");
    assert_eq!(s, 200, "{me}");
    assert!(
        me.contains("\"viewer\""),
        "a token's role caps the admin's: {me}"
    );

    // Revoked by another process (the CLI): refused on the very next request.
    let o = astrolab(&home, &["token", "revoke", &token[5..13]], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(http(&addr, "GET", "/api/v1/me", Some(&token), b"").0, 401);

    // The audit trail has the CLI's and the server's events as JSON lines.
    let audit = std::fs::read_to_string(home.join("audit/audit.jsonl")).unwrap();
    for action in [
        "\"user.add\"",
        "\"token.create\"",
        "\"token.revoke\"",
        "\"token.use\"",
    ] {
        assert!(audit.contains(action), "{action} missing from {audit}");
    }

    // Graceful shutdown: a long crossmatch is in flight when SIGTERM comes;
    // it still completes, then the server exits cleanly.
    let o = astrolab(&home, &["token", "create", "--user", "ada"], &[]);
    let admin = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    let mut csv = String::from("ra,dec\n");
    for i in 0..10_000 {
        csv.push_str(&format!(
            "{},{}\n",
            (i as f64 * 0.036) % 360.0,
            -20.0 + (i as f64 * 0.0053) % 80.0
        ));
    }
    // The request is provably in flight: its head and half its body are
    // sent before SIGTERM, the rest only after.
    let (half_sent, sent) = std::sync::mpsc::channel();
    let (term_sent, go_on) = std::sync::mpsc::channel::<()>();
    let slow = {
        let (addr, admin) = (addr.clone(), admin.clone());
        std::thread::spawn(move || {
            let body = csv.into_bytes();
            let mut s = TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
            let head = format!(
                "POST /api/v1/xmatch?radius_arcsec=60 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {admin}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&body[..body.len() / 2]).unwrap();
            half_sent.send(()).unwrap();
            go_on.recv().unwrap();
            std::thread::sleep(Duration::from_millis(500));
            s.write_all(&body[body.len() / 2..]).unwrap();
            let mut out = Vec::new();
            s.read_to_end(&mut out).unwrap();
            let text = String::from_utf8_lossy(&out).into_owned();
            let status: u16 = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
            (status, text)
        })
    };
    sent.recv().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = server.0.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    term_sent.send(()).unwrap();
    let (status, body) = slow.join().unwrap();
    assert_eq!(status, 200, "in-flight request finished: {body}");
    assert!(body.contains("\"positions\":10000"), "{body}");
    let exit = server.0.wait().unwrap();
    assert!(exit.success(), "server exit after SIGTERM: {exit:?}");
}
