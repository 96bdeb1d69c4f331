"""The built-in web dashboard, served under /dashboard by `headwater serve` (docs/dashboard.md).

Pages and static files live in ``static/`` (plain HTML, CSS and ES modules, no build step, nothing
fetched from elsewhere); the data comes from the admin API under /api/v1 with the login cookie.
"""
