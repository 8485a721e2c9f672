"""Realtime: messages, typing and presence pushed to the widget and the staff inbox.

`tokens` signs the short-lived stream tokens Flask hands out, `publish` is what Flask (and
the jobs) call after a commit, `presence` says who is online, and `server` is the separate
asyncio process (`referrals realtime`) that holds the Server-Sent Events connections, fed by
one Redis pub/sub connection. The channel only notifies: messages are stored first, so a
client that missed something catches up through the Flask JSON endpoints (`after=<id>`).
"""
