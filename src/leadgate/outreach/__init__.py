"""The Outreach edge: JSON:API client, OAuth, rate limiting, upsert, and the local sandbox."""
