"""Events out: signed outbound webhooks to a workspace's own receivers (issue 20 part 5).

Layering: this package imports only `core`; telephony, insights and campaigns call
`integrations.webhooks.emit` in their own transactions.
"""
