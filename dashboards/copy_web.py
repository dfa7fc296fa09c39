#!/usr/bin/env python3
"""Copies the web dashboard into the build tree (or, at install, into DATADIR).

    copy_web.py build SRC DEST STAMP     SRC = dashboards/web, DEST = <build>/dashboards/web
    copy_web.py install DEST DIR         DIR relative to $MESON_INSTALL_DESTDIR_PREFIX

The app's own files (everything in SRC but node_modules, package*.json and
README.md) go to DEST, the libraries' dist files (installed by
`npm ci --prefix dashboards/web`) to DEST/vendor/. Without node_modules the
dashboard cannot work, so DEST is removed instead and the collector's / says
how to build it; the build itself does not fail (the API and the CLI do not
need the dashboard).
"""
import os
import shutil
import sys

# (file in node_modules, name in vendor/): what the page loads, nothing else.
VENDOR = [
    ("uplot/dist/uPlot.iife.min.js", "uPlot.iife.min.js"),
    ("uplot/dist/uPlot.min.css", "uPlot.min.css"),
    ("tabulator-tables/dist/js/tabulator.min.js", "tabulator.min.js"),
    ("tabulator-tables/dist/css/tabulator_simple.min.css", "tabulator.min.css"),
    ("uplot/LICENSE", "LICENSE.uPlot"),
    ("tabulator-tables/LICENSE", "LICENSE.tabulator"),
]
SKIP = {"node_modules", "package.json", "package-lock.json", "README.md"}


def build(src, dest, stamp):
    nm = os.path.join(src, "node_modules")
    missing = [f for f, _ in VENDOR if not os.path.isfile(os.path.join(nm, f))]
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    if missing:
        shutil.rmtree(dest, ignore_errors=True)
        print("poolwatch: web dashboard not built: %s missing; run: npm ci --prefix %s"
              % (missing[0], os.path.relpath(src)), file=sys.stderr)
    else:
        shutil.copytree(src, tmp, ignore=lambda d, names: [n for n in names if d == src and n in SKIP])
        os.makedirs(os.path.join(tmp, "vendor"), exist_ok=True)
        for f, name in VENDOR:
            shutil.copy2(os.path.join(nm, f), os.path.join(tmp, "vendor", name))
        shutil.rmtree(dest, ignore_errors=True)
        os.rename(tmp, dest)
    with open(stamp, "w") as f:
        f.write("missing\n" if missing else "ok\n")


def install(dest, rel):
    if not os.path.isfile(os.path.join(dest, "index.html")):
        print("poolwatch: web dashboard not installed (not built: npm ci --prefix dashboards/web)",
              file=sys.stderr)
        return
    target = os.path.join(os.environ.get("MESON_INSTALL_DESTDIR_PREFIX", "/usr/local"), rel)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(dest, target)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "build":
        build(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "install":
        install(*sys.argv[2:])
    else:
        sys.exit(__doc__)
