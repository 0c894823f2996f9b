# Shell helpers the bench scripts share (sourced, not run).

# N free loopback ports at once (all bound simultaneously, so they are distinct)
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()
PY
}

# the direct children of a PID (nginx workers of a master we started)
child_pids() { pgrep -P "$1" 2>/dev/null || true; }
