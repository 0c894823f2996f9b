#!/usr/bin/env python3
"""Helpers for bench/proxy.sh and bench/compare.sh: parse one wrk --latency output, summarise
a run, compare fronts round by round.

  proxy_stats.py parse WRK_OUTPUT_FILE
      -> one tab-separated line: rps requests p50_us p99_us non2xx socket_errors
  proxy_stats.py summary RUNS_TSV
      -> markdown summary table on stdout
  proxy_stats.py ratios RUNS_TSV A/B [A/B...]
      -> markdown table: A req/s ÷ B req/s within each round (median, min–max, per round) and
         A's front CPU/req ÷ B's (median over rounds); pairs with no common round are left out,
         nothing is printed when none is left
  proxy_stats.py compare RUNS_TSV MIN_RATIO MAX_CPU_RISE_PCT FRONT [FRONT...]
      -> per FRONT, FRONT (new) against FRONT@base (base): req/s ratio per round, CPU µs/req of
         each, and a verdict: FAIL when the median req/s ratio is below MIN_RATIO, or the median
         per-round CPU/req ratio is above 1 + MAX_CPU_RISE_PCT/100, or a front has no paired
         round; exit status 1 on FAIL

RUNS_TSV columns (written by proxy.sh, one line per measured run):
  round front rps requests p50_us p99_us front_cpu_us_per_req upstream_cpu_us_per_req non2xx sockerr
(front_cpu is "-" for a front without a process of its own, i.e. direct).
"""
import re
import statistics
import sys

UNIT_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def to_us(value, unit):
    return float(value) * UNIT_US[unit]


def parse(path):
    text = open(path, encoding="utf-8", errors="replace").read()

    def grab(pattern, default=None):
        m = re.search(pattern, text)
        return m if m else default

    rps = grab(r"Requests/sec:\s+([\d.]+)")
    reqs = grab(r"(\d+) requests in ")
    lat = {}
    for pct in ("50", "99"):
        m = grab(r"(?m)^\s*" + pct + r"%\s+([\d.]+)(us|ms|s|m|h)\s*$")
        lat[pct] = to_us(m.group(1), m.group(2)) if m else float("nan")
    non2xx = grab(r"Non-2xx or 3xx responses:\s+(\d+)")
    sock = grab(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
    if rps is None or reqs is None:
        sys.stderr.write("could not parse wrk output %s:\n%s\n" % (path, text))
        sys.exit(1)
    sockerr = sum(int(g) for g in sock.groups()) if sock else 0
    print("\t".join([
        rps.group(1), reqs.group(1),
        "%.0f" % lat["50"], "%.0f" % lat["99"],
        non2xx.group(1) if non2xx else "0", str(sockerr),
    ]))


def fnum(x):
    return None if x in ("-", "", "nan") else float(x)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec):
    return "–" if x is None else format(x, spec)


def load(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            p = line.rstrip("\n").split("\t")
            rows.append({
                "round": int(p[0]), "front": p[1], "rps": float(p[2]), "requests": int(p[3]),
                "p50": fnum(p[4]), "p99": fnum(p[5]), "cpu": fnum(p[6]), "upcpu": fnum(p[7]),
                "non2xx": int(p[8]), "sockerr": int(p[9]),
            })
    return rows


def summary(path):
    rows = load(path)
    fronts = []
    for r in rows:
        if r["front"] not in fronts:
            fronts.append(r["front"])
    direct = {r["round"]: r["rps"] for r in rows if r["front"] == "direct"}

    out = []
    out.append("| front | rounds | median req/s | ratio to direct (median) | ratio min–max "
               "| p50 µs | p99 µs | front CPU µs/req | upstream CPU µs/req | errors |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for fr in fronts:
        rs = [r for r in rows if r["front"] == fr]
        ratios = [r["rps"] / direct[r["round"]] for r in rs
                  if r["round"] in direct and direct[r["round"]] > 0]
        errors = sum(r["non2xx"] + r["sockerr"] for r in rs)
        out.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            fr, len(rs),
            fmt(med([r["rps"] for r in rs]), ".0f"),
            fmt(med(ratios), ".3f"),
            ("%.3f–%.3f" % (min(ratios), max(ratios))) if ratios else "–",
            fmt(med([r["p50"] for r in rs]), ".0f"),
            fmt(med([r["p99"] for r in rs]), ".0f"),
            fmt(med([r["cpu"] for r in rs]), ".1f"),
            fmt(med([r["upcpu"] for r in rs]), ".1f"),
            ("%d" % errors) if errors == 0 else ("**%d**" % errors),
        ))
    print("\n".join(out))


