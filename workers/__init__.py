"""RQ jobs, the queue connection, the worker process and periodic jobs."""
