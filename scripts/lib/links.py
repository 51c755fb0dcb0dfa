#!/usr/bin/env python3
"""Link checker for the built guide and the README (docs/writing.md, rule 3).

Usage: links.py BOOK_DIR README.md...

- Every page of the built book (BOOK_DIR/**/*.html, but print.html, which
  mdBook assembles from the others, and 404.html, a web server's page): each relative href and src must name a
  file of the built book, and a #fragment an id of that file.
- Each Markdown file given (the README): each relative link or image must
  name a file or directory of the repository, and a #fragment on a Markdown
  file a heading of it (GitHub's anchors).
- Absolute links must be https:// (or http:// to a named public host) or
  mailto:; links to localhost or to `../shared` are refused: a reader who
  has only the repository cannot follow them.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

ATTR = re.compile(r"""\b(href|src)\s*=\s*("([^"]*)"|'([^']*)')""", re.I)
ID = re.compile(r"""\b(?:id|name)\s*=\s*("([^"]*)"|'([^']*)')""", re.I)
MD_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def external_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme == "mailto":
        return None
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not a public URL"
    host = (parts.hostname or "").lower()
    if host in ("localhost", "127.0.0.1", "0.0.0.0", "::1") or host.endswith(".local"):
        return "a local address is not a public URL"
    if "." not in host:
        return f"{host!r} is not a public host name"
    return None


def external(where: str, url: str, errors: list[str]) -> bool:
    """True for an absolute URL (checked here: it must be public)."""
    if not urlsplit(url).scheme:
        return False
    problem = external_problem(url)
    if problem:
        errors.append(f"{where}: {url}: {problem}")
    return True


def ids_of(path: Path, cache: dict[Path, set[str]]) -> set[str]:
    if path not in cache:
        text = path.read_text(encoding="utf-8", errors="replace")
        cache[path] = {html.unescape(m.group(2) or m.group(3) or "") for m in ID.finditer(text)}
    return cache[path]


def check_book(book: Path) -> list[str]:
    errors: list[str] = []
    cache: dict[Path, set[str]] = {}
    # print.html is assembled from the other pages; 404.html is for a web
    # server (its links are absolute to the site's root).
    pages = sorted(p for p in book.rglob("*.html") if p.name not in ("print.html", "404.html"))
    if not pages:
        return [f"{book}: no HTML pages (was the book built?)"]
    for page in pages:
        text = page.read_text(encoding="utf-8", errors="replace")
        # Links inside code are text, not links.
        text = re.sub(r"<code[^>]*>.*?</code>", "", text, flags=re.S)
        for m in ATTR.finditer(text):
            url = html.unescape(m.group(3) if m.group(3) is not None else m.group(4))
            if not url or url.startswith(("javascript:", "data:")):
                continue
            parts = urlsplit(url)
            if external(f"{page.relative_to(book)}", url, errors):
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                errors.append(f"{page.relative_to(book)}: broken link {url} (no {target})")
                continue
            if parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in ids_of(target, cache):
                    errors.append(f"{page.relative_to(book)}: broken anchor {url}")
    return errors


def github_slug(heading: str) -> str:
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def md_anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m and not fenced:
            slug = github_slug(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            anchors.add(slug if n == 0 else f"{slug}-{n}")
        for a in re.findall(r"""<a\s+(?:id|name)=["']([^"']+)""", line):
            anchors.add(a)
    return anchors


def check_markdown(md: Path, repo: Path) -> list[str]:
    errors: list[str] = []
    fenced = False
    for n, line in enumerate(md.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        for m in MD_LINK.finditer(line):
            url = m.group(1)
            parts = urlsplit(url)
            where = f"{md.relative_to(repo)}:{n}"
            if external(where, url, errors):
                continue
            target = md if not parts.path else (md.parent / unquote(parts.path)).resolve()
            try:
                target.relative_to(repo)
            except ValueError:
                errors.append(f"{where}: {url} leads outside the repository")
                continue
            if not target.exists():
                errors.append(f"{where}: broken link {url}")
            elif parts.fragment and target.suffix == ".md" and parts.fragment not in md_anchors(target):
                errors.append(f"{where}: broken anchor {url}")
    return errors


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    book = Path(sys.argv[1]).resolve()
    repo = Path(__file__).resolve().parents[2]
    errors = check_book(book)
    for md in sys.argv[2:]:
        errors += check_markdown(Path(md).resolve(), repo)
    for e in errors:
        print(f"links: {e}", file=sys.stderr)
    n_pages = sum(1 for p in book.rglob("*.html") if p.name not in ("print.html", "404.html"))
    print(f"links: {n_pages} book pages and {len(sys.argv) - 2} Markdown files checked: "
          f"{len(errors)} broken", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
