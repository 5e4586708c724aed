"""Client of bench/store/mongo: N requests at once on N connections.

Usage: concurrent_client.py PORT PATH N. Connects N clients first, then
sends one GET PATH on each at the same moment and prints
`ms <time until the last answer> statuses <status:count,...>`.
Loopback only; the whole run has a 60 s deadline.
"""
import asyncio
import collections
import sys
import time


async def read_status(reader):
    """Reads one response (Content-Length bodies only); returns the status."""
    head = await reader.readuntil(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b':')
        if name.strip().lower() == b'content-length':
            length = int(value)
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def main(port, path, n):
    conns = [await asyncio.open_connection('127.0.0.1', port) for _ in range(n)]
    request = f'GET {path} HTTP/1.1\r\nHost: b\r\nAccept: application/json\r\n\r\n'.encode()
    start = time.monotonic()
    for _, writer in conns:
        writer.write(request)
    statuses = await asyncio.gather(*(read_status(reader) for reader, _ in conns))
    ms = (time.monotonic() - start) * 1000
    for _, writer in conns:
        writer.close()
    counts = collections.Counter(statuses)
    print('ms %.0f statuses %s' % (ms, ','.join('%d:%d' % kv for kv in sorted(counts.items()))))


if __name__ == '__main__':
    asyncio.run(asyncio.wait_for(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3])), 60))
