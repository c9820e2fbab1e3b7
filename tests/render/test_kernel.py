"""The report kernel an audit shares between its notebooks (render/kernel.py).

Found by `make bench` (report cost 1.16x of one empty notebook, target 1.0x): the session never
kept the client it meant to share, so each notebook opened one of its own and each reset opened
another, every one waiting ~0.2 s for the kernel (jupyter_client's `wait_for_ready` returns once
IOPub has been quiet for 0.2 s). cProfile of one default audit: 1.73 s in `KernelSession.claim`,
0.83 s in nbclient's `setup_kernel`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workbench.render.kernel import KernelSession
from workbench.render.notebooks import ensure_kernel

pytestmark = pytest.mark.slow


def _printed(client: Any, code: str) -> str:
    out: list[str] = []

    def collect(message: dict[str, Any]) -> None:
        if message["header"]["msg_type"] == "stream":
            out.append(message["content"]["text"])

    client.execute_interactive(code, timeout=60, output_hook=collect)
    return "".join(out)


def test_the_notebooks_of_one_session_share_one_client_and_none_of_their_variables(tmp_path: Path) -> None:
    with KernelSession(ensure_kernel(), cwd=tmp_path, env={}) as session:
        manager, first = session.claim()
        assert first is not None  # before the fix: None, so nbclient opened a client per notebook
        assert _printed(first, "left_by_the_first = 1\nprint('left_by_the_first' in dir())") == "True\n"

        again, second = session.claim()

        assert (again, second) == (manager, first)
        assert _printed(second, "print('left_by_the_first' in dir())") == "False\n"
        assert first.channels_running
    assert not first.channels_running  # closed with the session
