// The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core.
// Run by tests/e2e/web_e2e_test.cpp against a running imgbatch whose images come from a
// local origin:
//
//   node dashboard.test.js BASE_URL GOOD_CSV BAD_CSV SCREENSHOT_DIR RELEASE_URL
//
// GOOD_CSV holds one image that the origin keeps until RELEASE_URL is requested, so the
// page can be checked half way through however slow the build is.
// It drops BAD_CSV on the drop zone and checks that each problem of the 400 is shown with
// its line; uploads GOOD_CSV through the file picker with a webhook URL (imgbatch's own
// POST /webhook, which must then be notified), checks the progress shown half way, waits
// until every thumbnail has loaded and compares the numbers on the page (progress, sizes, savings, errors, links)
// with GET /status; checks that polling stops once the request has ended and that a
// 375 px wide screen has no horizontal scrolling; and saves screenshots into
// SCREENSHOT_DIR; uploads one more request and cancels it with its Cancel button; uploads
// two photos with quality=auto and sizes (checkOutputChoices). Exits 0 when every check
// passed, 1 otherwise (each failure printed).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const [baseUrl, goodCsv, badCsv, screenshotDir, releaseUrl] = process.argv.slice(2);
if (!releaseUrl) {
  console.error('usage: node dashboard.test.js BASE_URL GOOD_CSV BAD_CSV SCREENSHOT_DIR RELEASE_URL');
  process.exit(2);
}
const CHROMIUM = process.env.IMGBATCH_CHROMIUM || '/usr/bin/chromium';
const PROCESSING_TIMEOUT_MS = 45000;

const failures = [];
function check(ok, message) {
  if (!ok) failures.push(message);
  return ok;
}
function log(message) {
  console.log(`[dashboard] ${message}`);
}

// The page's own formatting rules, restated: the page must show these exact strings.
function formatBytes(n) {
  if (n < 1000) return `${n} B`;
  if (n < 1000 * 1000) return `${(n / 1000).toFixed(1)} kB`;
  return `${(n / (1000 * 1000)).toFixed(1)} MB`;
}
function formatSaving(bytesIn, bytesOut) {
  const percent = Math.round((1 - bytesOut / bytesIn) * 100);
  return percent >= 0 ? `${percent}% smaller` : `${-percent}% larger`;
}

async function getJson(url) {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

// What the server itself says about BAD_CSV, to compare with what the page shows.
async function expectedProblems() {
  const form = new FormData();
  form.append('file', new Blob([fs.readFileSync(badCsv)], { type: 'text/csv' }), 'bad.csv');
  const response = await fetch(`${baseUrl}/upload`, { method: 'POST', body: form });
  const body = await response.json();
  if (response.status !== 400 || !Array.isArray(body.errors) || body.errors.length === 0) {
    throw new Error(`BAD_CSV should be refused with listed problems; got ${response.status} ${JSON.stringify(body)}`);
  }
  return body;
}

async function checkBadUpload(page) {
  const expected = await expectedProblems();
  // A real drop: a DataTransfer holding the file, dispatched on the drop zone.
  const transfer = await page.evaluateHandle(({ text, name }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], name, { type: 'text/csv' }));
    return dt;
  }, { text: fs.readFileSync(badCsv, 'utf8'), name: path.basename(badCsv) });
  await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer: transfer });
  await page.waitForSelector('#upload-result .message.error .csv-problem', { timeout: 10000 });

  const shown = await page.$$eval('#upload-result .csv-problem', (items) => items.map((li) => ({
    line: Number(li.dataset.line), where: li.querySelector('.where').textContent,
    what: li.querySelector('.what').textContent,
  })));
  const title = await page.textContent('#upload-result .problem-title');
  check(title.includes('400') && title.includes(expected.detail),
    `the problem's status and detail are shown: got "${title}", expected 400 and "${expected.detail}"`);
  check(shown.length === expected.errors.length,
    `every CSV problem is listed: ${shown.length} shown, ${expected.errors.length} from the server`);
  expected.errors.forEach((problem, i) => {
    const item = shown[i] || {};
    check(item.line === problem.line && item.what === problem.message,
      `CSV problem ${i}: shown ${JSON.stringify(item)}, server ${JSON.stringify(problem)}`);
    if (problem.line > 0) {
      check(item.where && item.where.includes(`line ${problem.line}`),
        `CSV problem ${i} names its line ${problem.line}: "${item.where}"`);
    }
  });
  log(`bad CSV dropped: ${shown.length} problems shown with their lines`);
}

