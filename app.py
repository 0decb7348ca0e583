"""``panel serve app.py``: the jobdash dashboard, configured by ``JOBDASH_*``.

Panel runs this file once per browser session. The services (transport,
ingestion thread, models) are built and started by the first session only and
shared by all (``jobdash.app.get_services``); each session gets its own page.
``jobdash serve`` serves the same page with command-line flags instead.
"""

from jobdash.app import get_services
from jobdash.ui.page import build_page

build_page(get_services()).servable()
