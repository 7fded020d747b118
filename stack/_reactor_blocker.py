"""A Synapse module that blocks Synapse's reactor, as a third-party module making synchronous calls does.

Not imported by the stack: the `reactor-blocked` fault copies this file next to homeserver.yaml (the
directory Synapse runs in, first on its import path) and names it in `modules:`, as an operator
installs a module. So it imports nothing of the stack, only what Synapse gives every module.

Every `every_ms` it makes a synchronous call of `block_ms` on the reactor's thread, as a module that
calls `requests.get` or a synchronous database driver from a callback does. `time.sleep` stands for
that call: it holds the reactor as the call would, and releases the GIL as a socket read does, so
Synapse's threads (its metrics listener, its database connections) still run.
"""

from __future__ import annotations

import time
from typing import Any

from synapse.module_api import ModuleApi


class ReactorBlocker:
    def __init__(self, config: dict[str, Any], api: ModuleApi) -> None:
        self._block_s = float(config["block_ms"]) / 1000
        api.looping_background_call(self._synchronous_call, float(config["every_ms"]), desc="reactor_blocker")

    def _synchronous_call(self) -> None:
        time.sleep(self._block_s)