async function uploadGood(page) {
  await page.setInputFiles('#file-input', goodCsv);
  // imgbatch's own receiver stands in for the shop's webhook.
  await page.fill('#webhook-url', `${baseUrl}/webhook`);
  check((await page.textContent('#file-name')).includes(path.basename(goodCsv)), 'the chosen file is named');
  await page.click('#upload-button');
  await page.waitForSelector('#upload-result .message.success .request-id', { timeout: 10000 });
  const id = (await page.textContent('#upload-result .request-id')).trim();
  log(`uploaded ${path.basename(goodCsv)}: request ${id}`);
  return id;
}

// GOOD_CSV holds one image that the origin keeps until released: while it is in flight,
// the page must show the request processing with every other image ended, as GET /status
// does. main() releases the image afterwards, whatever was found.
async function checkLiveProgress(page, id) {
  const item = `li.request[data-request-id="${id}"]`;
  await page.waitForFunction((sel) => {
    const li = document.querySelector(sel);
    if (!li || li.dataset.status !== 'processing') return false;
    const ended = Number(li.querySelector('data.ended').value);
    const total = Number(li.querySelector('data.total').value);
    const pending = li.querySelectorAll('li.image[data-state="pending"]').length;
    return total > 0 && ended === total - 1 && pending === 1;
  }, item, { timeout: PROCESSING_TIMEOUT_MS, polling: 50 });
  const shown = await readPage(page, item);
  const doc = await getJson(`${baseUrl}/status?request_id=${id}`);
  check(doc.status === 'processing' && shown.ended === doc.progress.succeeded + doc.progress.failed &&
      shown.total === doc.progress.total && shown.barNow === shown.ended,
    `half way: the page shows ${shown.ended} of ${shown.total} (bar ${shown.barNow}), ` +
      `GET /status ${JSON.stringify(doc.progress)} ${doc.status}`);
  const waiting = shown.products.flatMap((p) => p.images).filter((image) => image.state === 'pending');
  check(waiting.length === 1 && waiting[0].after.src === null,
    'the image in flight has no after thumbnail yet');
  log(`half way: ${shown.ended} of ${shown.total} images ended, as GET /status says`);
}

async function waitUntilDone(page, id) {
  const item = `li.request[data-request-id="${id}"]`;
  await page.waitForSelector(`${item}[data-status="completed"], ${item}[data-status="failed"]`,
    { timeout: PROCESSING_TIMEOUT_MS });
  // The expanded details come with the same refresh: every image must have ended there too.
  await page.waitForFunction((sel) => {
    const images = [...document.querySelectorAll(`${sel} li.image`)];
    return images.length > 0 && images.every((li) => li.dataset.state !== 'pending');
  }, item, { timeout: PROCESSING_TIMEOUT_MS, polling: 100 });
  // Thumbnails load lazily, as a person scrolls: scroll past each, then every thumbnail
  // still shown (one that failed to load becomes a placeholder) must have loaded.
  for (const image of await page.$$(`${item} li.image`)) await image.scrollIntoViewIfNeeded();
  await page.waitForFunction((sel) => {
    const shown = [...document.querySelectorAll(`${sel} li.image img`)].filter((img) => !img.hidden);
    return shown.every((img) => img.complete && img.naturalWidth > 0);
  }, item, { timeout: 15000, polling: 100 });
  await page.evaluate(() => window.scrollTo(0, 0));
  return item;
}

