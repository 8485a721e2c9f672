"""Conversations (issue 19): the storefront chat, its messages and the staff's inbox."""
