#!/usr/bin/env python3
"""Runs the guide's tutorials (docs/tutorials/*.md) as a reader would paste them.

The conventions are those of docs/writing.md ("How a tutorial is run"):
```sh blocks run in one bash session per page, ```python blocks with the
Python that has the astrolab wheel, <!-- skip: REASON --> blocks are not
run, <!-- download --> blocks are checked against the test data's
provenance and their files linked in place, <!-- output --> blocks are the
previous block's expected output (every line, in order, as part of an output
line), and <!-- figure: PATH --> images must be byte for byte the file the
commands wrote at PATH.

Usage: tutorials.py [--bless] [--keep] [--only NAME] PAGE.md...

Environment: ASTROLAB_BIN (the astrolab binary), ASTROLAB_SHARED_DATA (the
test data and its PROVENANCE.tsv), ASTROLAB_TUTORIAL_PYTHON (a Python with
the astrolab wheel), ASTROLAB_TEST_DATABASE_URL (for pages asking for `pg`),
ASTROLAB_TEST_RAY_ADDRESS (for `ray`). A page asking for a service that is
not there fails (never a silent skip).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
SENTINEL = "@@astrolab-tutorial-block"


@dataclass
class Block:
    """One fenced code block of a page and what the line before it says."""

    lang: str
    body: str
    line: int  # 1-based line of the opening fence
    marker: str | None = None  # "skip: ...", "download", "output", ...


@dataclass
class Figure:
    produced: str  # path relative to the working directory
    image: Path  # the file the page shows
    line: int


@dataclass
class Page:
    path: Path
    blocks: list[Block] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    env: list[str] = field(default_factory=list)


MARKER = re.compile(r"^\s*<!--\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(`{3,})\s*([A-Za-z0-9_+-]*)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def parse(path: Path) -> Page:
    """Splits a page into code blocks with their markers, figures and services."""
    page = Page(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    pending: tuple[str, int] | None = None
    while i < len(lines):
        line = lines[i]
        m = MARKER.match(line)
        if m:
            text = m.group(1)
            if text.startswith("tutorial-env:"):
                page.env += text.split(":", 1)[1].split()
            elif text.startswith("figure:"):
                produced = text.split(":", 1)[1].strip()
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                im = IMAGE.search(nxt)
                if not im:
                    die(f"{path}:{i + 1}: <!-- figure: --> must be followed by an image line")
                page.figures.append(Figure(produced, (path.parent / im.group(1)).resolve(), i + 1))
            else:
                pending = (text, i + 1)
            i += 1
            continue
        f = FENCE.match(line)
        if f:
            indent, fence, lang = f.groups()
            body = []
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(fence):
                body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
                j += 1
            marker = pending[0] if pending and pending[1] == i else None
            page.blocks.append(Block(lang.lower(), "\n".join(body) + "\n", i + 1, marker))
            pending = None
            i = j + 1
            continue
        if line.strip():
            pending = None
        i += 1
    for b in page.blocks:
        if b.marker and not (
            b.marker.startswith("skip:") and b.marker[5:].strip()
            or b.marker in ("download", "output")
        ):
            die(f"{path}:{b.line}: unknown marker <!-- {b.marker} --> (see docs/writing.md)")
        if b.marker == "output" and b.lang not in ("text", ""):
            die(f"{path}:{b.line}: an <!-- output --> block must be ```text")
    return page


def die(msg: str) -> None:
    print(f"tutorials: {msg}", file=sys.stderr)
    sys.exit(2)


# --- downloads ---------------------------------------------------------------


def provenance(shared: Path) -> dict[str, Path]:
    """Public URLs of the test data's files (PROVENANCE.tsv), normalised."""
    urls: dict[str, Path] = {}
    with open(shared / "PROVENANCE.tsv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            src, commit, path = row["source"], row["commit"], row["path"]
            local = shared / row["file"]
            if src.startswith("github:"):
                repo = src[len("github:"):]
                for host in ("https://raw.githubusercontent.com", "https://media.githubusercontent.com/media"):
                    urls[f"{host}/{repo}/{commit}/{path}"] = local
                urls[f"https://github.com/{repo}/raw/{commit}/{path}"] = local
            elif src.startswith(("http://", "https://")):
                urls[norm_url(src)] = local
                if path:
                    urls[norm_url(src.rstrip("/") + "/" + path.lstrip("/"))] = local
    return urls


def norm_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def downloads(page: Page, block: Block, shared: Path, urls: dict[str, Path], data: Path) -> int:
    """Links the file of every `curl -fLo "$DATA/PATH" URL` line into $DATA."""
    n = 0
    for k, raw in enumerate(block.body.splitlines()):
        line = raw.split(" #", 1)[0].strip().rstrip("\\").strip()
        if not line or line.startswith("#") or line.startswith("mkdir "):
            continue
        words = shlex.split(line)
        if not words or words[0] != "curl":
            die(f"{page.path}:{block.line + 1 + k}: a download block holds only `curl -fLo \"$DATA/PATH\" URL` lines")
        target = url = None
        it = iter(range(1, len(words)))
        for w in it:
            if words[w] in ("-o", "-fLo", "-Lo", "-fsSLo", "--output"):
                target = words[w + 1]
                next(it, None)
            elif words[w].startswith("http"):
                url = words[w]
        if not target or not url or not target.startswith("$DATA/"):
            die(f"{page.path}:{block.line + 1 + k}: expected curl -fLo \"$DATA/PATH\" URL, got: {raw}")
        local = urls.get(norm_url(url))
        if local is None:
            die(
                f"{page.path}:{block.line + 1 + k}: {url} is not the public source of any file of "
                f"{shared}/PROVENANCE.tsv; a tutorial downloads only files the tests have"
            )
        if not local.exists():
            die(f"{page.path}:{block.line + 1 + k}: {local} (from {url}) is missing")
        dest = data / target[len("$DATA/"):]
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            dest.symlink_to(local)
        n += 1
    return n


# --- running ---------------------------------------------------------------


def script_for(page: Page, python: str | None) -> tuple[str, list[int]]:
    """One bash script: every run block, each after a sentinel line."""
    out = ["set -euo pipefail"]
    ran: list[int] = []
    for idx, b in enumerate(page.blocks):
        if b.marker is not None or b.lang in ("text", "", "toml", "json", "yaml", "console-output"):
            continue
        if b.lang in ("sh", "bash", "shell"):
            out.append(f"echo '{SENTINEL} {idx}'")
            out.append(b.body)
        elif b.lang == "python":
            if not python:
                die(f"{page.path}:{b.line}: a python block needs ASTROLAB_TUTORIAL_PYTHON")
            out.append(f"echo '{SENTINEL} {idx}'")
            delim = f"PYTHON_BLOCK_{idx}"
            out.append(f"{shlex.quote(python)} - <<'{delim}'\n{b.body}{delim}")
        else:
            continue
        ran.append(idx)
    out.append(f"echo '{SENTINEL} end'")
    return "\n".join(out) + "\n", ran


def check_output(page: Page, outputs: dict[int, str]) -> list[str]:
    """Each <!-- output --> block against the output of the block before it."""
    errors = []
    last_run: int | None = None
    for idx, b in enumerate(page.blocks):
        if idx in outputs:
            last_run = idx
            continue
        if b.marker != "output":
            continue
        if last_run is None:
            errors.append(f"{page.path}:{b.line}: <!-- output --> with no run block before it")
            continue
        got = [ln.rstrip() for ln in outputs[last_run].splitlines()]
        pos = 0
        for want in (ln.strip() for ln in b.body.splitlines()):
            if not want or want == "...":
                continue
            while pos < len(got) and want not in got[pos]:
                pos += 1
            if pos == len(got):
                errors.append(
                    f"{page.path}:{b.line}: expected output line not found (in order): {want!r}\n"
                    f"  the block at line {page.blocks[last_run].line} printed:\n"
                    + "\n".join("    | " + g for g in got[-40:])
                )
                break
            pos += 1
    return errors


def services(page: Page, env: dict[str, str], work: Path) -> list[str]:
    """Provides what the page asks for: a fresh database, a Ray cluster."""
    cleanup: list[str] = []
    for name in page.env:
        if name == "pg":
            base = os.environ.get("ASTROLAB_TEST_DATABASE_URL")
            if not base:
                die(f"{page.path}: needs PostgreSQL (ASTROLAB_TEST_DATABASE_URL)")
            db = f"astrolab_tutorial_{page.path.stem.replace('-', '_')}"
            parts = urlsplit(base)
            admin = urlunsplit(parts._replace(path="/postgres"))
            for sql in (f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", f"CREATE DATABASE {db}"):
                subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", admin, "-c", sql], check=True,
                               stdout=subprocess.DEVNULL)
            env["ASTROLAB_DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{db}"))
            cleanup.append(f"psql -qX {shlex.quote(admin)} -c 'DROP DATABASE IF EXISTS {db} WITH (FORCE)'")
        elif name == "ray":
            addr = os.environ.get("ASTROLAB_TEST_RAY_ADDRESS")
            if not addr:
                die(f"{page.path}: needs a Ray cluster (ASTROLAB_TEST_RAY_ADDRESS)")
            env["RAY_ADDRESS"] = addr
        else:
            die(f"{page.path}: unknown service {name!r} in <!-- tutorial-env -->")
    return cleanup


