"""The staff web workspace (docs/interfaces.md §12): accounts, login, and server-rendered
pages under `/staff/` on the admin API's aiohttp server. Pages call the same use cases
as the CLI (`notifications.campaigns.Notifications`, `handlers.quality`), never SQL."""
