# The server's memory around 2,000 clients that come, send context frames, and go: RSS
# of the real binary at rest, with every record held, after --client-ttl-ms and a sweep
# (every 10 s), then after a second 2,000 clients (memory reused, not grown).
#
#   pip install websockets==13.1
#   python3 bench/scripts/client_churn_rss.py target/debug/gold-box-server
import asyncio, json, subprocess, sys, time, websockets
BIN = sys.argv[1]
def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(("VmRSS", "RssAnon")):
            yield line.split()[1]
async def client(port, n):
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
        await ws.send(json.dumps({"type":"connect","data":{"client_id":f"gb-passer-{n}","token":"t0k","protocol":1,
            "world":{"id":"w","title":"W","system":"dnd5e"},"user":{"id":"u","name":"GM","is_gm":True}}}))
        await ws.recv()
        for _ in range(10):
            await ws.send(json.dumps({"type":"chat_message","data":{"speaker":"A","content":"x"*2000}}))
        await ws.send(json.dumps({"type":"settings_sync","request_id":"s","data":{"revision":1,"settings":{"aiRole":"dm"}}}))
        await ws.recv()
async def main():
    p = subprocess.Popen([BIN,"--port","0","--token","t0k","--admin-token","adm","--data-dir","/tmp/rss-data",
        "--module-dir","/nonexistent","--client-ttl-ms","2000","--log","warn"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(p.stdout.readline().rsplit(":",1)[1])
    time.sleep(0.5)
    base = list(rss(p.pid)); print("baseline VmRSS/RssAnon kB:", base)
    for start in range(0, 2000, 50):
        await asyncio.gather(*(client(port, n) for n in range(start, start+50)))
    held = list(rss(p.pid)); print("after 2000 clients came and went, records held:", held)
    time.sleep(14)
    after = list(rss(p.pid)); print("after the TTL and a sweep:", after)
    for start in range(0, 2000, 50):
        await asyncio.gather(*(client(port, n + 5000) for n in range(start, start+50)))
    time.sleep(14)
    print("a second 2000 clients, then the TTL and a sweep:", list(rss(p.pid)))
    p.terminate(); p.wait()
asyncio.run(main())
