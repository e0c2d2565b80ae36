"""Development tooling that starts, drives and stops the whole system, shared by the test tiers
and the bench (neither is a service, so none of this is under services/).

- `harness.system`: starts the system the way `make run` does (scripts/run.sh), waits until it
  is healthy, stops it and whatever it left behind; restarts apps, finds their processes,
  calls and publishes through their sidecars.
- `harness.shop`: a small client of the public API (register, list products, place orders).
- `harness.waiting`: `wait_until`, the one way to wait for a condition (never sleep and hope).
"""
