# Shared by the setup scripts (sourced, not run): one run at a time per installed folder, and
# the hash of a stamp's inputs.

# setup_lock NAME DIR: holds an exclusive lock (fd 9) for the rest of the script, so concurrent
# runs (several test binaries bootstrapping at once, apt, pip) wait for each other.
setup_lock() {
  if command -v flock >/dev/null; then
    local lock="${TMPDIR:-/tmp}/portcullis-$1-$(printf '%s' "$2" | sha256sum | cut -c1-16).lock"
    exec 9>"$lock"
    flock 9
  fi
}

hash_of() { # hash of the given files' contents plus extra strings
  { for f in "$@"; do if [ -f "$f" ]; then cat "$f"; else printf '%s\n' "$f"; fi; done; } \
    | sha256sum | cut -d' ' -f1
}
