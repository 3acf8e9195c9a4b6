#!/usr/bin/env bash
# System packages the workbench needs: bubblewrap (sandboxed kernels) and, for the browser tests, Chromium.
# Installs them with apt-get where we are root; otherwise stops with the command to run.
set -euo pipefail
need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
if [[ "${EUCAIM_UI_TESTS:-1}" != "0" ]]; then
  [[ -x /usr/bin/chromium ]] || need+=(chromium)
fi
# optional: dciodvfy (DICOM standard validator) lets the demo tests validate every generated object
optional=()
command -v dciodvfy >/dev/null 2>&1 || optional+=(dicom3tools)
if [[ ${#optional[@]} -gt 0 && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${optional[@]}"; } >/dev/null 2>&1 \
    || echo "note: could not install ${optional[*]} (optional; the DICOM validator test will be skipped)"
fi
[[ ${#need[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages: ${need[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  exit 0
fi
echo "eucaim-lab needs these system packages: ${need[*]}." >&2
echo "Install them as an administrator, e.g.: sudo apt-get install ${need[*]}" >&2
echo "(bubblewrap is required: sandboxed kernels refuse to start without it.)" >&2
exit 1
