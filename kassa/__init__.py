"""kassa: a self-hostable payments service over Stripe."""
