"""Keeping the app's copy of a shop's customers, orders, refunds and discount codes correct.

Every upsert compares Shopify's `updated_at` with what is stored, so a late or reordered
delivery never overwrites newer state, and a duplicate is a no-op.
"""
