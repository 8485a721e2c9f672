"""The webhook inbox, all of it: intake (`views`), storage (`inbox`), routing and handlers,
claiming, processing, draining, sweeping and replay. The only writer of a delivery's status.

The request only verifies, stores and schedules a drain; everything else runs in the worker,
through the entry points in `workers/webhook_jobs.py`."""
