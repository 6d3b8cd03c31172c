# Sourced by scripts/demo and scripts/test: find or install uv (pinned), then install the
# project and its locked dependencies into .venv. Needs only python3 (3.11) on the machine.
set -euo pipefail
UV_VERSION="0.13.9"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

if command -v uv >/dev/null 2>&1 && [ "$(uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
  UV="uv"
else
  UV="$repo_root/.tools/bin/uv"
  if [ ! -x "$UV" ] || [ "$("$UV" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    echo "installing uv $UV_VERSION into .tools/ ..." >&2
    python3 -m venv "$repo_root/.tools"
    "$repo_root/.tools/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  fi
fi
export UV_PYTHON_DOWNLOADS=never  # use the machine's Python 3.11, never fetch one
"$UV" sync --frozen --quiet --compile-bytecode

# The browser tests drive Debian's Chromium (Playwright cannot download one here). Install it
# when it is missing and we may (root, apt-get present); otherwise those tests skip and say why.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the browser tests ..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "could not install chromium; the browser tests will skip" >&2
fi

# PDFs (cpxm.pdfout, WeasyPrint) need Pango and fonts that cover the languages the product ships
# (DejaVu for Latin, Noto Sans CJK for Japanese). Install what is missing when we may; without
# them the reports still render and say which letters this machine cannot draw.
pdf_packages=()
if ! ldconfig -p 2>/dev/null | grep libpango-1.0 >/dev/null; then pdf_packages+=(libpango-1.0-0 libpangoft2-1.0-0); fi
if ! fc-list :lang=ja family 2>/dev/null | grep . >/dev/null; then pdf_packages+=(fonts-noto-cjk); fi
if ! fc-list 2>/dev/null | grep DejaVuSans >/dev/null; then pdf_packages+=(fonts-dejavu-core); fi
if ! command -v fc-list >/dev/null 2>&1; then pdf_packages+=(fontconfig); fi
if [ "${#pdf_packages[@]}" -gt 0 ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${pdf_packages[*]} for PDF reports ..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pdf_packages[@]}" >/dev/null) \
    || echo "could not install ${pdf_packages[*]}; PDF reports may lack fonts" >&2
fi

# The browser tests check every page with axe-core, the npm package pinned in tests/package.json.
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing npm for the accessibility tests ..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null) \
    || echo "could not install npm; the accessibility test will skip" >&2
fi
if [ ! -f tests/node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null 2>&1; then
  echo "installing axe-core for the accessibility tests ..." >&2
  (cd tests && npm ci --no-audit --no-fund --silent) \
    || echo "could not install axe-core; the accessibility test will skip" >&2
fi
