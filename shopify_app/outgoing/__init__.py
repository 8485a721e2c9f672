"""Outgoing webhooks (G15): events the app emits to the merchant's own endpoints, signed the
Standard Webhooks way, retried for about a day, isolated per endpoint.

`events.emit` writes an event and its deliveries in the caller's transaction (domain code
calls it where things happen); `delivery.drain` sends one endpoint's due deliveries (the job
`workers.outgoing_jobs.deliver_endpoint`, at most one per endpoint at a time);
`endpoints` is what the merchant manages; `addresses` keeps endpoint URLs off private
networks; `signing` makes and checks the signature headers.
"""
