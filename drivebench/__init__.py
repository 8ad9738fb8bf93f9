"""drivebench: an open benchmark for imitation learning in autonomous driving.

Importing the package registers every scenario in `scenarios/` as a gymnasium env `drivebench/<name>-v<version>`.
"""
import os as _os

_os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from drivebench import families as _families  # noqa: E402,F401  (registers the scenario families)
from drivebench.scenarios import registry as _registry  # noqa: E402

_registry.discover()

__version__ = "0.1.0"
