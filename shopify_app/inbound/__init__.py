"""Inbound mail: the shopper's answer to a staff reply, posted by the mail provider to
`POST /inbound/email` as raw MIME, signed with INBOUND_EMAIL_SECRET (docs/operations.md,
"Inbound email"). `signature` checks the request, `mail` reads the MIME, `routing` finds
the conversation and posts the message, `views` is the endpoint."""
