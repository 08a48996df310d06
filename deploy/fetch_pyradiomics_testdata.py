"""Fetch pyradiomics' own test case (brain1) and published baseline from its PyPI sdist.

The pyradiomics-bhklab wheel ships neither the test images nor the baseline CSVs, and
``radiomics.getTestCase`` downloads from GitHub at run time. The sdist on PyPI (the package's
registry) carries both under ``data/``: this script downloads it once, checks the sha256 PyPI
publishes, and extracts just those files into ``.venv/share/pyradiomics-data`` (not committed).
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import sys
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path

PACKAGE, VERSION = "pyradiomics-bhklab", "3.1.4"
WANTED = ("data/brain1_image.nrrd", "data/brain1_label.nrrd", "data/baseline/")


def main(dest: Path) -> int:
    if (dest / "brain1_image.nrrd").exists() and (dest / "baseline").is_dir():
        return 0
    # PEP 503 simple index: the link carries the file's sha256 as its fragment
    with urllib.request.urlopen(f"https://pypi.org/simple/{PACKAGE}/", timeout=60) as r:
        index = r.read().decode()
    name = f"{PACKAGE.replace('-', '_')}-{VERSION}.tar.gz"
    match = re.search(rf'href="([^"#]*{re.escape(name)})#sha256=([0-9a-f]{{64}})"', index)
    if match is None:
        print(f"{name} not found on PyPI's simple index", file=sys.stderr)
        return 1
    url, digest = html.unescape(match.group(1)), match.group(2)
    with urllib.request.urlopen(urllib.parse.urljoin(f"https://pypi.org/simple/{PACKAGE}/", url),
                                timeout=300) as r:
        blob = r.read()
    if hashlib.sha256(blob).hexdigest() != digest:
        print("pyradiomics sdist: sha256 mismatch", file=sys.stderr)
        return 1
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            rel = member.name.split("/", 1)[1] if "/" in member.name else ""
            if member.isfile() and rel.startswith(WANTED):
                target = dest / rel.removeprefix("data/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
