"""Admin pages rendered inside the Shopify admin iframe."""
