//! Helpers shared by the binary's integration tests.
// Each test file uses the helpers it needs.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The astrolab binary, with none of the developer's settings.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_astrolab"));
    for k in [
        "ASTROLAB_HOME",
        "ASTROLAB_DATABASE_URL",
        "ASTROLAB_CONFIG",
        "ASTROLAB_LOG_FORMAT",
        "ASTROLAB_RAY_ADDRESS",
    ] {
        c.env_remove(k);
    }
    c
}

/// Runs `astrolab ARGS` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run astrolab")
}

/// The redrock files of a demo directory (`redrock-*.fits`), sorted: what
/// the anomaly tests ingest of a benchmark set (its other catalogs share
/// the demo sky's file names).
pub fn redrock_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("redrock-")
        })
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    files
}

/// Stdout then stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A raw HTTP/1.1 request over a fresh connection (the tests need no
/// client library): returns the status and the body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    ctype: &str,
    body: &[u8],
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the server");
    s.set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A running `astrolab serve`, killed on every exit path.
pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` (an `astrolab serve --bind 127.0.0.1:0 ...` command) and
/// returns it with the address it printed once listening.
pub fn start_server(mut cmd: Command) -> (Server, String) {
    use std::io::BufRead;
    let mut child = cmd
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start astrolab serve");
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let server = Server(child);
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (server, addr)
}

/// Writes `<dir>/<name>.sigmf-{meta,data}` from a synthetic configuration,
/// encoded as `dt`, recorded at Onsala from 2026-11-22T20:00:00Z towards
/// RA 281.6, Dec -2.4 (l = 30, b = 0).
pub fn write_recording(
    dir: &Path,
    name: &str,
    synth: &astrolab_hline::synth::SynthConfig,
    dt: astrolab_formats::iq::IqDatatype,
) -> (std::path::PathBuf, astrolab_hline::synth::SynthTruth) {
    use astrolab_formats::sigmf::{write_sigmf_meta, Geolocation, Pointing, SigmfWriteMeta};
    let data = dir.join(format!("{name}.sigmf-data"));
    let mut bytes = Vec::new();
    let truth = astrolab_hline::synth::generate(synth, |x| {
        astrolab_formats::iq::encode_into(dt, x, &mut bytes);
        Ok::<_, ()>(())
    })
    .unwrap();
    std::fs::write(&data, &bytes).unwrap();
    let meta = dir.join(format!("{name}.sigmf-meta"));
    write_sigmf_meta(
        &meta,
        &SigmfWriteMeta {
            datatype: dt,
            sample_rate_hz: synth.sample_rate_hz,
            center_freq_hz: synth.center_freq_hz,
            start_unix_s: Some(1_795_377_600.0),
            geolocation: Some(Geolocation {
                lon_deg: 11.9177,
                lat_deg: 57.393,
                alt_m: 20.0,
            }),
            pointing: Some(Pointing::Equatorial {
                ra_deg: 281.6,
                dec_deg: -2.4,
            }),
            description: name.into(),
        },
        truth.n_samples,
    )
    .unwrap();
    (meta, truth)
}
