"""Client of bench/app/wait: requests that sleep on one lusty worker.

Usage: wait_client.py PORT PID. Prints `key value` lines that the bash
script turns into a table. Loopback only; every phase has a deadline.
"""
import asyncio
import sys
import time

HOST = '127.0.0.1'
N = 1000
JSON = b'GET /users HTTP/1.1\r\nHost: b\r\nAccept: application/json\r\n\r\n'


def nap(seconds):
    return (f'GET /nap?s={seconds} HTTP/1.1\r\nHost: b\r\n'
            'Accept: application/json\r\n\r\n').encode()


def rss_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise RuntimeError('no VmRSS')


async def read_response(reader):
    """Reads one response (Content-Length bodies only); returns the status."""
    head = await reader.readuntil(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b':')
        if name.strip().lower() == b'content-length':
            length = int(value)
        if name.strip().lower() == b'transfer-encoding':
            raise RuntimeError('chunked answer not handled by this client')
    await reader.readexactly(length)
    return status


async def ask(conn, request):
    reader, writer = conn
    writer.write(request)
    return await read_response(reader)


async def connect_all(n):
    conns = []
    for _ in range(n):
        conns.append(await asyncio.open_connection(HOST, PORT))
    return conns


def close_all(conns):
    for _, writer in conns:
        writer.close()


async def memory(pid):
    """RSS idle, with N idle keep-alive connections, with N suspended requests."""
    await asyncio.sleep(0.3)
    idle = rss_kib(pid)
    conns = await connect_all(N)
    await asyncio.sleep(0.5)  # let the server accept them all
    with_conns = rss_kib(pid)
    tasks = [asyncio.create_task(ask(c, nap(1.5))) for c in conns]
    await asyncio.sleep(0.7)  # all sent and suspended (they sleep 1.5 s)
    suspended = max(rss_kib(pid) for _ in range(5))
    done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    ok = sum(1 for s in done if s == 200)
    close_all(conns)
    print('rss_idle_kib', idle)
    print('rss_conns_kib', with_conns)
    print('rss_suspended_kib', suspended)
    print('memory_ok', ok)


async def burst():
    """N fresh connections, each one request sleeping 0.1 s, all at once."""
    await asyncio.sleep(0.5)
    start = time.monotonic()

    async def one():
        conn = await asyncio.open_connection(HOST, PORT)
        try:
            return await ask(conn, nap(0.1))
        finally:
            conn[1].close()

    done = await asyncio.wait_for(
        asyncio.gather(*[one() for _ in range(N)], return_exceptions=True), 15)
    elapsed = time.monotonic() - start
    errors = [repr(s) for s in done if s != 200]
    print('burst_seconds', f'{elapsed:.3f}')
    print('burst_ok', N - len(errors))
    if errors:
        print('burst_first_error', errors[0].replace(' ', '_'))


async def latency(sleepers, seconds):
    """p50/p99 of GET /users on one connection, with `sleepers` connections
    each keeping one 0.1 s request in flight."""
    stop = False
    naps = 0
    nap_errors = 0
    probe_errors = {}

    async def sleeper(conn):
        nonlocal naps, nap_errors
        while not stop:
            try:
                status = await ask(conn, nap(0.1))
            except (OSError, asyncio.IncompleteReadError):
                nap_errors += 1
                return  # the server closed this connection
            if status == 200:
                naps += 1
            else:
                nap_errors += 1

    conns = await connect_all(sleepers)
    tasks = [asyncio.create_task(sleeper(c)) for c in conns]
    await asyncio.sleep(0.5)  # all sleepers in flight
    probe = await asyncio.open_connection(HOST, PORT)
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        status = await ask(probe, JSON)
        samples.append(time.perf_counter() - t0)
        if status != 200:
            probe_errors[status] = probe_errors.get(status, 0) + 1
        await asyncio.sleep(0.002)  # a steady probe, not a flood
    stop = True
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    probe[1].close()
    close_all(conns)
    samples.sort()
    tag = f'lat{sleepers}'
    print(f'{tag}_n', len(samples))
    print(f'{tag}_p50_ms', f'{samples[len(samples) // 2] * 1000:.2f}')
    print(f'{tag}_p99_ms', f'{samples[int(len(samples) * 0.99)] * 1000:.2f}')
    print(f'{tag}_naps', naps)
    print(f'{tag}_nap_errors', nap_errors)
    print(f'{tag}_probe_errors', ','.join(f'{k}x{v}' for k, v in probe_errors.items()) or 'none')


async def main():
    pid = int(sys.argv[2])
    warm = await asyncio.open_connection(HOST, PORT)
    for _ in range(50):
        await ask(warm, JSON)
    await ask(warm, nap(0.01))
    warm[1].close()
    await memory(pid)
    await burst()
    await latency(0, 3)
    await latency(N, 5)


PORT = int(sys.argv[1])
asyncio.run(main())
