"""The tornado handler behind ``{base_url}kubebook/report``: authenticated, read-only, one report per request."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from kubebook.reportserver.page import CSP, ReportRefused, report_page


class ReportHandler(JupyterHandler):
    """``GET ?path=<absolute report.html>``: the sealed report, assets inlined, in a script-only sandbox."""

    auth_resource = "contents"

    @property
    def content_security_policy(self) -> str:
        return CSP  # always this one, whatever the server's settings say for its own pages

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        try:
            page = report_page(self.get_query_argument("path", ""))
        except ReportRefused as refused:
            self._refuse(refused.status, refused.message)
            return
        except OSError as error:  # a folder or file the server may not read: one line, never a traceback
            self._refuse(403, f"the report cannot be read: {error.strerror or type(error).__name__}")
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(page)

    def _refuse(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"kubebook: {message}\n")
