"""Every number of a generated block (README, docs/benchmarks.md, docs/results/) is what
`make results` writes from the committed raw records: a page that drifts from its records fails."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_generated_blocks_match_the_raw_records():
    pytest.importorskip("rliable")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pages.py"), "--check"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_check_fails_on_a_page_that_differs(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pages

    text = "a\n<!-- generated:x -->\nold\n<!-- /generated:x -->\nb\n"
    assert pages.render(text, "x", "new") == "a\n<!-- generated:x -->\nnew\n<!-- /generated:x -->\nb\n"
    assert pages.render(pages.render(text, "x", "new"), "x", "new") == pages.render(text, "x", "new")
    with pytest.raises(SystemExit):
        pages.render("no markers", "x", "new")
