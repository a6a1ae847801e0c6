// The dashboard with API keys in force, in Debian's headless Chromium (playwright-core).
// Run by tests/e2e/web_e2e_test.cpp against an imgbatch whose database holds two keys:
//
//   node dashboard_keys.test.js BASE_URL TOKEN_A TOKEN_B CSV SCREENSHOT_DIR
//
// The page must ask for a key when the API answers 401, say so when a key is refused,
// keep an accepted key for the tab's session (sessionStorage) and send it, show that key's
// requests only (never the other key's), upload with it, download the output CSV with it,
// and forget it on request; a new browser session asks again. Exits 0 when every check
// passed, 1 otherwise (each failure printed).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const [baseUrl, tokenA, tokenB, csv, screenshotDir] = process.argv.slice(2);
if (!screenshotDir) {
  console.error('usage: node dashboard_keys.test.js BASE_URL TOKEN_A TOKEN_B CSV SCREENSHOT_DIR');
  process.exit(2);
}
const CHROMIUM = process.env.IMGBATCH_CHROMIUM || '/usr/bin/chromium';

const failures = [];
function check(ok, message) {
  if (!ok) failures.push(message);
  return ok;
}
function log(message) {
  console.log(`[dashboard-keys] ${message}`);
}

async function api(pathAndQuery, token, options = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  const response = await fetch(`${baseUrl}${pathAndQuery}`, { ...options, headers });
  return { status: response.status, body: await response.json().catch(() => null) };
}

async function uploadAs(token) {
  const form = new FormData();
  form.append('file', new Blob([fs.readFileSync(csv)], { type: 'text/csv' }), 'products.csv');
  const { status, body } = await api('/upload', token, { method: 'POST', body: form });
  if (status !== 202) throw new Error(`upload with a key: ${status} ${JSON.stringify(body)}`);
  return body.request_id;
}

const shownIds = (page) => page.$$eval('#requests li.request', (items) => items.map((li) => li.dataset.requestId));

async function waitForPrompt(page, what) {
  await page.waitForSelector('#key-card:not([hidden])', { timeout: 10000 })
    .catch(() => check(false, `${what}: the key prompt is shown`));
}

async function main() {
  fs.mkdirSync(screenshotDir, { recursive: true });
  // Tenant B's request exists before the page opens; the page, with key A, never shows it.
  const ofB = await uploadAs(tokenB);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
    const sentKeys = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.origin === new URL(baseUrl).origin && ['/requests', '/status', '/upload'].includes(url.pathname)) {
        sentKeys.push(request.headers().authorization || '');
      }
    });

    await page.goto(baseUrl, { waitUntil: 'load' });
    await waitForPrompt(page, 'first visit');
    check((await page.textContent('#key-reason')).includes('needs an API key'), 'the prompt says a key is needed');
    check((await shownIds(page)).length === 0, 'no request is listed without a key');
    check(await page.isHidden('#forget-key'), 'no "forget" button without a key');

    // A wrong key: refused, said so, not kept.
    await page.fill('#api-key', 'ib_wrong-key');
    await page.click('#key-button');
    await page.waitForFunction(() => document.querySelector('#key-reason').textContent.includes('refused'),
      null, { timeout: 10000 }).catch(() => check(false, 'a wrong key is said to be refused'));
    check(await page.isVisible('#key-card'), 'the prompt stays after a wrong key');
    check(await page.evaluate(() => sessionStorage.getItem('imgbatch.apiKey')) === null,
      'a refused key is not kept');

    // Key A: accepted, kept for the session, sent, and only A's requests shown.
    await page.fill('#api-key', tokenA);
    await page.click('#key-button');
    await page.waitForSelector('#requests-empty:not([hidden])', { timeout: 10000 })
      .catch(() => check(false, 'key A has no requests yet: the empty list is shown'));
    check(await page.isHidden('#key-card'), 'the prompt is gone once a key is accepted');
    check(await page.evaluate(() => sessionStorage.getItem('imgbatch.apiKey')) === tokenA,
      'the key is kept in sessionStorage');
    check(!(await shownIds(page)).includes(ofB), "another key's request is not shown");

    await page.setInputFiles('#file-input', csv);
    await page.click('#upload-button');
    await page.waitForSelector('#upload-result .message.success .request-id', { timeout: 10000 });
    const ofA = (await page.textContent('#upload-result .request-id')).trim();
    await page.waitForSelector(`#requests li[data-request-id="${ofA}"]`, { timeout: 10000 });
    const listA = await api('/requests', tokenA);
    check(listA.body.requests.length === 1 && listA.body.requests[0].request_id === ofA,
      `the upload belongs to key A: ${JSON.stringify(listA.body)}`);
    check(JSON.stringify(await shownIds(page)) === JSON.stringify([ofA]),
      `only key A's request is listed: ${JSON.stringify(await shownIds(page))}`);
    check(sentKeys.length > 0 && sentKeys.slice(-3).every((h) => h === `Bearer ${tokenA}`),
      'API calls carry the key');

    // Once ended, its output CSV downloads with the key (a plain link would get a 401).
    const csvLink = `#requests li[data-request-id="${ofA}"] .csv-link:not([hidden])`;
    await page.waitForSelector(csvLink, { timeout: 45000 });
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), page.click(csvLink)]);
    const saved = path.join(screenshotDir, 'keys-output.csv');
    await download.saveAs(saved);
    check(fs.readFileSync(saved, 'utf8').includes('Output Image Urls'), 'the output CSV downloads with the key');

    // A reload keeps the key (same session): no prompt, A's request listed.
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector(`#requests li[data-request-id="${ofA}"]`, { timeout: 10000 })
      .catch(() => check(false, "after a reload, key A's request is listed again"));
    check(await page.isHidden('#key-card'), 'no prompt after a reload in the same session');
    check(await page.isVisible('#forget-key'), 'the "forget" button shows while a key is kept');
    await page.screenshot({ path: path.join(screenshotDir, 'dashboard-keys.png'), fullPage: true });

    // Forgetting the key asks again and shows nothing of A's.
    await page.click('#forget-key');
    await waitForPrompt(page, 'after "forget"');
    check((await shownIds(page)).length === 0, 'nothing is listed once the key is forgotten');

    // A new browser session has no key: it asks.
    const other = await (await browser.newContext()).newPage();
    await other.goto(baseUrl, { waitUntil: 'load' });
    await waitForPrompt(other, 'a new session');
    await page.screenshot({ path: path.join(screenshotDir, 'dashboard-key-prompt.png'), fullPage: true });

    for (const error of pageErrors) check(false, error);
  } finally {
    await browser.close();
  }
}

main().then(() => {
  if (failures.length > 0) {
    for (const failure of failures) console.error(`FAILED: ${failure}`);
    console.error(`[dashboard-keys] ${failures.length} check(s) failed`);
    process.exit(1);
  }
  log('every check passed');
}, (error) => {
  console.error(`[dashboard-keys] ${error.stack || error}`);
  for (const failure of failures) console.error(`FAILED: ${failure}`);
  process.exit(1);
});