def by_round(rows):
    """{(front, round): row}"""
    return {(r["front"], r["round"]): r for r in rows}


def paired(idx, a, b):
    """rounds in which both a and b were measured (b with req/s > 0)"""
    return sorted(rd for (f, rd) in idx if f == a and (b, rd) in idx and idx[(b, rd)]["rps"] > 0)


def cpu_ratios(idx, a, b, rounds):
    return [idx[(a, rd)]["cpu"] / idx[(b, rd)]["cpu"] for rd in rounds
            if idx[(a, rd)]["cpu"] is not None and idx[(b, rd)]["cpu"]]


def ratios(path, pairs):
    idx = by_round(load(path))
    out = []
    for pair in pairs:
        a, b = pair.split("/", 1)
        rounds = paired(idx, a, b)
        if not rounds:
            continue
        q = [idx[(a, rd)]["rps"] / idx[(b, rd)]["rps"] for rd in rounds]
        c = cpu_ratios(idx, a, b, rounds)
        out.append("| %s ÷ %s | %d | %.3f | %.3f–%.3f | %s | %s |" % (
            a, b, len(q), statistics.median(q), min(q), max(q), " ".join("%.3f" % x for x in q),
            fmt(med(c), ".3f")))
    if out:
        print("| req/s ratio | rounds | median | min–max | per round | front CPU/req ratio (median) |")
        print("|---|---:|---:|---:|---|---:|")
        print("\n".join(out))


def compare(path, min_ratio, max_rise_pct, fronts):
    idx = by_round(load(path))
    max_cpu = 1 + max_rise_pct / 100
    print("| front | rounds | new ÷ base req/s (median) | min–max | new CPU µs/req | base CPU µs/req "
          "| CPU/req new ÷ base (median) | verdict |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    failed = []
    for fr in fronts:
        base = fr + "@base"
        rounds = paired(idx, fr, base)
        if not rounds:
            print("| %s | 0 | – | – | – | – | – | **FAIL** (no paired round) |" % fr)
            failed.append("%s: not measured" % fr)
            continue
        q = [idx[(fr, rd)]["rps"] / idx[(base, rd)]["rps"] for rd in rounds]
        c = cpu_ratios(idx, fr, base, rounds)
        rq, rc = statistics.median(q), med(c)
        why = []
        if rq < min_ratio:
            why.append("req/s ratio %.3f < %.3f" % (rq, min_ratio))
        if rc is not None and rc > max_cpu:
            why.append("CPU/req +%.1f%% > +%g%%" % ((rc - 1) * 100, max_rise_pct))
        if why:
            failed.append("%s: %s" % (fr, ", ".join(why)))
        print("| %s | %d | %.3f | %.3f–%.3f | %s | %s | %s | %s |" % (
            fr, len(q), rq, min(q), max(q),
            fmt(med([idx[(fr, rd)]["cpu"] for rd in rounds]), ".1f"),
            fmt(med([idx[(base, rd)]["cpu"] for rd in rounds]), ".1f"),
            fmt(rc, ".3f"), "**FAIL**" if why else "PASS"))
    print()
    if failed:
        print("verdict: FAIL (%s)" % "; ".join(failed))
        return 1
    print("verdict: PASS (every front: median req/s ratio >= %.2f and CPU/req rise <= %g%%)"
          % (min_ratio, max_rise_pct))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "parse":
        parse(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "summary":
        summary(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "ratios":
        ratios(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 6 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5:]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
