const specs = Deno.args;
const t0 = performance.now(); let last = t0;
for (const s of specs) { await import(s.startsWith(".") ? new URL(s, "file:///work/main/").href : s); const n = performance.now(); console.log(s.padEnd(36), (n-last).toFixed(0), "ms"); last = n; }
console.log("total", (last-t0).toFixed(0));