def run_page(page: Page, args, urls, shared: Path) -> list[str]:
    scratch = Path(tempfile.mkdtemp(prefix=f"tutorial-{page.path.stem}-"))
    os.chmod(scratch, 0o755)
    work, data = scratch / "work", scratch / "downloads"
    work.mkdir()
    data.mkdir()
    n_files = sum(
        downloads(page, b, shared, urls, data) for b in page.blocks if b.marker == "download"
    )
    binary = Path(os.environ["ASTROLAB_BIN"]).resolve()
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("ASTROLAB_") and k not in ("ASTROLAB_LOG",):
            env.pop(k)
    env.update(
        PATH=f"{binary.parent}:{env['PATH']}",
        DATA=str(data),
        ASTROLAB_SRC=str(ROOT),
        NO_COLOR="1",
        COLUMNS="100",
    )
    cleanup = services(page, env, work)
    script, ran = script_for(page, os.environ.get("ASTROLAB_TUTORIAL_PYTHON"))
    (scratch / "tutorial.sh").write_text(script)
    t0 = time.monotonic()
    proc = subprocess.run(
        ["bash", str(scratch / "tutorial.sh")], cwd=work, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    took = time.monotonic() - t0
    outputs: dict[int, str] = {}
    current = None
    for line in proc.stdout.splitlines(keepends=True):
        if line.startswith(SENTINEL):
            tag = line.split()[-1]
            current = None if tag == "end" else int(tag)
            if current is not None:
                outputs[current] = ""
            continue
        if current is not None:
            outputs[current] += line
    errors: list[str] = []
    if proc.returncode != 0:
        failed = max(outputs) if outputs else None
        where = f"the block at line {page.blocks[failed].line}" if failed is not None else "the page"
        tail = "\n".join("    | " + ln for ln in proc.stdout.splitlines()[-40:])
        errors.append(f"{page.path}: {where} failed (exit {proc.returncode}):\n{tail}")
    else:
        errors += check_output(page, outputs)
        for fig in page.figures:
            made = work / fig.produced
            if not made.exists():
                errors.append(f"{page.path}:{fig.line}: the commands did not write {fig.produced}")
            elif args.bless:
                fig.image.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(made, fig.image)
            elif not fig.image.exists() or fig.image.read_bytes() != made.read_bytes():
                errors.append(
                    f"{page.path}:{fig.line}: {fig.image.relative_to(ROOT)} is not the figure the run made "
                    f"({fig.produced}); run `scripts/book test --bless` and look at it"
                )
    for c in cleanup:
        subprocess.run(c, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if args.keep or errors:
        print(f"tutorials: {page.path.name}: kept {scratch}", file=sys.stderr)
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    state = "FAILED" if errors else "ok"
    print(
        f"tutorials: {page.path.relative_to(ROOT)}: {state}: {len(ran)} blocks run, "
        f"{sum(1 for b in page.blocks if b.marker == 'output')} outputs and {len(page.figures)} figures checked, "
        f"{n_files} downloads linked, {took:.0f} s",
        file=sys.stderr,
    )
    return errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pages", nargs="+", type=Path)
    ap.add_argument("--bless", action="store_true", help="copy the figures the runs made into the book")
    ap.add_argument("--keep", action="store_true", help="keep every scratch directory")
    ap.add_argument("--only", help="run only the page with this file stem")
    args = ap.parse_args()
    for var in ("ASTROLAB_BIN", "ASTROLAB_SHARED_DATA"):
        if not os.environ.get(var):
            die(f"{var} is not set")
    shared = Path(os.environ["ASTROLAB_SHARED_DATA"])
    urls = provenance(shared)
    pages = [parse(p.resolve()) for p in args.pages if not args.only or p.stem == args.only]
    if not pages:
        die("no tutorial pages to run")
    errors: list[str] = []
    for page in pages:
        errors += run_page(page, args, urls, shared)
    for e in errors:
        print(f"\n{e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
