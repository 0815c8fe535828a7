"""MkDocs hooks for the documentation site (``make docs``; mkdocs.yml names this file).

The Markdown files are written to be read on a repository host as well as on the site, so their
links point where the files lie in the repository: ``docs/x.md`` from the README, and
``../benchmarks/records/...`` from a page under ``docs/`` to the raw records beside the code.
Two rewrites make the same files one site:

- the README becomes the home page (``index.md``), its ``docs/...`` links rewritten to the pages;
- a link that leaves ``docs/`` (a raw record, a benchmark script, an example) is checked to exist
  and its target is copied into the site under ``repo/``, the same path as in the repository
  (a directory link gets a generated page listing its files). A link to a missing file fails the
  build, like any broken link under ``strict``.
"""
from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REPO = "repo"  # where the targets outside docs/ lie in the site

# [text](target) and ![alt](target), not inside code; the target may carry a #fragment
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")
FENCE = re.compile(r"^(```|~~~)")


def _source(page_uri: str) -> Path:
    """Where the page's Markdown lies in the repository (the home page is the README)."""
    return ROOT / "README.md" if page_uri == "index.md" else DOCS / page_uri


def _outside(target: Path) -> str | None:
    """The repository path of a target outside docs/, None for one inside."""
    try:
        target.relative_to(DOCS)
        return None
    except ValueError:
        return target.relative_to(ROOT).as_posix()


def _index_of(d: Path) -> Path | None:
    """A directory's own page: README.md or index.md in it (None: the site gets a listing)."""
    return next((d / n for n in ("index.md", "README.md") if (d / n).is_file()), None)


def _site_path(resolved: Path) -> str:
    """Where a repository file or directory lies in the site."""
    rel = _outside(resolved)
    base = resolved.relative_to(DOCS).as_posix() if rel is None else f"{REPO}/{rel}"
    if resolved.is_dir():
        own = _index_of(resolved)
        return f"{base}/{own.name if own else 'index.md'}"
    return base


def _rewrite(markdown: str, page_uri: str) -> str:
    src_dir = _source(page_uri).parent
    page_dir = posixpath.dirname(page_uri)
    out, in_fence = [], False
    for line in markdown.splitlines(keepends=True):
        if FENCE.match(line.lstrip()):
            in_fence = not in_fence
        if in_fence:
            out.append(line)
            continue

        def fix(m: re.Match) -> str:
            target = m.group(2)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
                return m.group(0)  # a URL, an anchor or a site-absolute path
            path, _, frag = target.partition("#")
            resolved = (src_dir / path).resolve()
            if not resolved.exists():
                raise PluginError(f"{_source(page_uri).relative_to(ROOT)}: link to a missing file: {target}")
            site_path = _site_path(resolved)
            new = posixpath.relpath(site_path, page_dir or ".")
            return f"{m.group(1)}{new}{'#' + frag if frag else ''}{m.group(3)}"

        out.append(LINK.sub(fix, line))
    return "".join(out)


def _listing(d: Path) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in d.iterdir() if not p.name.startswith("."))
    lines = [f"# {d.relative_to(ROOT).as_posix()}/", "", "The files of this directory of the repository:", ""]
    lines += [f"- [{n}]({n})" for n in names if not n.endswith("/")]
    lines += [f"- {n} (a directory)" for n in names if n.endswith("/")]
    return "\n".join(lines) + "\n"


def _scan(text: str, src_dir: Path) -> set[Path]:
    """What a page links to that the site must add: every file or directory outside docs/, and
    every directory without a page of its own (found before the build, so the files can be added
    to the site's file list)."""
    found, in_fence = set(), False
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            in_fence = not in_fence
        if in_fence:
            continue
        for m in LINK.finditer(line):
            target = m.group(2).partition("#")[0]
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
                continue
            resolved = (src_dir / target).resolve()
            if resolved.exists() and (_outside(resolved) is not None or
                                      (resolved.is_dir() and _index_of(resolved) is None)):
                found.add(resolved)
    return found


def on_files(files: Files, config) -> Files:
    readme = (ROOT / "README.md").read_text()
    files.append(File.generated(config, "index.md", content=readme))
    wanted = _scan(readme, ROOT)
    for f in list(files.documentation_pages()):
        if f.src_uri != "index.md" and f.abs_src_path:
            wanted |= _scan(Path(f.abs_src_path).read_text(), Path(f.abs_src_path).parent)
    have = {f.src_uri for f in files}
    for path in sorted(wanted):
        if path.is_dir():
            uri = _site_path(path)
            if uri not in have:
                files.append(File.generated(config, uri, content=_listing(path)))
                have.add(uri)
            targets = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")]
        else:
            targets = [path]
        for p in targets:
            uri = _site_path(p)
            if uri not in have:
                files.append(File.generated(config, uri, abs_src_path=str(p)))
                have.add(uri)
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri.startswith(REPO + "/"):
        return markdown
    return _rewrite(markdown, page.file.src_uri)
