"""The release record and what the steps do with it, shared by ``steps/`` and ``operations.py``.

* ``ledger``: what a release planned, did and saw, in the record store (one item per kind);
* ``live``: the live mixed state (aliases now, versions ever live, proven drains);
* ``shifting``: the one place that moves an alias, with every guard (abort, freeze, lease,
  promotion is one-way, drift);
* ``verify``: what a gate reads from CloudWatch and the queues, judged by ``planning.gates``.

Like ``steps/``, this layer reaches AWS only through ``orchestrator.ports``.
"""
