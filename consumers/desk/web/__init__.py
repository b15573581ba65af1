"""The desk's web page and JSON API (FastAPI), built by :func:`create_app`; served by
:func:`consumers.desk.web.server.serve`."""

from consumers.desk.web.app import create_app

__all__ = ["create_app"]
