# Weak-password probe (python3 fallback, used when the host has no perl): the same program as
# weakpw.pl. Runs ON THE HOST, unprivileged, at low priority; every input is data on stdin (line 1:
# base64 header; then /etc/shadow); crypt is the host's libcrypt through ctypes (the crypt module is
# gone from Python 3.13). Prints account names and matched rules only. Reads, never writes.
import base64, os, re, sys, time
def main():
    sys.stdout.reconfigure(line_buffering=True)
    t0 = time.process_time()
    cpu = lambda: time.process_time() - t0
    try:
        import ctypes, ctypes.util
        lib = None
        for name in ("libcrypt.so.1", "libcrypt.so.2", ctypes.util.find_library("crypt")):
            try:
                if name:
                    lib = ctypes.CDLL(name)
                    break
            except OSError:
                pass
        lib.crypt.restype = ctypes.c_char_p
        lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        def crypt(word, salt):
            r = lib.crypt(word.encode("utf-8", "surrogateescape"), salt.encode("utf-8", "surrogateescape"))
            return None if r is None else r.decode("utf-8", "surrogateescape")
    except Exception:
        try:
            import crypt as _c
            crypt = _c.crypt
        except Exception:
            print("nocrypt")
            print("done")
            return
    inp = sys.stdin.buffer
    hdr = inp.readline()
    budget, cap, cands = 2.0, 100, []
    for line in base64.b64decode(hdr.strip() or b"", validate=False).decode("utf-8", "surrogateescape").split("\n"):
        parts = line.split("\t", 2)
        if parts[0] == "budget" and len(parts) > 1:
            budget = float(parts[1])
        elif parts[0] == "cap" and len(parts) > 1:
            cap = int(parts[1])
        elif parts[0] == "c" and len(parts) == 3 and parts[1] in ("common", "inventory") and len(cands) < 5000:
            cands.append((parts[1], parts[2]))
        elif parts[0] == "u" and len(parts) == 2 and re.fullmatch(r"\d{1,2}", parts[1]) and len(cands) < 5000:
            cands.append(("u", int(parts[1])))
    print("engine python3", flush=True)
    pw, order, noshadow = {}, [], False
    for i, raw in enumerate(inp):
        if i >= 100000:
            break
        line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
        if line == "@@noshadow":
            noshadow = True
            continue
        f = line.split(":")
        if len(f) < 2 or not f[0] or len(f[0]) > 256 or f[0] in pw:
            continue
        pw[f[0]] = f[1]
        order.append(f[0])
    if noshadow:
        print("noshadow")
    try:
        with open("/etc/passwd", "rb") as fh:
            for i, raw in enumerate(fh):
                if i >= 100000:
                    break
                f = raw.decode("utf-8", "surrogateescape").rstrip("\n").split(":")
                if len(f) < 2 or not f[0] or len(f[0]) > 256 or f[0][0] in "+-":
                    continue
                if f[1] == "x" or f[1] == "##" + f[0]:
                    continue
                if f[0] not in pw:
                    order.append(f[0])
                pw[f[0]] = f[1]
    except OSError:
        print("nopasswd")

    def scheme(h):
        if h == "":
            return "empty"
        if h[:1] in "!*":
            return ""
        m = re.match(r"^\$([^$]{1,8})\$", h)
        if m:
            return m.group(1)
        if re.fullmatch(r"[./0-9A-Za-z]{13}", h):
            return "des"
        if re.fullmatch(r"_[./0-9A-Za-z]{19}", h):
            return "bsdi"
        return ""
    year = time.localtime().tm_year

    def user_variants(u):
        return [u, u[:1].upper() + u[1:], u[::-1], u + "123", u + "@123", u[:1].upper() + u[1:] + "@123", u + "1234",
                u + "1", u + str(year), u + str(year - 1), u + "@" + str(year), u[:1].upper() + u[1:] + str(year),
                u.upper(), u + u, u + "12345", u + "123456"]
    members, groups = {}, []
    for n in order:
        h = pw[n]
        s = scheme(h)
        if s == "empty":
            print("account weak empty " + n)
            continue
        if not s:
            continue
        if h not in members:
            members[h] = []
            groups.append(h)
        members[h].append(n)
    lists, pos, done, hit, bad, sch = {}, {}, set(), {}, set(), {}
    for h in groups:
        lst = [("empty", "")]
        uv = [user_variants(n) for n in members[h]]
        for c in cands:
            if c[0] == "u":
                lst += [("username", v[c[1]]) for v in uv if c[1] < len(v)]
            else:
                lst.append(c)
        seen, out = set(), []
        for c in lst:
            if c[1] not in seen:
                seen.add(c[1])
                out.append(c)
        lists[h], pos[h], sch[h] = out[:cap], 0, scheme(h)
    cost, ncost, guesses, stopped, active = {}, {}, 0, False, True
    while active and not stopped:
        active = False
        for h in groups:
            if h in done:
                continue
            s = sch[h]
            est = cost[s] / ncost[s] if ncost.get(s) else 0
            if cpu() + est > budget:
                stopped = True
                break
            c = lists[h][pos[h]]
            a = time.process_time()
            r = crypt(c[1], h)
            cost[s] = cost.get(s, 0) + time.process_time() - a
            ncost[s] = ncost.get(s, 0) + 1
            guesses += 1
            pos[h] += 1
            if r is None or r[:1] == "*" or r[:2] != h[:2]:
                bad.add(h)
                done.add(h)
            elif r == h:
                hit[h] = c
                done.add(h)
            elif pos[h] >= len(lists[h]):
                done.add(h)
            active = True
    byc = {}
    for h in groups:
        for n in members[h]:
            if h in bad:
                print("account untested scheme " + n)
            elif h in hit:
                print("account weak %s %s" % (hit[h][0], n))
            elif h in done:
                print("account clean %d %s" % (len(lists[h]), n))
            else:
                print("account untested budget %d/%d %s" % (pos[h], len(lists[h]), n))
        if h in hit:
            byc.setdefault(hit[h][1], []).append(h)
    g = 0
    for h in groups:
        if h not in hit and len(members[h]) > 1:
            g += 1
            for n in members[h]:
                print("shared %d hash %s" % (g, n))
    for c in sorted(byc, key=lambda c: byc[c][0]):
        m = [n for h in byc[c] for n in members[h]]
        if len(m) > 1:
            g += 1
            for n in m:
                print("shared %d guess %s" % (g, n))
    for s in sorted(ncost):
        print("cost %s %d %.4f" % (s, ncost[s], cost[s]))
    print("cpu %.3f budget %.3f guesses %d" % (cpu(), budget, guesses))
    print("done")
try:
    main()
except Exception:
    print("fatal")
    sys.exit(3)
