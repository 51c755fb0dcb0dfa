//! Directory listings for `--all`: the Apache-style index pages the DESI
//! server serves, and S3 ListObjectsV2 XML (parsed minimally: only the
//! elements a listing needs).

/// Numeric subdirectory names linked from an Apache-style index page
/// (`<a href="26065/">`), sorted and without duplicates. Parent links,
/// sort links and files are ignored.
pub(crate) fn index_subdirs(html: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut rest = lower.as_str();
    let mut offset = 0;
    while let Some(i) = rest.find("href=") {
        let start = offset + i + 5;
        let tail = &html[start..];
        let (quote, body) = match tail.chars().next() {
            Some(q @ ('"' | '\'')) => (q, &tail[1..]),
            _ => (' ', tail),
        };
        let end = body.find([quote, '>']).unwrap_or(body.len());
        let href = &body[..end];
        if let Some(name) = href.strip_suffix('/') {
            let name = name.strip_prefix("./").unwrap_or(name);
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(n) = name.parse::<u32>() {
                    out.push(n);
                }
            }
        }
        offset = start;
        rest = &lower[offset..];
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// What one ListObjectsV2 page says.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct S3Page {
    /// `CommonPrefixes/Prefix` values (the "subdirectories").
    pub common_prefixes: Vec<String>,
    /// `Contents/Key` values.
    pub keys: Vec<String>,
    /// `NextContinuationToken` when `IsTruncated` is true.
    pub next_token: Option<String>,
}

/// Text of each `<tag>...</tag>` element in `xml`, in order.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        match after.find(&close) {
            Some(j) => {
                out.push(&after[..j]);
                rest = &after[j + close.len()..];
            }
            None => break,
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Parses one ListObjectsV2 response.
pub(crate) fn parse_s3_list(xml: &str) -> S3Page {
    let common_prefixes = elements(xml, "CommonPrefixes")
        .into_iter()
        .flat_map(|b| elements(b, "Prefix"))
        .map(unescape)
        .collect();
    let keys = elements(xml, "Contents")
        .into_iter()
        .flat_map(|b| elements(b, "Key"))
        .map(unescape)
        .collect();
    let truncated = elements(xml, "IsTruncated")
        .first()
        .is_some_and(|v| v.trim() == "true");
    let next_token = if truncated {
        elements(xml, "NextContinuationToken")
            .first()
            .map(|t| unescape(t))
    } else {
        None
    };
    S3Page {
        common_prefixes,
        keys,
        next_token,
    }
}

/// The numeric last component of `prefix/NNN/` common prefixes.
pub(crate) fn numeric_children(prefixes: &[String]) -> Vec<u32> {
    let mut out: Vec<u32> = prefixes
        .iter()
        .filter_map(|p| p.trim_end_matches('/').rsplit('/').next())
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|n| n.parse().ok())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_index_yields_numeric_directories_only() {
        let html = r#"<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html><head><title>Index of /public/dr1/spectro/redux/iron/healpix/main/dark/260</title></head>
<body><h1>Index of /public/dr1/spectro/redux/iron/healpix/main/dark/260</h1>
<table><tr><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th></tr>
<tr><td><a href="/public/dr1/spectro/redux/iron/healpix/main/dark/">Parent Directory</a></td></tr>
<tr><td><a href="26066/">26066/</a></td><td align="right">2024-03-01 12:00  </td></tr>
<tr><td><A HREF="26065/">26065/</A></td></tr>
<tr><td><a href='26099/'>26099/</a></td></tr>
<tr><td><a href="readme.txt">readme.txt</a></td></tr>
<tr><td><a href="26065/">26065/</a></td></tr>
</table></body></html>"#;
        assert_eq!(index_subdirs(html), vec![26065, 26066, 26099]);
        assert!(index_subdirs("").is_empty());
        assert!(index_subdirs("<a href=\"12").is_empty());
    }

    /// A ListObjectsV2 response as S3 returns it (delimiter `/`).
    const LIST_PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>desiproto</Name><Prefix>dr1/spectro/redux/iron/healpix/main/dark/</Prefix><NextContinuationToken>1x7Yq+AbC&amp;d==</NextContinuationToken><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><Contents><Key>dr1/spectro/redux/iron/healpix/main/dark/README&amp;notes.txt</Key><LastModified>2025-03-18T20:40:47.000Z</LastModified><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>1234</Size><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>dr1/spectro/redux/iron/healpix/main/dark/0/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>dr1/spectro/redux/iron/healpix/main/dark/100/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>dr1/spectro/redux/iron/healpix/main/dark/260/</Prefix></CommonPrefixes></ListBucketResult>"#;

    #[test]
    fn s3_list_page_is_parsed() {
        let page = parse_s3_list(LIST_PAGE);
        assert_eq!(
            page.keys,
            vec!["dr1/spectro/redux/iron/healpix/main/dark/README&notes.txt"]
        );
        assert_eq!(page.common_prefixes.len(), 3);
        assert_eq!(page.next_token.as_deref(), Some("1x7Yq+AbC&d=="));
        assert_eq!(numeric_children(&page.common_prefixes), vec![0, 100, 260]);
        let last = LIST_PAGE.replace(
            "<IsTruncated>true</IsTruncated>",
            "<IsTruncated>false</IsTruncated>",
        );
        assert_eq!(parse_s3_list(&last).next_token, None);
    }
}
