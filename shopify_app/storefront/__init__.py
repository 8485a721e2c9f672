"""What shoppers reach: the referral link `/r/<code>` (and, later, the app-proxy page)."""
