//! A small HTTP/1.1 server on 127.0.0.1 for the fetch tests: serves a
//! directory tree (files with `Range`, Apache-style index pages for
//! directories, ListObjectsV2 XML for `?list-type=2`), with per-path faults
//! injected in order, and a log of the requests it saw.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// What the server does instead of serving a path normally (one per
/// request, in order; then it serves normally).
#[derive(Debug, Clone)]
pub enum Fault {
    /// Send the headers for the whole answer, then only this many body
    /// bytes, then close the connection.
    Cut { after_bytes: usize },
    /// Answer with this status (and `Retry-After` seconds when given).
    Status {
        code: u16,
        retry_after_s: Option<u32>,
    },
    /// Serve the file with one byte changed.
    Corrupt,
}

/// One request the server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Path without the query.
    pub path: String,
    pub query: Option<String>,
    /// Start of `Range: bytes=N-`.
    pub range_from: Option<u64>,
}

pub struct Server {
    pub base: String,
    pub root: PathBuf,
    faults: Arc<Mutex<HashMap<String, VecDeque<Fault>>>>,
    log: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Serves `root` on a free loopback port.
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let faults = Arc::new(Mutex::new(HashMap::new()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, l, s, r) = (
            faults.clone(),
            log.clone(),
            stop.clone(),
            root.to_path_buf(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (f, l, r) = (f.clone(), l.clone(), r.clone());
                std::thread::spawn(move || {
                    let _ = handle(conn, &r, &f, &l);
                });
            }
        });
        Server {
            base,
            root: root.to_path_buf(),
            faults,
            log,
            stop,
        }
    }

    /// Queues faults for a URL path (e.g. `/dr1/spectro/...fits`).
    pub fn inject(&self, path: &str, faults: impl IntoIterator<Item = Fault>) {
        self.faults
            .lock()
            .unwrap()
            .entry(path.to_string())
            .or_default()
            .extend(faults);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// Requests whose path ends with `suffix`.
    pub fn requests_for(&self, suffix: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with(suffix))
            .collect()
    }

    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.base.trim_start_matches("http://"));
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(
    conn: &mut TcpStream,
    code: u16,
    extra: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()
}

fn handle(
    mut conn: TcpStream,
    root: &Path,
    faults: &Mutex<HashMap<String, VecDeque<Fault>>>,
    log: &Mutex<Vec<Request>>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range_from = None;
    for _ in 0..100 {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("range") {
                range_from = v
                    .trim()
                    .strip_prefix("bytes=")
                    .and_then(|r| r.strip_suffix('-'))
                    .and_then(|n| n.parse::<u64>().ok());
            }
        }
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.clone(), None),
    };
    log.lock().unwrap().push(Request {
        path: path.clone(),
        query: query.clone(),
        range_from,
    });
    let fault = faults
        .lock()
        .unwrap()
        .get_mut(&path)
        .and_then(|q| q.pop_front());
    if let Some(Fault::Status {
        code,
        retry_after_s,
    }) = &fault
    {
        let extra: Vec<(&str, String)> = retry_after_s
            .map(|s| vec![("Retry-After", s.to_string())])
            .unwrap_or_default();
        return respond(&mut conn, *code, &extra, b"");
    }
    let local = root.join(percent_decode(path.trim_start_matches('/')));
    if let Some(q) = query.filter(|q| q.contains("list-type=2")) {
        return respond(&mut conn, 200, &[], s3_list(&local, &q).as_bytes());
    }
    if path.ends_with('/') && local.is_dir() {
        return respond(&mut conn, 200, &[], index_page(&path, &local).as_bytes());
    }
    let Ok(mut body) = fs::read(&local) else {
        return respond(&mut conn, 404, &[], b"not found");
    };
    if let Some(Fault::Corrupt) = fault {
        let mid = body.len() / 2;
        body[mid] ^= 0xff;
    }
    let total = body.len() as u64;
    let (code, extra, slice) = match range_from {
        Some(from) if from >= total => {
            return respond(
                &mut conn,
                416,
                &[("Content-Range", format!("bytes */{total}"))],
                b"",
            )
        }
        Some(from) => (
            206,
            vec![(
                "Content-Range",
                format!("bytes {from}-{}/{total}", total - 1),
            )],
            &body[from as usize..],
        ),
        None => (200, Vec::new(), &body[..]),
    };
    if let Some(Fault::Cut { after_bytes }) = fault {
        let mut head = format!(
            "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n",
            slice.len()
        );
        for (k, v) in &extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        conn.write_all(head.as_bytes())?;
        conn.write_all(&slice[..after_bytes.min(slice.len())])?;
        conn.flush()?;
        return conn.shutdown(std::net::Shutdown::Both);
    }
    respond(&mut conn, code, &extra, slice)
}

