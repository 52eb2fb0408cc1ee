/**
 * Asks GET <url> every 20 ms and prints one JSON line per answer:
 * {"at": epoch ms when asked, "ms": latency}. A process of its own, so that
 * nothing else in it (the bench's S3 server) delays the measurement.
 *
 *   deno run -A bench/health_poller.ts http://127.0.0.1:PORT/health
 */
const [url] = Deno.args;
for (;;) {
  const at = Date.now();
  const t0 = performance.now();
  try {
    const res = await fetch(url);
    await res.body?.cancel();
    console.log(JSON.stringify({ at, ms: performance.now() - t0, status: res.status }));
  } catch {
    console.log(JSON.stringify({ at, ms: performance.now() - t0, status: 0 }));
  }
  await new Promise((r) => setTimeout(r, 20));
}
