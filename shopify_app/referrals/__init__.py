"""The referral engine: program settings, advocates and codes, attribution, explained fraud
rules, the referral lifecycle, rewards and the coupons they become in Shopify."""
