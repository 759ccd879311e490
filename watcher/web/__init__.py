"""The one web server: Slack over HTTP, Atom feeds, ``/metrics`` and ``/healthz``.

``limits`` guards the door (sizes and time-outs), ``asgi`` routes, ``feeds`` and
``atom`` make the feeds, ``metrics`` reads the database at scrape time, and
``server`` runs it all under uvicorn in a background thread.
"""
