"""What kassa serves to browsers: its pages, its static files and the libraries it vendors.

Pages are Jinja templates (`kassa/templates/pages/`) that load scripts and styles only from
`/static/`, so every page works with no internet and under a policy naming no other origin.
Third-party libraries are copied from the npm registry by `scripts/vendor-web.sh` into
`kassa/static/vendor/<package>-<version>/`, pinned in `kassa/static/vendor/versions.json`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path, PurePosixPath

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

from kassa.http_security import page_policy

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
# A vendored file's path names its version, so it never changes under the same URL.
VENDORED_CACHE = "public, max-age=31536000, immutable"
# kassa's own CSS/JS change with kassa: browsers revalidate (a 304 when unchanged).
OWN_CACHE = "no-cache"


class StaticAssets(StaticFiles):
    """`/static/…`: kassa's files with cache headers that suit how each kind changes."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC_DIR)

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = _cache_control(Path(full_path))
        return response


def _cache_control(path: Path) -> str:
    try:
        inside_vendor = path.resolve().relative_to(VENDOR_DIR)
    except ValueError:
        return OWN_CACHE
    return VENDORED_CACHE if len(inside_vendor.parts) > 1 else OWN_CACHE


@cache
def _pins() -> dict[str, dict[str, object]]:
    pins: dict[str, dict[str, object]] = json.loads((VENDOR_DIR / "versions.json").read_text())
    return pins


def vendored(package: str, file: str) -> str:
    """The URL of one vendored file, as versions.json names it: `vendored("react",
    "umd/react.production.min.js")`."""
    pin = _pins()[package]
    files = pin["files"]
    assert isinstance(files, list) and file in files, f"{file} is not vendored from {package}"
    folder = f"{package.removeprefix('@').replace('/', '-')}-{pin['version']}"
    return f"/static/vendor/{folder}/{PurePosixPath(file).name}"


PAGES = Environment(
    loader=PackageLoader("kassa", "templates/pages"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)
PAGES.globals["vendored"] = vendored


def render_page(
    template: str, *, origins: Sequence[str] = (), status_code: int = 200, **context: object
) -> Response:
    """One page, with a policy allowing kassa's own origin and `origins` (e.g. Stripe.js's)."""
    html = PAGES.get_template(template).render(context)
    return HTMLResponse(
        html, status_code=status_code, headers={"Content-Security-Policy": page_policy(origins)}
    )
