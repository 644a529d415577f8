"""The ``wechatpayv3`` snippet in docs/sandbox.md, run as written against a real sandbox process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .sandbox_process import running_sandbox

DOC = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"


def _snippet() -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- snippet: wechatpayv3 .*?-->\n```python\n(.*?)```", text, re.DOTALL)
    assert match, "docs/sandbox.md lost its wechatpayv3 snippet"
    return match.group(1)


def test_docs_snippet_lists_and_replies(tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(_snippet(), encoding="utf-8")
    state_dir = tmp_path / "wxsandbox"
    state_dir.mkdir()
    with running_sandbox(state_dir, "--seed", "7", "--merchant", "1900000001:complaints=20") as (base, _):
        env = {**os.environ, "SANDBOX_URL": base, "SANDBOX_DIR": str(state_dir)}
        done = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, check=False
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["200 20 complaints", "reply: 204"]
