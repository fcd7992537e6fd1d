# shellcheck shell=bash disable=SC2154  # kh_repo: tests/lib.sh, sourced first
# Sourced by the guest scripts: `cover DIR` mounts an empty tmpfs over DIR (to hide the kernel
# trees, or to get a real /tmp), but keeps visible what the run needs from under DIR: the
# repository, the module, the archive and the modules_install staging directory may live there
# (CI may clone the repository under /tmp or /root).
cover() { # dir
    local dir p i keep=()
    dir=$(readlink -f "$1")
    for p in "$kh_repo" "${KH_STAGE:-}" "${KH_MODULE:+$(dirname "$KH_MODULE")}" "${KH_BLOB:+$(dirname "$KH_BLOB")}"; do
        [ -n "$p" ] && p=$(readlink -f "$p") && case $p/ in "$dir"/*) keep+=("$p") ;; esac
    done
    for i in "${!keep[@]}"; do mkdir -p "/run/kh-keep/$i"; mount --bind "${keep[$i]}" "/run/kh-keep/$i"; done
    mount -t tmpfs none "$dir"
    for i in "${!keep[@]}"; do mkdir -p "${keep[$i]}"; mount --bind "/run/kh-keep/$i" "${keep[$i]}"; done
}
