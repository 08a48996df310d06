"""OHIF 3.x served by Orthanc itself: the viewer and DICOMweb on one origin, no CORS.

``deploy/install.sh`` unpacks the prebuilt viewer shipped in the npm package ``@ohif/app``
(``dist/``, pinned :data:`OHIF_VERSION`) into ``deploy/ohif/dist``. Orthanc's ServeFolders
plugin (Debian ``orthanc`` ships ``libServeFolders.so``) serves a *site* folder under
``/ohif/``; the DICOMweb plugin answers ``/dicom-web/`` on the same port.

The prebuilt ``dist/`` expects to live at the server root (``window.PUBLIC_URL="/"``, webpack
public path ``"/"``, ``url(/...)`` in its CSS), and Orthanc's REST API owns the root, so
:func:`build_site` links every file of ``dist/`` into the site and rewrites only the few that
name the root, plus ``app-config.js`` (``deploy/ohif/app-config.js``) and ``viewer``: a copy of
``index.html`` for the client-side route ``/ohif/viewer`` (ServeFolders has no SPA fallback;
files without an extension are served as text/html). A rewrite that finds nothing to rewrite
raises: a different OHIF build needs a look, not a silently broken viewer.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

from node.errors import LipoNodeError

REPO_DIR = Path(__file__).resolve().parents[2]
OHIF_VERSION = "3.13.2"
OHIF_DIR = REPO_DIR / "deploy" / "ohif"
OHIF_DIST = OHIF_DIR / "dist"
APP_CONFIG = OHIF_DIR / "app-config.js"
PREFIX = "ohif"
SERVE_FOLDERS_PLUGIN = Path("/usr/share/orthanc/plugins/libServeFolders.so")
_PUBLIC_PATH = b'__webpack_require__.p = "/"'
_MIME = {"": "text/html", ".wasm": "application/wasm", ".mjs": "application/javascript",
         ".woff2": "font/woff2", ".ico": "image/x-icon", ".map": "application/json",
         ".txt": "text/plain", ".onnx": "application/octet-stream"}


class ViewerError(LipoNodeError):
    code = "viewer_unavailable"


def installed_version(dist: Path = OHIF_DIST) -> str | None:
    """The @ohif/app version deploy/install.sh unpacked into ``dist`` (its stamp file)."""
    stamp = dist / ".lipo-node-ohif-version"
    return stamp.read_text().strip() if stamp.is_file() else None


def ohif_installed(dist: Path = OHIF_DIST) -> bool:
    """True when the pinned prebuilt viewer and Orthanc's ServeFolders plugin are both here."""
    return (installed_version(dist) == OHIF_VERSION and (dist / "index.html").is_file()
            and SERVE_FOLDERS_PLUGIN.exists())


def _rewrite_index(html: bytes, base: str) -> bytes:
    public = b'window.PUBLIC_URL="/"'
    if public not in html:
        raise ViewerError(f"OHIF index.html does not set {public.decode()}: not the {OHIF_VERSION} build?")
    out = html.replace(public, f'window.PUBLIC_URL="{base}"'.encode())
    for attr in (b'src="/', b'href="/'):
        out = out.replace(attr, attr + base.strip("/").encode() + b"/")
    return out


def build_site(site: Path, dist: Path = OHIF_DIST, app_config: Path = APP_CONFIG,
               prefix: str = PREFIX) -> Path:
    """Make ``site`` (emptied first) the folder Orthanc serves under ``/<prefix>/``."""
    if not (dist / "index.html").is_file():
        raise ViewerError(f"no OHIF viewer in {dist}: run deploy/install.sh (npm @ohif/app {OHIF_VERSION})")
    base = f"/{prefix}/"
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    rewrote_js = False
    for entry in sorted(dist.iterdir()):
        target = site / entry.name
        if entry.name in ("app-config.js", ".lipo-node-ohif-version"):
            continue
        if entry.is_file() and entry.suffix == ".js":
            data = entry.read_bytes()
            if _PUBLIC_PATH in data:
                target.write_bytes(data.replace(_PUBLIC_PATH, _PUBLIC_PATH[:-3] + f'"{base}"'.encode()))
                rewrote_js = True
                continue
        elif entry.is_file() and entry.suffix == ".css":
            data = entry.read_bytes()
            if b"url(/" in data:
                target.write_bytes(data.replace(b"url(/", f"url({base}".encode()))
                continue
        elif entry.name == "index.html":
            page = _rewrite_index(entry.read_bytes(), base)
            target.write_bytes(page)
            (site / "viewer").write_bytes(page)
            continue
        target.symlink_to(entry.resolve())
    if not rewrote_js:
        raise ViewerError(f"no webpack public path {_PUBLIC_PATH.decode()} in {dist}: "
                          f"not the {OHIF_VERSION} build?")
    shutil.copyfile(app_config, site / "app-config.js")
    return site


def orthanc_settings(site: Path, prefix: str = PREFIX) -> dict:
    """The Orthanc configuration keys that serve ``site`` (plugin path goes into "Plugins")."""
    return {"ServeFolders": {"Extensions": dict(_MIME), "Folders": {f"/{prefix}": str(site)},
                             "AllowCache": True, "GenerateETag": True}}


def viewer_url(orthanc_url: str, study_uid: str, prefix: str = PREFIX) -> str:
    """The link a radiologist opens: OHIF's basic viewer on one study."""
    return f"{orthanc_url.rstrip('/')}/{prefix}/viewer?StudyInstanceUIDs={quote(study_uid)}"
