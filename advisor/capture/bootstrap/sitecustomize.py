"""Zero-code capture bootstrap, first on a child's PYTHONPATH (see advisor.capture.run).

Arms :mod:`advisor.capture.zerocode`, then runs the ``sitecustomize`` this one shadows,
if any. It never lets an error escape: the child must start even if capture cannot.
"""

from __future__ import annotations

import importlib
import os
import sys


def _arm() -> None:
    try:
        from advisor.capture import zerocode

        zerocode.start()
    except Exception as exc:
        sys.stderr.write(f"advisor capture: zero-code capture is off ({exc})\n")


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    saved = list(sys.path)
    this = sys.modules.pop("sitecustomize", None)
    try:
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
        importlib.import_module("sitecustomize")
    except ImportError:
        pass
    except Exception as exc:
        sys.stderr.write(f"advisor capture: the original sitecustomize failed ({exc})\n")
    finally:
        sys.path[:] = saved
        if this is not None:
            sys.modules["sitecustomize"] = this


_arm()
_chain()
