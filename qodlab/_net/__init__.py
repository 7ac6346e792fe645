"""Private plumbing the servers and the client share.

Background servers and their re-runs, ASGI pieces, host and origin checks, the outbound policy for
sinks, JSON from others with a nesting limit, small HTTP helpers. Nothing here is public.
"""
