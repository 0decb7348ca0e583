"""jobdash: a live dashboard for neutron-facility data-reduction jobs."""

__version__ = "0.1.0"
