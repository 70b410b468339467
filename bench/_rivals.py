"""Connect time and call round trip of execnet and Mitogen against one sshd.

Usage: python3 _rivals.py PORT USER KEY KNOWN_HOSTS CONNECTS CALLS
Prints one JSON object per rival on stdout; a missing rival prints {"name", "missing"}.
"""
import json
import os
import sys
import time

port, user, key, known, connects, calls = sys.argv[1:7]
connects, calls = int(connects), int(calls)
ssh_opts = ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=" + known,
            "-o", "StrictHostKeyChecking=yes", "-i", key]


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


def pct(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(q * len(s) + 0.999999) - 1))]


def execnet_bench():
    try:
        import execnet
    except ImportError:
        return {"name": "execnet", "missing": "apt-get install python3-execnet"}
    spec = "ssh=%s -p %s %s@127.0.0.1//python=python3" % (" ".join(ssh_opts), port, user)
    conn = []
    gw = None
    for _ in range(connects):
        t0 = time.perf_counter()
        gw = execnet.makegateway(spec)
        gw.remote_exec("channel.send(1)").receive()
        conn.append((time.perf_counter() - t0) * 1000)
        gw.exit()
    gw = execnet.makegateway(spec)
    ch = gw.remote_exec(
        "while 1:\n    x = channel.receive()\n    if x is None: break\n    channel.send(x)")
    rtt = []
    for i in range(calls):
        t0 = time.perf_counter()
        ch.send(i)
        ch.receive()
        rtt.append((time.perf_counter() - t0) * 1e6)
    ch.send(None)
    gw.exit()
    return {"name": "execnet", "connect_p50_ms": median(conn), "call_p50_us": median(rtt),
            "call_p99_us": pct(rtt, 0.99), "connects": connects, "calls": calls}


def mitogen_bench():
    try:
        import mitogen.master
    except ImportError:
        return {"name": "mitogen", "missing": "apt-get install python3-mitogen"}
    broker = mitogen.master.Broker()
    router = mitogen.master.Router(broker)
    try:
        def connect():
            return router.ssh(hostname="127.0.0.1", port=int(port), username=user,
                              identity_file=key, check_host_keys="enforce",
                              python_path=["python3"], ssh_args=ssh_opts)
        conn = []
        for _ in range(connects):
            t0 = time.perf_counter()
            ctx = connect()
            ctx.call(os.getpid)
            conn.append((time.perf_counter() - t0) * 1000)
            ctx.shutdown(wait=True)
        ctx = connect()
        ctx.call(os.getpid)
        rtt = []
        for _ in range(calls):
            t0 = time.perf_counter()
            ctx.call(os.getpid)
            rtt.append((time.perf_counter() - t0) * 1e6)
        ctx.shutdown(wait=True)
    finally:
        broker.shutdown()
        broker.join()
    return {"name": "mitogen", "connect_p50_ms": median(conn), "call_p50_us": median(rtt),
            "call_p99_us": pct(rtt, 0.99), "connects": connects, "calls": calls}


for f in (execnet_bench, mitogen_bench):
    try:
        print(json.dumps(f()), flush=True)
    except Exception as e:  # a rival that fails is reported, not fatal
        print(json.dumps({"name": f.__name__.replace("_bench", ""), "error": repr(e)}), flush=True)
