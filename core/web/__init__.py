"""What every domain's web layer shares: typed FastAPI dependencies (`deps`), the
route class that turns refusals and unreadable forms into pages (`routes`), and the
one template helper (`pages`). Domains import this; it imports no domain."""
