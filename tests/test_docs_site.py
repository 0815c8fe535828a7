"""The documentation site's link rewriting (docs/_site/hooks.py) and its navigation. The whole
build runs in `make docs` (strict), which `make test` runs before the suite."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("mkdocs")
from mkdocs.exceptions import PluginError  # noqa: E402

spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "_site" / "hooks.py")
hooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hooks)


def test_a_link_leaving_docs_points_at_the_sites_copy():
    md = "see [the record](../benchmarks/harness.py#L1) and [a page](algorithms.md)\n"
    out = hooks._rewrite(md, "benchmarks.md")
    assert "(repo/benchmarks/harness.py#L1)" in out and "(algorithms.md)" in out


def test_readme_links_to_docs_become_page_links():
    out = hooks._rewrite("[the contract](docs/contract.md) [results](docs/results/)\n", "index.md")
    assert "(contract.md)" in out and "(results/README.md)" in out


def test_a_link_to_a_missing_file_fails_the_build():
    with pytest.raises(PluginError, match="missing file: ../nope.json"):
        hooks._rewrite("[gone](../nope.json)\n", "benchmarks.md")


def test_links_inside_code_are_left_alone():
    md = "```\n[x](../nope.json)\n```\n`inline` text\n"
    assert hooks._rewrite(md, "benchmarks.md") == md


def test_every_top_level_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert [p for p in pages if f": {p}" not in nav] == []
