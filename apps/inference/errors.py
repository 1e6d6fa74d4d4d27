"""Short, specific descriptions of network errors for admins and logs."""

from __future__ import annotations

import os


def root_cause(exc: BaseException) -> str:
    """The operating system's words when there are any ("[Errno 111] Connection refused").

    HTTP clients wrap the socket error ("All connection attempts failed", "Connection
    error."); the useful part sits further down the cause chain or inside an exception group.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    innermost = exc
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno:
            if current.errno < 0:  # a resolver error (socket.gaierror) words itself well
                return str(current)
            # asyncio words it "Connect call failed"; the errno's own text says why.
            return f"[Errno {current.errno}] {os.strerror(current.errno)}"
        if str(current):
            innermost = current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for nxt in (current.__cause__, current.__context__):
            if nxt is not None:
                pending.append(nxt)
    # No socket error: the innermost message ("peer closed connection without sending
    # complete message body") says more than the wrapper's "Connection error.".
    return str(innermost) or type(innermost).__name__
