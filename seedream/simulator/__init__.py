"""A local simulator of Oxen.ai's hosted inference API: a real HTTP server used as a test double.

Nothing here talks to Oxen. ``Simulator`` is the Python API; ``python -m seedream.simulator
--help`` is the command line; every run-time switch also exists under ``/_sim/`` over HTTP.

Choices where the contract (``/work/shared/oxen-api.md``) leaves a gap:

- ``cost`` is ``"0.04"`` once succeeded, ``"0.00"`` for failed/cancelled, null while active.
- Sync calls (``/images/edit``, ``/images/generate``) record a succeeded generation (visible in
  the queue and history routes) but emit no SSE event and never consume scripted outcomes.
- Enqueueing a text-only model answers 200 ``{"generations":[],"error":{...}}``.
- ``GET /api/ai/queue`` lists oldest first; ``/api/ai/generations`` newest first.
- Result files are served at signed URLs; without ``exp``/``sig`` the owner's key also works.
- Reference URLs are fetched only on loopback unless ``fetch_external`` is set; the
  simulator's own repository URLs are answered in-process (anonymously, uncounted).
- While SSE is silenced, completion events are lost, as on a half-open connection.
- Each generation's image varies with its id (batches and re-runs differ), always the same
  bytes for one generation.

Upstream misbehaviour is scripted two ways: one-off faults per route (``Simulator.inject``,
``POST /_sim/faults``, ``SimulatorConfig.faults``, ``--fault``) and named scenarios that stay on
(``seedream.simulator.scenarios``: sustained 429s, flaky 5xx, model routes down or
black-holed, results redirected to a second origin, streams cut short, restarts with state).
"""

from seedream.simulator.config import SimulatorConfig
from seedream.simulator.simulator import Simulator
from seedream.simulator.state import OUTCOME_KINDS, STATUSES

__all__ = ["OUTCOME_KINDS", "STATUSES", "Simulator", "SimulatorConfig"]
