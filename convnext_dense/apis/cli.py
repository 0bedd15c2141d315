"""How every tool reports a user's mistake: one ``error: ...`` line and exit code 2; anything else keeps its traceback.

The decision is the exception's type (:class:`convnext_dense.errors.UserError`), not where it was
raised: a ``RuntimeError`` from a torch builtin called by this package is a bug report with its
traceback, a :class:`~convnext_dense.errors.DataError` raised inside a DataLoader worker is a user
mistake with its own message.

Example (every tool ends like this)::

    if __name__ == '__main__':
        sys.exit(run_cli(main))
"""

import os
import re
import sys
from typing import Any, Callable, List, Optional

from ..errors import UserError

TRACEBACK_ENV = 'CONVNEXT_DENSE_TRACEBACK'

__all__ = ['TRACEBACK_ENV', 'run_cli', 'user_error_message']


def _chain(exc: BaseException) -> List[BaseException]:
    """``exc`` and the exceptions it was raised from or during, outermost first."""
    chain, seen = [], set()
    node: Optional[BaseException] = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        chain.append(node)
        node = (
            node.__cause__ if node.__cause__ is not None else (None if node.__suppress_context__ else node.__context__)
        )
    return chain


def user_error_message(exc: BaseException) -> Optional[str]:
    """The message of the user mistake behind ``exc``, or None when ``exc`` is not one.

    The innermost :class:`UserError` of the chain is taken: mmengine's registry re-raises a build
    error as ``type(e)('class `X` in ...: <message>')`` and keeps the original as the context, whose
    message is the check's own. torch re-raises an error of a DataLoader worker with the same type
    and the worker's traceback as the message; the original message is cut out of it.
    """
    for candidate in reversed(_chain(exc)):
        if isinstance(candidate, UserError):
            return _worker_message(candidate) or str(candidate)
    return None


def _worker_message(exc: BaseException) -> Optional[str]:
    """The original message of an error re-raised from a DataLoader worker (None for any other)."""
    text = str(exc)
    if not re.match(r'Caught \w+ in DataLoader worker process \d+\.\nOriginal Traceback', text):
        return None
    name = re.escape(type(exc).__name__)
    found = list(re.finditer(rf'^(?:[\w.]+\.)?{name}: ', text, flags=re.M))  # builtins print bare names
    return text[found[-1].end() :].strip() if found else None


def run_cli(main: Callable[[], Any]) -> int:
    """Run a tool's ``main``; return its int result (0 for None), or 2 after printing a user mistake.

    ``CONVNEXT_DENSE_TRACEBACK=1`` shows the traceback of user mistakes too.
    """
    try:
        result = main()
    except Exception as e:  # noqa: BLE001 (re-raised unless it is a user mistake)
        message = user_error_message(e)
        if message is None or os.environ.get(TRACEBACK_ENV, '') not in ('', '0'):
            raise
        print(f'error: {message}', file=sys.stderr)
        if getattr(e, 'traceback_hint', True):
            print(f'(the full traceback: {TRACEBACK_ENV}=1)', file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0
