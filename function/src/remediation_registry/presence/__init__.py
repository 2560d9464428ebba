"""Agent presence: one item per agent, online <-> offline transitions as conditional writes.

Modules, by concern (function/build.py ships each only to the functions that import it):
  item         the formats: the presence item (names, states, reasons, validation), the queue's messages
  store        the requests, and T2 (`$disconnect`: all its zip ships of presence, under 16 KiB)
  transitions  T1, T3, T4 and the repair of an invalid item
  track        Presence per container: transitions' outcomes -> log lines and metrics; `$disconnect`'s call
  hooks        what `$connect`, the sweeper and the checker call
  liveness     the checker's handling of one grace or probe message (@connections GetConnection)
  reconcile    the checker's scheduled tick: lost grace messages, half-done transitions, the census

The routes that use them: connect.py, disconnect.py, sweep/, checker.py (the `presence` function),
announce.py (the `announce` function, which reads the table's stream and publishes the events).
"""
