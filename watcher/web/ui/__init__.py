"""The read-only web UI: dashboard, trial stories with timelines, change log, searches.

:mod:`routes <watcher.web.ui.routes>` (pages and their guard),
:mod:`auth <watcher.web.ui.auth>` (the token rule), :mod:`params
<watcher.web.ui.params>` (``/changes`` query checking), :mod:`charts
<watcher.web.ui.charts>` (server-side SVG). Templates and CSS ship in the
package (``templates/``, ``static/``): no CDN, no build step.
"""
