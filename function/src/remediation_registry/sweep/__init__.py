"""Abnormal-termination cleanup: API Gateway delivers `$disconnect` only best-effort.

Each scheduled run continues a pass over the whole table from the position the previous run saved
(one reserved item, written conditionally: see position.py) and removes:
  expired  items past their TTL or older than the 2-hour connection limit plus grace, with
           BatchWriteItem (25 per request, UnprocessedItems retried with backoff);
  gone     younger items for which @connections GetConnection answers GoneException (optional probe),
           with a conditional DeleteItem so a concurrent change is never clobbered.
Work is bounded by an item budget and by the Lambda's remaining time; a pass of N items therefore
takes ceil(N / budget) runs whatever the table size, and the next run starts the next pass. With
scan_segments > 1 the segments of a pass are scanned concurrently (sharing the run's budget), which
shortens a run, not a pass. ActiveConnections is published when a pass completes, from its counts.
Deletes are idempotent, so runs may overlap with each other and with the `$disconnect` handler.

Modules, by concern (only sweeper.zip ships this subpackage; the `$disconnect` path never imports it):
  store     the table's sweeper-only operations: paged parallel Scan, BatchWriteItem, conditional delete
  position  the pass over the table and its saved scan position
  report    what a run did, its `sweep finished` log line and its metrics
  run       the Sweeper, one run's concurrent scan, and handle() for handlers.sweep
"""