// A request whose one image the origin keeps for a minute: while it is in flight, its
// Cancel button is shown; clicking it (DELETE /requests/ID) makes the page show it
// cancelled, as GET /status then says, and the button goes.
async function checkCancelButton(page) {
  const photo = (/\/hold\/([^,"\s?]+)/.exec(fs.readFileSync(goodCsv, 'utf8')) || [])[1];
  if (!check(Boolean(photo), 'GOOD_CSV names a held photo')) return;
  const origin = new URL(releaseUrl).origin;
  const csv = path.join(screenshotDir, 'cancel-me.csv');
  fs.writeFileSync(csv, `S. No.,Product Name,Input Image Urls\n1,Cancel me,${origin}/sleep/60000/${photo}?cancel\n`);
  await page.setInputFiles('#file-input', csv);
  await page.fill('#webhook-url', '');
  await page.click('#upload-button');
  await page.waitForSelector('#upload-result .message.success .request-id', { timeout: 10000 });
  const id = (await page.textContent('#upload-result .request-id')).trim();
  const item = `li.request[data-request-id="${id}"]`;
  const button = `${item} button.cancel-button`;
  await page.waitForSelector(`${button}:not([hidden])`, { timeout: 10000 });
  const before = await getJson(`${baseUrl}/status?request_id=${id}`);
  check(['pending', 'processing'].includes(before.status), `the request to cancel is open (${before.status})`);
  await page.click(button);
  await page.waitForSelector(`${item}[data-status="cancelled"]`, { timeout: 10000 });
  check(await page.$eval(button, (b) => b.hidden), 'the Cancel button goes once the request is cancelled');
  check((await page.textContent(`${item} .badge`)).trim() === 'cancelled', 'the badge says cancelled');
  const after = await getJson(`${baseUrl}/status?request_id=${id}`);
  check(after.status === 'cancelled', `GET /status says cancelled (got ${after.status})`);
  log(`request ${id} cancelled from its button`);
}

// Output choices through the form (issue 14): a bad size is refused with the server's
// detail; then two photos with quality=auto and two sizes. The request's output settings
// must be what the form sent (the number typed before choosing auto is not sent, the
// default target applies), and for each image the page must show links to its sizes at
// the URLs of GET /status (the thumb loading as an image at most 64 px a side) and its
// report's figures as the status document gives them.
async function checkOutputChoices(page) {
  const photos = [...fs.readFileSync(goodCsv, 'utf8').matchAll(/(https?:\/\/[^,"\s]+\/photos\/[^,"\s?]+)/g)]
    .map((match) => match[1]);
  if (!check(photos.length >= 2, `GOOD_CSV names at least two photos (${photos.length})`)) return;
  const csv = path.join(screenshotDir, 'choices.csv');
  fs.writeFileSync(csv, 'S. No.,Product Name,Input Image Urls\n' +
    `1,Wool scarf,"${photos[0]}?choices,${photos[1]}?choices"\n`);
  await page.setInputFiles('#file-input', csv);
  await page.fill('#webhook-url', '');
  if (!(await page.$eval('details.more-options', (d) => d.open))) await page.click('details.more-options summary');
  await page.fill('#quality', '60');
  check(await page.$eval('#target', (input) => input.disabled), 'the target is disabled while quality is fixed');
  await page.check('#quality-auto');
  check(await page.$eval('#quality', (input) => input.disabled), 'the quality number is disabled with auto');
  check(!(await page.$eval('#target', (input) => input.disabled)), 'the target is enabled with auto');
  check(await page.$eval('#never-larger', (input) => input.checked), 'never larger is checked by default');

  await page.fill('#sizes', 'thumb:64x64,thumb:10x10');
  await page.click('#upload-button');
  await page.waitForSelector('#upload-result .message.error .problem-title', { timeout: 10000 });
  const refused = await page.textContent('#upload-result .problem-title');
  check(refused.includes('400') && refused.includes("sizes: duplicate name 'thumb'"),
    `a duplicate size name is refused with the server's detail: "${refused}"`);

  await page.fill('#sizes', 'thumb:64x64,card:300x300');
  await page.click('#upload-button');
  await page.waitForSelector('#upload-result .message.success .request-id', { timeout: 10000 });
  const id = (await page.textContent('#upload-result .request-id')).trim();
  log(`uploaded ${path.basename(csv)} with quality=auto and two sizes: request ${id}`);
  const item = await waitUntilDone(page, id);
  const doc = await getJson(`${baseUrl}/status?request_id=${id}`);
  const settings = doc.output_settings || {};
  const sizesAsked = (settings.sizes || []).map((size) => `${size.name}:${size.width}x${size.height}`).join(',');
  check(settings.quality === 'auto' && typeof settings.target === 'number' && settings.min_quality === 10 &&
      settings.never_larger === true &&
      sizesAsked === 'thumb:64x64,card:300x300',
    `the form sent quality=auto, no target, never_larger left on, the two sizes: ${JSON.stringify(settings)}`);

  const shown = await page.$eval(item, (li) => ({
    settings: Object.fromEntries([...li.querySelectorAll('.output-settings .setting')]
      .map((node) => [node.dataset.setting, node.querySelector('data').value])),
    images: [...li.querySelectorAll('li.image')].map((image) => {
      const value = (selector) => {
        const node = image.querySelector(selector);
        return node ? node.value : null;
      };
      return {
        state: image.dataset.state,
        sizes: [...image.querySelectorAll('figure.after .size-links a')]
          .map((a) => ({ name: a.dataset.size, text: a.textContent, href: a.href })),
        quality: value('.report .report-quality'),
        score: value('.report .report-score'),
        format: value('.report .report-format'),
        kept: image.querySelector('.report .report-kept') !== null,
        bytesIn: value('figure.before data.bytes'),
        bytesOut: value('figure.after data.bytes'),
        saving: image.querySelector('.saving').textContent,
      };
    }),
  }));
  const expectedSettings = {
    format: settings.format, quality: 'auto', target: String(settings.target),
    min_quality: String(settings.min_quality), never_larger: 'true', sizes: 'thumb:64x64,card:300x300',
  };
  check(JSON.stringify(shown.settings) === JSON.stringify(expectedSettings),
    `output settings shown ${JSON.stringify(shown.settings)}, expected ${JSON.stringify(expectedSettings)}`);

  const product = doc.products[0];
  check(shown.images.length === product.input_image_urls.length,
    `${shown.images.length} images shown, ${product.input_image_urls.length} in the request`);
  for (const [i, image] of shown.images.entries()) {
    const at = `auto image ${i}`;
    const report = product.output_image_reports[i];
    if (!check(image.state === 'done' && report, `${at} is done (${image.state}, ${JSON.stringify(report)})`)) continue;
    const expectedSizes = ['thumb', 'card'].map((name) => ({ name, text: name, href: product.sizes[name][i] }));
    check(JSON.stringify(image.sizes) === JSON.stringify(expectedSizes),
      `${at}: size links ${JSON.stringify(image.sizes)}, GET /status ${JSON.stringify(expectedSizes)}`);
    check(image.kept === report.kept, `${at}: "source kept" shown ${image.kept}, report kept ${report.kept}`);
    check(report.kept ? image.quality === null : image.quality === String(report.quality),
      `${at}: quality shown ${image.quality}, report ${report.quality} (kept ${report.kept})`);
    check(typeof report.score === 'number' && Number(image.score) === report.score,
      `${at}: score shown ${image.score}, report ${report.score}`);
    check(image.format === report.format, `${at}: format shown ${image.format}, report ${report.format}`);
    check(Number(image.bytesIn) === report.bytes_in && Number(image.bytesOut) === report.bytes_out &&
        image.saving === formatSaving(report.bytes_in, report.bytes_out),
      `${at}: bytes shown ${image.bytesIn} → ${image.bytesOut} "${image.saving}", ` +
        `report ${report.bytes_in} → ${report.bytes_out}`);
  }

  // The links lead to the sizes themselves: each loads as an image inside its box.
  const boxes = { thumb: 64, card: 300 };
  const loaded = await page.evaluate((links) => Promise.all(links.map(({ name, href }) => new Promise((done) => {
    const img = new Image();
    img.onload = () => done({ name, href, width: img.naturalWidth, height: img.naturalHeight });
    img.onerror = () => done({ name, href, width: 0, height: 0 });
    img.src = href;
  }))), shown.images.flatMap((image) => image.sizes));
  check(loaded.some((size) => size.name === 'thumb'), 'there are thumb links to load');
  for (const size of loaded) {
    const side = boxes[size.name];
    check(size.width > 0 && size.height > 0 && Math.max(size.width, size.height) <= side,
      `${size.href} loads as an image at most ${side} px a side (${size.width}×${size.height})`);
  }
  log(`request ${id}: ${loaded.length} size links and ${shown.images.length} reports as GET /status says`);
}

async function readPage(page, item) {
  return page.$eval(item, (li) => {
    const value = (node) => (node && node.hasAttribute('value') ? Number(node.value) : null);
    const text = (node) => (node ? node.textContent : null);
    const thumb = (fig) => {
      const img = fig.querySelector('img');
      return {
        src: img.hidden ? null : img.getAttribute('src'),
        alt: img.getAttribute('alt'),
        naturalWidth: img.naturalWidth,
        bytes: value(fig.querySelector('data.bytes')),
        bytesText: text(fig.querySelector('data.bytes')),
      };
    };
    return {
      status: li.dataset.status,
      badge: text(li.querySelector('.badge')),
      ended: value(li.querySelector('data.ended')),
      total: value(li.querySelector('data.total')),
      failed: value(li.querySelector('data.failed-count')),
      progressText: text(li.querySelector('.progress-text')),
      barNow: Number(li.querySelector('.bar').getAttribute('aria-valuenow')),
      barMax: Number(li.querySelector('.bar').getAttribute('aria-valuemax')),
      csvHref: li.querySelector('.csv-link').hidden ? null : li.querySelector('.csv-link').href,
      totalIn: value(li.querySelector('.totals data.total-in')),
      totalOut: value(li.querySelector('.totals data.total-out')),
      totalsText: text(li.querySelector('.totals')),
      products: [...li.querySelectorAll('li.product')].map((product) => ({
        title: text(product.querySelector('.product-title')),
        images: [...product.querySelectorAll('li.image')].map((image) => ({
          state: image.dataset.state,
          before: thumb(image.querySelector('figure.before')),
          after: thumb(image.querySelector('figure.after')),
          saving: text(image.querySelector('.saving')),
          error: image.querySelector('.image-error').hidden ? null : text(image.querySelector('.image-error')),
        })),
      })),
    };
  });
}

function compareWithStatus(shown, doc) {
  const p = doc.progress;
  check(shown.status === doc.status && shown.badge === doc.status,
    `status: page ${shown.status}/${shown.badge}, server ${doc.status}`);
  check(shown.ended === p.succeeded + p.failed && shown.total === p.total && shown.failed === p.failed,
    `progress: page ${shown.ended} of ${shown.total}, ${shown.failed} failed; server ${JSON.stringify(p)}`);
  check(shown.progressText === `${p.succeeded + p.failed} of ${p.total} images ended · ${p.failed} failed`,
    `progress text: "${shown.progressText}"`);
  check(shown.barNow === p.succeeded + p.failed && shown.barMax === p.total,
    `progress bar: ${shown.barNow}/${shown.barMax}`);
  check(shown.csvHref === doc.output_csv_url, `output CSV link: ${shown.csvHref} vs ${doc.output_csv_url}`);
  check(shown.products.length === doc.products.length,
    `products shown: ${shown.products.length}, server: ${doc.products.length}`);

  let totalIn = 0;
  let totalOut = 0;
  doc.products.forEach((product, pi) => {
    const shownProduct = shown.products[pi] || { images: [] };
    check(shownProduct.title === `${product.serial_number} · ${product.product_name}`,
      `product ${pi} title: "${shownProduct.title}"`);
    check(shownProduct.images.length === product.input_image_urls.length,
      `product ${pi}: ${shownProduct.images.length} images shown, ${product.input_image_urls.length} in the CSV`);
    const errors = new Map(product.errors.map((e) => [e.index, e]));
    product.input_image_urls.forEach((inputUrl, i) => {
      const at = `product ${pi} image ${i}`;
      const image = shownProduct.images[i];
      if (!check(image, `${at} is shown`)) return;
      const error = errors.get(i);
      if (error) {
        check(image.state === 'failed', `${at}: failed on the server, "${image.state}" on the page`);
        check(image.error && image.error.includes(error.message),
          `${at}: the error "${error.message}" is shown (page: "${image.error}")`);
        check(image.after.src === null, `${at}: a failed image has no after thumbnail`);
        return;
      }
      const bytesIn = product.input_image_bytes[i];
      const bytesOut = product.output_image_bytes[i];
      totalIn += bytesIn;
      totalOut += bytesOut;
      check(image.state === 'done', `${at}: done on the server, "${image.state}" on the page`);
      check(image.before.src === inputUrl && image.before.naturalWidth > 0,
        `${at}: the before thumbnail is the input URL and loaded (${image.before.src}, width ${image.before.naturalWidth})`);
      check(image.before.alt && image.before.alt.includes(product.product_name), `${at}: before has alt text`);
      check(image.after.alt && image.after.alt.includes(product.product_name), `${at}: after has alt text`);
      check(image.after.src === product.output_image_urls[i] && image.after.naturalWidth > 0,
        `${at}: the after thumbnail is ${product.output_image_urls[i]} and loaded (${image.after.src}, width ${image.after.naturalWidth})`);
      check(image.before.bytes === bytesIn && image.before.bytesText === formatBytes(bytesIn),
        `${at}: size in ${bytesIn} shown as ${image.before.bytes} "${image.before.bytesText}"`);
      check(image.after.bytes === bytesOut && image.after.bytesText === formatBytes(bytesOut),
        `${at}: size out ${bytesOut} shown as ${image.after.bytes} "${image.after.bytesText}"`);
      check(image.saving === formatSaving(bytesIn, bytesOut),
        `${at}: saving "${image.saving}", expected "${formatSaving(bytesIn, bytesOut)}"`);
      check(image.error === null, `${at}: no error shown`);
    });
  });
  check(shown.totalIn === totalIn && shown.totalOut === totalOut,
    `totals: page ${shown.totalIn} → ${shown.totalOut}, server ${totalIn} → ${totalOut}`);
  check(shown.totalsText.includes(formatSaving(totalIn, totalOut)), `total saving: "${shown.totalsText}"`);
}

async function main() {
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`${CHROMIUM} not found: the dashboard test drives Debian's Chromium. ` +
      'Run scripts/install-deps.sh (apt-get install chromium), or set IMGBATCH_CHROMIUM.');
    process.exit(1);
  }
  fs.mkdirSync(screenshotDir, { recursive: true });
  const started = Date.now();
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
    // Chrome logs every failed load as a console error; those are judged by the response
    // check below, which expects exactly two: the 400 of the broken CSV and the shop's 404.
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        pageErrors.push(`console error: ${message.text()}`);
      }
    });
    page.on('response', (answer) => {
      const url = new URL(answer.url());
      const expected = (url.pathname === '/upload' && answer.status() === 400) ||
        (url.origin !== new URL(baseUrl).origin && url.pathname.startsWith('/status/4'));
      if (answer.status() >= 400 && !expected) {
        pageErrors.push(`unexpected answer: ${answer.request().method()} ${answer.url()} ${answer.status()}`);
      }
    });
    let listPolls = 0;
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/requests') listPolls += 1;
    });

    const response = await page.goto(baseUrl, { waitUntil: 'load' });
    check(response.status() === 200, `GET / answered ${response.status()}`);
    check((await page.title()) === 'imgbatch', 'the page title');
    await page.waitForSelector('#requests-empty:not([hidden]), #requests li', { timeout: 10000 });

    await checkBadUpload(page);
    const id = await uploadGood(page);
    try {
      await checkLiveProgress(page, id);
    } finally {
      const released = await fetch(releaseUrl);
      check(released.ok, `the origin released the held image: ${released.status}`);
    }
    const item = await waitUntilDone(page, id);
    log(`request ended and every thumbnail loaded after ${Date.now() - started} ms`);

    const doc = await getJson(`${baseUrl}/status?request_id=${id}`);
    compareWithStatus(await readPage(page, item), doc);

    // The webhook URL typed into the form was the one notified.
    let notified = false;
    for (let i = 0; i < 50 && !notified; i += 1) {
      const { events } = await getJson(`${baseUrl}/webhook/events`);
      notified = events.some((event) => event.body && event.body.request_id === id);
      if (!notified) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    check(notified, 'the webhook URL of the form was notified when the request ended');

    // Everything has ended: the page must stop polling (it polls every 1.5 s otherwise).
    const polls = listPolls;
    await page.waitForTimeout(3500);
    check(listPolls === polls, `polling stopped once the request ended (${listPolls - polls} more polls)`);

    await checkCancelButton(page);
    await checkOutputChoices(page);

    const desktop = path.join(screenshotDir, 'dashboard.png');
    await page.screenshot({ path: desktop, fullPage: true });

    await page.setViewportSize({ width: 375, height: 812 });
    await page.waitForTimeout(200);
    const widths = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
      widest: [...document.querySelectorAll('body *')]
        .map((node) => ({ right: node.getBoundingClientRect().right, name: `${node.tagName.toLowerCase()}.${node.className}` }))
        .filter((box) => box.right > document.documentElement.clientWidth + 0.5)
        .slice(0, 5),
    }));
    check(widths.scroll <= widths.client && widths.widest.length === 0,
      `no horizontal overflow at 375 px: scrollWidth ${widths.scroll}, clientWidth ${widths.client}, ` +
      `too wide: ${JSON.stringify(widths.widest)}`);
    const mobile = path.join(screenshotDir, 'dashboard-375.png');
    await page.screenshot({ path: mobile, fullPage: true });

    for (const error of pageErrors) check(false, error);
    log(`screenshots: ${desktop} ${mobile}`);
  } finally {
    await browser.close();
  }
  log(`took ${Date.now() - started} ms`);
}

main().then(() => {
  if (failures.length > 0) {
    for (const failure of failures) console.error(`FAILED: ${failure}`);
    console.error(`[dashboard] ${failures.length} check(s) failed`);
    process.exit(1);
  }
  log('every check passed');
}, (error) => {
  console.error(`[dashboard] ${error.stack || error}`);
  for (const failure of failures) console.error(`FAILED: ${failure}`);
  process.exit(1);
});
