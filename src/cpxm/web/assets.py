"""Third-party browser code served from installed packages, never copied into the repository.

The Vega-Lite renderer comes from vl-convert-python's bundle (vega, vega-lite and vega-embed in
one file exposing ``window.vegaEmbed``). Building it takes about two seconds, so it is built once
per process, compressed once, and served at a URL that names its versions, with an immutable
cache header: browsers fetch it once per release.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass

import altair as alt
import vl_convert
from fastapi import APIRouter, Request, Response

from cpxm.access import PUBLIC, requires

VENDOR_PREFIX = "/static/vendor"
# The stub does not declare __version__; the module has it at run time.
VL_CONVERT_VERSION: str = vl_convert.__version__  # type: ignore[attr-defined]
IMMUTABLE = "public, max-age=31536000, immutable"


def vega_lite_version() -> str:
    """The Vega-Lite ``major.minor`` Altair emits; the bundle must render that exact version."""
    major, minor, *_ = alt.SCHEMA_VERSION.lstrip("v").split(".")
    version = f"{major}.{minor}"
    supported = vl_convert.get_vegalite_versions()
    if version not in supported:
        raise RuntimeError(
            f"Altair emits Vega-Lite {version} but vl-convert {VL_CONVERT_VERSION} bundles "
            f"only {', '.join(supported)}; align the two packages' versions"
        )
    return version


def vega_embed_url() -> str:
    return f"{VENDOR_PREFIX}/vega-embed-{VL_CONVERT_VERSION}-vl{vega_lite_version()}.js"


@dataclass(frozen=True)
class Bundle:
    body: bytes
    gzipped: bytes
    etag: str


_bundle: Bundle | None = None
_bundle_lock = threading.Lock()


def vega_embed_bundle() -> Bundle:
    """The bundle, built on first use; the lock keeps concurrent first requests from each paying."""
    global _bundle
    with _bundle_lock:
        if _bundle is None:
            # The stub marks ``snippet`` required; at run time it defaults to the global exports.
            source = vl_convert.javascript_bundle(vl_version=vega_lite_version())  # type: ignore[call-arg]
            body = source.encode()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            _bundle = Bundle(body=body, gzipped=gzip.compress(body, mtime=0), etag=etag)
        return _bundle


router = APIRouter(include_in_schema=False, dependencies=[requires(PUBLIC)])


@router.get(vega_embed_url())
def vega_embed(request: Request) -> Response:
    bundle = vega_embed_bundle()
    headers = {"Cache-Control": IMMUTABLE, "ETag": bundle.etag, "Vary": "Accept-Encoding"}
    if bundle.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(
            bundle.gzipped,
            media_type="text/javascript",
            headers={**headers, "Content-Encoding": "gzip"},
        )
    return Response(bundle.body, media_type="text/javascript", headers=headers)
