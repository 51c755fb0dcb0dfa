//! The guide's reference pages (docs/reference) are the code's: regenerated
//! here, they must be byte for byte the committed ones; every command's
//! `--help` must be on its page; every configuration key serde accepts and
//! every environment variable the code reads must be documented; every
//! README link into the guide must be one step from its table of contents.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The binary with no ASTROLAB_* variable at all (they would show in `--help`).
fn clean_bin() -> Command {
    let mut c = common::bin();
    for (k, _) in std::env::vars() {
        if k.starts_with("ASTROLAB_") {
            c.env_remove(k);
        }
    }
    c
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn md_files(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(md_files(&p));
        } else if p.extension().is_some_and(|x| x == "md") {
            out.insert(p);
        }
    }
    out
}

#[test]
fn reference_pages_are_what_the_code_generates() {
    let tmp = tempfile::tempdir().unwrap();
    let out = clean_bin()
        .args(["docs-reference", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docs-reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = repo().join("docs/reference");
    let generated = md_files(tmp.path());
    let mut stale = Vec::new();
    for g in &generated {
        let rel = g.strip_prefix(tmp.path()).unwrap();
        let c = committed.join(rel);
        if !c.exists() || read(&c) != read(g) {
            stale.push(rel.display().to_string());
        }
    }
    // A committed command page whose command is gone.
    for c in md_files(&committed.join("commands")) {
        let rel = c.strip_prefix(&committed).unwrap();
        if !tmp.path().join(rel).exists() {
            stale.push(format!("{} (no such command now)", rel.display()));
        }
    }
    assert!(
        stale.is_empty(),
        "docs/reference differs from the code in {stale:?}: run `astrolab docs-reference --out docs/reference` \
         (with no ASTROLAB_* variable set) and commit"
    );
    // Each generated command page is in the table of contents.
    let summary = read(&repo().join("docs/SUMMARY.md"));
    for g in &generated {
        let rel = g.strip_prefix(tmp.path()).unwrap().display().to_string();
        assert!(
            summary.contains(&format!("(reference/{rel})")),
            "docs/SUMMARY.md does not list reference/{rel}"
        );
    }
}

/// `astrolab PATH --help`.
fn help(path: &[String]) -> String {
    let out = clean_bin().args(path).arg("--help").output().unwrap();
    assert!(out.status.success(), "astrolab {path:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands a help text lists under "Commands:".
fn listed_subcommands(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line == "Commands:" {
            inside = true;
            continue;
        }
        if inside {
            if line.trim().is_empty() || !line.starts_with("  ") {
                break;
            }
            // "  name   about" (continuation lines are indented further).
            if line.starts_with("  ") && !line.starts_with("   ") {
                let name = line.split_whitespace().next().unwrap().to_string();
                if name != "help" {
                    out.push(name);
                }
            }
        }
    }
    out
}

#[test]
fn every_commands_help_is_on_its_reference_page() {
    let reference = repo().join("docs/reference");
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut checked = 0;
    while let Some(path) = todo.pop() {
        let text = help(&path);
        for sub in listed_subcommands(&text) {
            let mut p = path.clone();
            p.push(sub);
            todo.push(p);
        }
        let page = match path.first() {
            None => reference.join("commands.md"),
            Some(top) => reference.join(format!("commands/{top}.md")),
        };
        let fenced = format!("```text\n{}\n```\n", text.trim_end());
        assert!(
            read(&page).contains(&fenced),
            "{} does not hold `astrolab {} --help` as printed now: regenerate the reference",
            page.display(),
            path.join(" ")
        );
        checked += 1;
    }
    // And no page documents a command `--help` does not list: the pages'
    // `# astrolab ...` headings, plus the root on commands.md.
    let mut documented = 1;
    for page in md_files(&reference.join("commands")) {
        documented += read(&page)
            .lines()
            .filter(|l| l.trim_start_matches('#').starts_with(" astrolab ") && l.starts_with('#'))
            .count();
    }
    assert_eq!(
        checked, documented,
        "the program lists {checked} commands, the reference documents {documented}"
    );
    assert!(checked > 50, "only {checked} commands found");
    eprintln!("{checked} commands' --help found on their pages");
}

/// The keys serde accepts in one table, from its "unknown field" error.
fn accepted_keys(table: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let toml = if table.is_empty() {
        "zz_not_a_key = 1\n".to_string()
    } else {
        format!("[{table}]\nzz_not_a_key = 1\n")
    };
    std::fs::write(dir.path().join("astrolab.toml"), toml).unwrap();
    let out = clean_bin()
        .current_dir(dir.path())
        .args(["db", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an unknown key must be refused");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let list = err
        .split("expected one of ")
        .nth(1)
        .unwrap_or_else(|| panic!("no list of keys in: {err}"));
    let list = list.lines().next().unwrap();
    list.split(", ")
        .map(|k| k.trim().trim_matches('`').to_string())
        .collect()
}

#[test]
fn every_configuration_key_and_variable_is_documented() {
    let page = read(&repo().join("docs/reference/configuration.md"));
    let sections: Vec<&str> = page.split("\n## ").collect();
    for (table, heading) in [
        ("", "Top level"),
        ("server", "`[server]`"),
        ("backup", "`[backup]`"),
        ("publish", "`[publish]`"),
    ] {
        let section = sections
            .iter()
            .find(|s| s.starts_with(heading))
            .unwrap_or_else(|| panic!("configuration.md has no section {heading}"));
        let keys = accepted_keys(table);
        assert!(!keys.is_empty());
        for k in keys {
            let nested = ["server", "backup", "publish"].contains(&k.as_str()) && table.is_empty();
            assert!(
                nested || section.contains(&format!("| `{k}` |")),
                "configuration.md, {heading}: key {k} is accepted but not documented"
            );
        }
    }
    // Every ASTROLAB_* variable the code reads.
    let reads = regex_lite_reads(&repo().join("crates"));
    assert!(reads.len() > 15, "found only {reads:?}");
    for v in reads {
        assert!(
            page.contains(&format!("| `{v}` |")),
            "configuration.md does not document {v}, which the code reads"
        );
    }
}

/// ASTROLAB_* names the non-test code reads: `var("..")`, `var_os("..")`,
/// `option_env!("..")`, clap's `env = ".."`, `_ENV: &str = ".."`,
/// `try_from_env("..")`.
fn regex_lite_reads(crates: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let patterns = [
        "var(\"",
        "var_os(\"",
        "option_env!(\"",
        "env = \"",
        "_ENV: &str = \"",
        "try_from_env(\"",
    ];
    let mut stack = vec![crates.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                if name != "tests" && name != "target" {
                    stack.push(p);
                }
            } else if name.ends_with(".rs") && name != "testing.rs" {
                let text = read(&p);
                for pat in patterns {
                    for (i, _) in text.match_indices(pat) {
                        let rest = &text[i + pat.len()..];
                        if let Some(end) = rest.find('"') {
                            let v = &rest[..end];
                            if v.starts_with("ASTROLAB_") && !v.starts_with("ASTROLAB_TEST_") {
                                out.insert(v.to_string());
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_readme_link_into_the_guide_is_in_its_table_of_contents() {
    let readme = read(&repo().join("README.md"));
    let summary = read(&repo().join("docs/SUMMARY.md"));
    let mut n = 0;
    for (i, _) in readme.match_indices("](docs/") {
        let rest = &readme[i + 2..];
        let end = rest.find(')').unwrap();
        let target = rest[..end].split('#').next().unwrap();
        if !target.ends_with(".md") {
            continue; // a figure
        }
        let page = target.trim_start_matches("docs/");
        assert!(
            summary.contains(&format!("({page})")),
            "README links {target}, which docs/SUMMARY.md does not list"
        );
        n += 1;
    }
    assert!(n >= 15, "the README links only {n} pages of the guide");
}
