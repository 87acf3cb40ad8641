"""Campaigns: many calls from one brief, paced by the shared dispatcher."""
