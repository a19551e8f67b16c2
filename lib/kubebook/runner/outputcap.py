"""A per-run cap on cell output: past it, output is dropped with one marker, the run goes on.

A notebook that prints in a loop would otherwise grow the runner's memory (nbclient
keeps every output message) and the archive (hundreds of megabytes of one
report) without bound. The cap counts the bytes of every output message as it
arrives from the kernel; once a run's total passes it, later output is not kept
and a single ``stream`` output says so, in the cell where it happened. Errors are
always kept (they decide how the run ended) but clipped (:func:`clip_error`: the
message to :data:`ERROR_MESSAGE_MAX` characters, the traceback to
:data:`ERROR_TRACEBACK_MAX`, head and tail kept), since a message is repeated in
the traceback, the banner, results.json and the HTML: a 100 MB exception message
made a 601 MB sealed run. The run is never killed for printing.

The cap comes from ``--output-cap`` or ``$KUBEBOOK_OUTPUT_CAP`` (bytes, with an
optional K/M/G suffix; ``0`` switches it off); the default is
:data:`DEFAULT_OUTPUT_CAP`.
"""

from __future__ import annotations

import os
import re
from typing import Any

from kubebook.errors import ParameterError

OUTPUT_CAP_ENV = "KUBEBOOK_OUTPUT_CAP"
DEFAULT_OUTPUT_CAP = 32 * 1024 * 1024
MAX_OUTPUT_CAP = 64 * 1024 ** 3
_SIZE = re.compile(r"^\s*(\d{1,15})\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
ERROR_MESSAGE_MAX = 4096
ERROR_NAME_MAX = 256
ERROR_FRAME_MAX = 16 * 1024
ERROR_TRACEBACK_MAX = 64 * 1024
CLIPPED = "\n[kubebook: {n} characters of this error were dropped]\n"
MARKER = ("\n[kubebook: output truncated: this run printed more than {cap} of output "
          "(--output-cap / ${env}); the rest was dropped, the run went on]\n")


def parse_size(text: str | int, *, what: str = "--output-cap") -> int:
    """``25M``, ``512K``, ``1G``, ``1048576`` or ``0`` (no cap) as a number of bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = _SIZE.match(str(text))
        if not match:
            raise ParameterError(f"{what} {str(text)[:40]!r} is not a size",
                                 hint="use bytes with an optional K, M or G suffix, e.g. 32M; 0 means no cap")
        value = int(match.group(1)) * _UNITS[(match.group(2) or "")[:1].lower()]
    if value < 0 or value > MAX_OUTPUT_CAP:
        raise ParameterError(f"{what} must be between 0 and 64G", hint="e.g. 32M")
    return value


def configured_cap(cap: int | str | None = None) -> int:
    """The cap for a run: the argument, else ``$KUBEBOOK_OUTPUT_CAP``, else the default."""
    if cap is not None:
        return parse_size(cap)
    env = os.environ.get(OUTPUT_CAP_ENV)
    return parse_size(env, what=f"${OUTPUT_CAP_ENV}") if env else DEFAULT_OUTPUT_CAP


def human(size: int) -> str:
    for unit, factor in (("G", 1024 ** 3), ("M", 1024 ** 2), ("K", 1024)):
        if size >= factor:
            return f"{size / factor:g}{unit}B"
    return f"{size} bytes"


def message_size(msg: dict[str, Any]) -> int:
    """The bytes an output message adds to the notebook (its text and data), cheaply estimated."""
    content = msg.get("content") or {}
    if msg.get("msg_type") == "stream":
        return len(content.get("text") or "")
    total = 0
    for value in (content.get("data") or {}).values():
        total += len(value) if isinstance(value, str) else len(repr(value))
    return total


def clip_text(text: str, limit: int) -> str:
    """``text`` cut in the middle to about ``limit`` characters: the start says what, the end often says why."""
    if not isinstance(text, str) or len(text) <= limit:
        return text
    head, tail = limit * 3 // 4, limit // 4
    return text[:head] + CLIPPED.format(n=len(text) - head - tail) + text[len(text) - tail:]


def clip_error(content: dict[str, Any]) -> dict[str, Any]:
    """An error output's content (ename, evalue, traceback) with each part bounded; small errors unchanged."""
    content["ename"] = clip_text(content.get("ename", ""), ERROR_NAME_MAX)
    content["evalue"] = clip_text(content.get("evalue", ""), ERROR_MESSAGE_MAX)
    frames = [clip_text(f, ERROR_FRAME_MAX) for f in content.get("traceback") or [] if isinstance(f, str)]
    if sum(map(len, frames)) > ERROR_TRACEBACK_MAX:
        tail: list[str] = []
        while frames and (not tail or sum(map(len, tail)) + len(frames[-1]) <= ERROR_TRACEBACK_MAX // 2):
            tail.insert(0, frames.pop())
        head: list[str] = []
        while frames and sum(map(len, head + tail)) + len(frames[0]) <= ERROR_TRACEBACK_MAX:
            head.append(frames.pop(0))
        frames = [*head, CLIPPED.format(n=sum(map(len, frames))).strip(), *tail]
    if "traceback" in content:
        content["traceback"] = frames
    return content


def capped_client_class(cap: int) -> type:
    """papermill's notebook client that stops keeping output once the run has produced ``cap`` bytes."""
    from papermill.clientwrap import PapermillNotebookClient

    class CappedClient(PapermillNotebookClient):  # type: ignore[misc]
        output_total = 0
        truncated = False

        def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
            if msg.get("msg_type") == "error":
                clip_error(msg.setdefault("content", {}))
                return super().output(outs, msg, display_id, cell_index)
            if not cap:
                return super().output(outs, msg, display_id, cell_index)
            type(self).output_total += message_size(msg)
            if type(self).output_total <= cap:
                return super().output(outs, msg, display_id, cell_index)
            if not type(self).truncated:
                import nbformat

                type(self).truncated = True
                marker = nbformat.v4.new_output("stream", name="stderr",
                                                text=MARKER.format(cap=human(cap), env=OUTPUT_CAP_ENV))
                outs.append(marker)
            return None

    return CappedClient


def capped_engine(cap: int) -> tuple[type, type]:
    """A papermill engine whose client is :func:`capped_client_class`, and that client class."""
    from papermill.engines import NBClientEngine
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    client = capped_client_class(cap)

    class CappedEngine(NBClientEngine):  # type: ignore[misc]
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                     stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
                                     execution_timeout: float | None = None, **kwargs: Any) -> Any:
            kwargs = remove_args(["input_path"], **kwargs)  # as NBClientEngine does
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(safe_kwargs, timeout=execution_timeout or kwargs.get("timeout"),
                                 startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
                                 log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
            return client(nb_man, **final).execute()

    return CappedEngine, client
