"""One warm kernel for all of an audit's notebooks.

Most of a report's cost is not its work: a kernel start (~1 s) and importing pandas, altair and the
workbench in it (~2.5 s), per notebook. An audit therefore starts one kernel while its probes run,
imports everything there once, and executes every report notebook in it, clearing the user
namespace between notebooks so none sees another's variables. The kernel is a separate process, so
warming it up never competes with the probes' timing in this one.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.core.errors import ReportError

# What every report notebook imports, and a first chart rendered (vl-convert compiles on first use).
WARM_UP = """\
from workbench.core.startup import skip_slow_optional_imports as _skip
_skip()
import workbench as _wb
from workbench.render import audit_view as _a, drift_view as _d, readiness_view as _r, trends_view as _t
from workbench.render.charts import static_svg as _svg
_svg({"data": {"values": [{"x": 1}]}, "mark": "point",
      "encoding": {"x": {"field": "x", "type": "quantitative"}}})
del _skip, _wb, _a, _d, _r, _t, _svg
"""
# Forget the previous notebook's variables, not its imports (`%reset -f` takes ~0.7 s: it also
# clears the output history and collects garbage).
RESET = """\
_hidden = get_ipython().user_ns_hidden
for _name in [n for n in list(get_ipython().user_ns) if not n.startswith("_") and n not in _hidden]:
    del get_ipython().user_ns[_name]
"""


_START_ATTEMPTS = 3


class KernelSession:
    """A kernel started in the background; `manager()` waits for it to be warm."""

    def __init__(
        self, kernel_name: str, *, cwd: Path, env: Mapping[str, str], timeout_s: float = 120
    ) -> None:
        self.kernel_name = kernel_name
        self.cwd = cwd
        self.env = dict(env)
        self.timeout_s = timeout_s
        self._manager: Any = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name="workbench-kernel", daemon=True)
        self._used = False
        self._client: Any = None  # shared by the notebooks: a fresh client waits ~0.2 s for the kernel

    def start(self) -> KernelSession:
        self._thread.start()
        return self

    def _start(self) -> None:
        """Start and warm the kernel; a kernel that dies at start is started again, twice at most.

        jupyter_client picks the kernel's five ports by binding port 0 and releasing it, so another
        process may take one before the kernel binds it. Seen in our CI, with audits running side
        by side: `zmq.error.ZMQError: Address already in use`, then "Kernel died before replying to
        kernel_info". That is our own start-up racing, never a report's fault: try fresh ports.
        """
        from jupyter_client.manager import KernelManager

        self._failure = None
        for attempt in range(_START_ATTEMPTS):
            manager = None
            try:
                manager = KernelManager(kernel_name=self.kernel_name)
                manager.start_kernel(
                    cwd=str(self.cwd),
                    env={**os.environ, **self.env},
                    extra_arguments=["--HistoryManager.hist_file=:memory:"],
                )
                self._manager = manager
                self._run(WARM_UP)
                return
            except RuntimeError as exc:  # "Kernel died before replying to kernel_info"
                self._manager = None
                if manager is not None and manager.has_kernel:
                    manager.shutdown_kernel(now=True)
                if "died" not in str(exc) or attempt + 1 == _START_ATTEMPTS:
                    self._failure = exc
                    return
            except BaseException as exc:
                self._failure = exc
                return

    def _run(self, code: str, client: Any = None) -> None:
        """Execute `code` in the kernel and wait for it; an error in it is a `ReportError`.

        On `client` when given (the notebooks' shared one), else on a client of its own, closed after.
        """
        own = client is None
        if own:
            client = self._open_client()
        try:
            reply = client.execute_interactive(
                code, silent=True, timeout=self.timeout_s, output_hook=lambda _: None
            )
            if reply["content"]["status"] != "ok":
                content = reply["content"]
                raise ReportError(
                    f"the report kernel failed to prepare: {content.get('ename')}: {content.get('evalue')}"
                )
        finally:
            if own:
                client.stop_channels()

    def _open_client(self) -> Any:
        """A client with its channels open, once the kernel answers on them (~0.2 s: jupyter_client
        waits until IOPub has been quiet that long)."""
        client = self._manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=self.timeout_s)
        except BaseException:
            client.stop_channels()
            raise
        client.allow_stdin = False  # as nbclient sets on a client it opens itself
        return client

    def claim(self) -> tuple[Any, Any]:
        """The warm kernel's manager and client, for the next notebook (namespace cleared after the first)."""
        manager = self.manager()
        return manager, self._client

    def manager(self) -> Any:
        """The warm kernel's manager, for the next notebook (its namespace cleared after the first)."""
        self._thread.join(self.timeout_s)
        if self._failure is not None:
            raise ReportError(f"could not start the report kernel {self.kernel_name!r}: {self._failure}")
        if self._manager is None or not self._manager.is_alive():  # a notebook killed it: a fresh one
            self._used = False
            self._close_client()
            self._start()
            if self._failure is not None:
                raise ReportError(
                    f"could not restart the report kernel {self.kernel_name!r}: {self._failure}"
                )
        if self._client is None:  # opened here, in the thread that runs the notebooks
            self._client = self._open_client()
        if self._used:
            self._run(RESET, self._client)
        self._used = True
        return self._manager

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.stop_channels()
            self._client = None

    def shutdown(self) -> None:
        self._thread.join(self.timeout_s)
        self._close_client()
        if self._manager is not None and self._manager.has_kernel:
            self._manager.shutdown_kernel(now=True)

    def __enter__(self) -> KernelSession:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


ENGINE = "workbench-shared-kernel"


@functools.cache
def register_engine() -> str:
    """Register (once) the papermill engine that runs notebooks in a `KernelSession`; its name."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger

    class SharedKernelEngine(NBClientEngine):  # type: ignore[misc]
        """papermill's nbclient engine, on the session's kernel and client instead of fresh ones.

        A fresh client waits for the kernel's IOPub channel (~0.2 s) before every notebook;
        `nbclient` leaves alone a kernel it does not own (`km` given) and a client already set.
        """

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: int | None = None,
            session: KernelSession | None = None,
            **kwargs: Any,
        ) -> Any:
            if session is None:
                raise ReportError("the shared-kernel engine runs only the notebooks of a KernelSession")
            manager, client = session.claim()
            notebook_client = PapermillNotebookClient(
                nb_man,
                km=manager,
                kernel_name=kernel_name,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            notebook_client.kc = client
            return notebook_client.execute()

    papermill_engines.register(ENGINE, SharedKernelEngine)
    return ENGINE
