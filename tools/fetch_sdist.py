"""Downloads one source distribution from PyPI's simple index (JSON API), checking its sha256.

Used by tools/setup_env.sh for pb1-detectron2, whose metadata declares a direct-URL extra that makes
`pip download` refuse it even with --no-deps.
usage: python tools/fetch_sdist.py NAME VERSION DEST_DIR  -> prints the file's path
"""
import hashlib
import json
import os
import sys
import urllib.request

INDEX = os.environ.get("MAE_PYPI_SIMPLE", "https://pypi.org/simple")


def fetch(name: str, version: str, dest: str) -> str:
    req = urllib.request.Request(f"{INDEX}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    files = json.load(urllib.request.urlopen(req, timeout=60))["files"]
    wanted = [f for f in files if f["filename"].endswith(f"-{version}.tar.gz")]
    if not wanted:
        raise SystemExit(f"{name}=={version}: no source distribution on the index")
    f = wanted[0]
    data = urllib.request.urlopen(f["url"], timeout=300).read()
    digest = hashlib.sha256(data).hexdigest()
    if "sha256" in f["hashes"] and digest != f["hashes"]["sha256"]:
        raise SystemExit(f"{f['filename']}: sha256 {digest} does not match the index's {f['hashes']['sha256']}")
    path = os.path.join(dest, f["filename"])
    with open(path, "wb") as out:
        out.write(data)
    return path


if __name__ == "__main__":
    print(fetch(*sys.argv[1:4]))