/// An index page in the style of Apache's mod_autoindex.
fn index_page(url_path: &str, dir: &Path) -> String {
    let mut names: Vec<(String, bool)> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path().is_dir(),
            )
        })
        .collect();
    names.sort();
    let mut html = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html><head><title>Index of {url_path}</title></head><body>\n<h1>Index of {url_path}</h1><table>\n<tr><th><a href=\"?C=N;O=D\">Name</a></th><th><a href=\"?C=M;O=A\">Last modified</a></th></tr>\n<tr><td><a href=\"../\">Parent Directory</a></td></tr>\n"
    );
    for (n, is_dir) in names {
        let slash = if is_dir { "/" } else { "" };
        html.push_str(&format!(
            "<tr><td><a href=\"{n}{slash}\">{n}{slash}</a></td><td align=\"right\">2025-03-18 20:40  </td></tr>\n"
        ));
    }
    html.push_str("</table></body></html>\n");
    html
}

/// Entries per ListObjectsV2 page: tiny, so continuation tokens are used.
const S3_PAGE: usize = 1;

/// ListObjectsV2 (delimiter `/`) over the tree: `bucket_dir` is
/// `root/BUCKET`.
fn s3_list(bucket_dir: &Path, query: &str) -> String {
    let params: HashMap<String, String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    let prefix = params.get("prefix").cloned().unwrap_or_default();
    let dir = bucket_dir.join(prefix.trim_end_matches('/'));
    let mut entries: Vec<(String, bool)> = fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.path().is_dir(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    let start: usize = params
        .get("continuation-token")
        .and_then(|t| t.strip_prefix("page+"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let page: Vec<_> = entries.iter().skip(start).take(S3_PAGE).collect();
    let truncated = start + S3_PAGE < entries.len();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>{prefix}</Prefix><MaxKeys>{S3_PAGE}</MaxKeys><Delimiter>/</Delimiter><IsTruncated>{truncated}</IsTruncated>"
    );
    if truncated {
        xml.push_str(&format!(
            "<NextContinuationToken>page+{}</NextContinuationToken>",
            start + S3_PAGE
        ));
    }
    for (n, is_dir) in page {
        if *is_dir {
            xml.push_str(&format!(
                "<CommonPrefixes><Prefix>{prefix}{n}/</Prefix></CommonPrefixes>"
            ));
        } else {
            xml.push_str(&format!(
                "<Contents><Key>{prefix}{n}</Key><Size>1</Size></Contents>"
            ));
        }
    }
    xml.push_str("</ListBucketResult>");
    xml
}

/// Deterministic file contents.
pub fn content(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(12345);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x & 0xff) as u8
        })
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Size of each coadd in the test tree (redrock files are a quarter).
pub const COADD_BYTES: usize = 300_000;

/// Writes a DESI-like healpix tree under `release_root` (the mirror root):
/// coadd and redrock files and the published `.sha256sum` for each pixel.
/// Returns release-relative path -> bytes.
pub fn desi_tree(
    release_root: &Path,
    survey: &str,
    program: &str,
    pixels: &[u32],
) -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    for &pix in pixels {
        let dir_rel = format!(
            "spectro/redux/iron/healpix/{survey}/{program}/{}/{pix}",
            pix / 100
        );
        let dir = release_root.join(&dir_rel);
        fs::create_dir_all(&dir).unwrap();
        let mut sums = String::new();
        for (i, (kind, len)) in [("coadd", COADD_BYTES), ("redrock", COADD_BYTES / 4)]
            .into_iter()
            .enumerate()
        {
            let name = format!("{kind}-{survey}-{program}-{pix}.fits");
            let bytes = content(pix * 2 + i as u32, len);
            fs::write(dir.join(&name), &bytes).unwrap();
            sums.push_str(&format!("{}  {name}\n", sha256_hex(&bytes)));
            files.insert(format!("{dir_rel}/{name}"), bytes);
        }
        fs::write(
            dir.join(format!("{survey}-{program}-{pix}.sha256sum")),
            sums,
        )
        .unwrap();
    }
    files
}
