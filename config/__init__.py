# The one place the version is written: pyproject.toml reads it (setuptools' dynamic version),
# the page footer and /api/v1/version/ show it, CHANGELOG.md names it.
__version__ = "0.2.0"

from .celery_app import app as celery_app  # noqa: E402

__all__ = ("__version__", "celery_app")
