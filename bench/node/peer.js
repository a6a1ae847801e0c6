// The peer imgbatch is compared against: what a user would write instead with Node.js and
// sharp. For every URL: download (fetch, i.e. undici), auto-orient, q50 JPEG, write to
// disk. Usage:
//   node peer.js URLS_FILE OUT_DIR MODE
// MODE "pool":  sharp.concurrency(1) (one libvips thread per image), CORES images in
//               sharp at once: the same shape as imgbatch's workers.
// MODE "threads": sharp's own threading, sharp.concurrency(cores) libvips threads per
//               image, CORES images in sharp at once. (sharp's default on glibc Linux
//               without jemalloc is 1 thread, i.e. mode "pool".)
// Prints one line: peer mode=… images=… failures=… seconds=… images_per_s=…
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const sharp = require('sharp');

const [urlsFile, outDir, mode = 'pool'] = process.argv.slice(2);
if (!urlsFile || !outDir || !['pool', 'threads'].includes(mode)) {
  console.error('usage: node peer.js URLS_FILE OUT_DIR pool|threads');
  process.exit(2);
}
const cores = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
const downloadsInFlight = Number(process.env.PEER_DOWNLOADS || 32);
const processingSlots = cores;
sharp.cache(false);
sharp.concurrency(mode === 'pool' ? 1 : cores);

// A counting semaphore: at most `n` holders at once.
function semaphore(n) {
  let free = n;
  const waiting = [];
  return {
    async acquire() {
      if (free > 0) { free -= 1; return; }
      await new Promise((resolve) => waiting.push(resolve));
    },
    release() {
      const next = waiting.shift();
      if (next) next(); else free += 1;
    },
  };
}

async function main() {
  const urls = fs.readFileSync(urlsFile, 'utf8').split('\n').filter(Boolean);
  fs.mkdirSync(outDir, { recursive: true });
  const processing = semaphore(processingSlots);
  let next = 0;
  let failures = 0;
  let bytesOut = 0;

  async function one(index) {
    const response = await fetch(urls[index], { signal: AbortSignal.timeout(30000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const input = Buffer.from(await response.arrayBuffer());
    await processing.acquire();
    let output;
    try {
      output = await sharp(input, { failOn: 'truncated' }).rotate().jpeg({ quality: 50 }).toBuffer();
    } finally {
      processing.release();
    }
    await fs.promises.writeFile(path.join(outDir, `${index}.jpg`), output);
    bytesOut += output.length;
  }

  async function worker() {
    for (;;) {
      const index = next++;
      if (index >= urls.length) return;
      try { await one(index); } catch (error) {
        failures += 1;
        if (failures <= 3) console.error(`peer: ${urls[index]}: ${error.message}`);
      }
    }
  }

  const cpuStart = process.cpuUsage();  // the whole process, all threads
  const start = performance.now();
  await Promise.all(Array.from({ length: downloadsInFlight }, worker));
  const seconds = (performance.now() - start) / 1000;
  const done = urls.length - failures;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(`peer mode=${mode} sharp_threads=${sharp.concurrency()} slots=${processingSlots} ` +
    `images=${done} failures=${failures} seconds=${seconds.toFixed(3)} ` +
    `images_per_s=${(done / seconds).toFixed(3)} cpu_s=${cpuSeconds.toFixed(3)} ` +
    `cpu_ms_per_image=${(done > 0 ? cpuSeconds * 1000 / done : 0).toFixed(2)} bytes_out=${bytesOut}`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((error) => { console.error(error); process.exit(1); });
