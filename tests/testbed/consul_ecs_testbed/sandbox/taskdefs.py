"""The sandbox's timings. The task definitions themselves are no longer
built here: they are the ones terraform/examples/client-server registers
(sandbox.mesh reads them back from the ECS API)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Timings:
    """The knobs that set how long the sandbox takes. Only what the example
    exposes as an input reaches the task definitions."""
    shutdown_delay: float = 5.0        # application_shutdown_delay_seconds (whole seconds)
    client_period: float = 0.1         # client app: time between requests (its command)
    client_timeout: float = 2.0        # client app: request timeout (its command)
    # The controller module has no polling-interval input: the binary's
    # default (10 s) is what runs; the flow uses this to judge the clean-up.
    controller_interval: float = 10.0
    stop_timeout: float = 30.0         # ECS's default stopTimeout (the taskdefs set none)

    @staticmethod
    def fast() -> Timings:
        """The CI flavour (tests/e2e/test_sandbox.py)."""
        return Timings(shutdown_delay=2.0, client_period=0.05, client_timeout=2.0)
