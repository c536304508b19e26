"""Raise an exception inside another thread's Python code, as azmlinfsrv's SIGALRM does.

azmlinfsrv stops a run() that outlives ``SCORING_TIMEOUT_MS`` with a timer signal that raises
TimeoutError in the worker. Signals reach only the main thread, so fastserve asks CPython to
raise it asynchronously in the worker thread instead (``PyThreadState_SetAsyncExc``): it
takes effect at the next Python instruction, so a run() inside a long C call (a model
running) stops when that call returns.
"""

from __future__ import annotations

import ctypes

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async_exc.restype = ctypes.c_int
_clear_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


def raise_in_thread(thread_id: int, error: type[BaseException]) -> bool:
    """Ask for ``error`` to be raised in thread ``thread_id``; False if there is no such thread."""
    return bool(_set_async_exc(thread_id, error) == 1)


def clear_pending(thread_id: int) -> None:
    """Drop an exception asked for but not yet raised in thread ``thread_id``."""
    _clear_async_exc(thread_id, None)
