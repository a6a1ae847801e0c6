// docs/openapi.yaml against the real server, so that the description cannot drift from the
// behaviour. Run by tests/e2e/web_e2e_test.cpp against a running imgbatch (started with
// --max-upload-bytes 65536) and a local image origin:
//
//   node openapi_check.js BASE_URL ORIGIN_URL SPEC_FILE ROUTES_FILE
//
// 1. SPEC_FILE is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator), and
//    GET /openapi.yaml serves exactly it.
// 2. Real requests, good and bad, reach every documented operation; each answer's status
//    must be documented for its operation, its Content-Type must be one the operation
//    lists, its required headers must be there, and a JSON body must validate against
//    the documented schema (ajv, JSON Schema 2020-12, formats checked).
// 3. Every route the server mounts (ROUTES_FILE, one "METHOD /path/:param" a line, listed
//    by the C++ test from the route groups) is documented, and for every documented path
//    the 405 of an undocumented method names exactly the documented methods in `Allow`.
// Exits 0 when every check passed, 1 otherwise (each failure printed).
'use strict';

const fs = require('node:fs');
const YAML = require('yaml');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

const [baseUrl, originUrl, specFile, routesFile] = process.argv.slice(2);
if (!routesFile) {
  console.error('usage: node openapi_check.js BASE_URL ORIGIN_URL SPEC_FILE ROUTES_FILE');
  process.exit(2);
}

const failures = [];
const exercised = new Set();  // "METHOD template"
const getsMade = new Map();  // template -> the path of the first plain GET of it
let answersChecked = 0;
function check(ok, message) {
  if (!ok) failures.push(message);
  return ok;
}
function log(message) {
  console.log(`[openapi] ${message}`);
}

const specText = fs.readFileSync(specFile, 'utf8');
const spec = YAML.parse(specText);
const SPEC_ID = 'https://imgbatch.invalid/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
ajv.addSchema({ ...spec, $id: SPEC_ID });
const validators = new Map();

function pointerSegment(s) {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}
function resolve(node, pointer) {
  // Follows a local $ref (components/responses, components/headers, …) once or more.
  while (node && node.$ref) {
    pointer = node.$ref.slice(1);
    node = pointer.split('/').slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((n, key) => (n ? n[key] : undefined), spec);
  }
  return { node, pointer };
}
function validatorFor(pointer) {
  if (!validators.has(pointer)) validators.set(pointer, ajv.compile({ $ref: `${SPEC_ID}#${pointer}` }));
  return validators.get(pointer);
}

// The operation of a concrete method and path: the template whose pattern matches.
function operationFor(method, pathname) {
  for (const [template, item] of Object.entries(spec.paths)) {
    const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&')
      .replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`);
    if (pattern.test(pathname)) {
      const op = item[method.toLowerCase()];
      return { template, op, item };
    }
  }
  return { template: null, op: null, item: null };
}

// Sends a request, checks its answer against the description, and returns it.
async function call(method, path, { body, headers, label } = {}) {
  const url = new URL(path, baseUrl);
  const response = await fetch(url, { method, body, headers, redirect: 'manual' });
  const bytes = Buffer.from(await response.arrayBuffer());
  const name = `${label ? `${label}: ` : ''}${method} ${url.pathname}${url.search}`;
  checkAnswer(name, method, url.pathname, response, bytes);
  const { template } = operationFor(method, url.pathname);
  if (method === 'GET' && template && !headers && !getsMade.has(template)) {
    getsMade.set(template, path);
  }
  let json = null;
  if ((response.headers.get('content-type') || '').includes('json')) {
    try { json = JSON.parse(bytes.toString('utf8')); } catch { json = null; }
  }
  return { status: response.status, headers: response.headers, text: bytes.toString('utf8'), json, bytes };
}

function checkAnswer(name, method, pathname, response, bytes) {
  answersChecked += 1;
  const { template, op } = operationFor(method, pathname);
  if (!check(op, `${name}: no operation in the description for ${method} ${pathname}`)) return;
  exercised.add(`${method.toUpperCase()} ${template}`);
  const status = String(response.status);
  const opPointer = `/paths/${pointerSegment(template)}/${method.toLowerCase()}`;
  const documented = op.responses[status];
  if (!check(documented, `${name}: answered ${status}, which ${method} ${template} does not document ` +
      `(documented: ${Object.keys(op.responses).join(', ')}); body: ${bytes.toString('utf8').slice(0, 300)}`)) return;
  const { node: answer, pointer: answerPointer } =
    resolve(documented, `${opPointer}/responses/${status}`);

  for (const [header, headerDoc] of Object.entries(answer.headers || {})) {
    const { node: h, pointer: hPointer } =
      resolve(headerDoc, `${answerPointer}/headers/${pointerSegment(header)}`);
    const value = response.headers.get(header);
    if (h.required) check(value !== null, `${name}: the required header ${header} is missing`);
    if (value !== null && h.schema) {
      const validate = validatorFor(`${hPointer}/schema`);
      check(validate(value), `${name}: header ${header}: "${value}" does not match its schema: ` +
        `${ajv.errorsText(validate.errors)}`);
    }
  }

  const contentType = response.headers.get('content-type');
  if (!answer.content) {
    check(bytes.length === 0, `${name}: ${status} documents no body but one came (${bytes.length} bytes)`);
    return;
  }
  const mediaType = (contentType || '').split(';')[0].trim().toLowerCase();
  const media = answer.content[mediaType];
  if (!check(media, `${name}: Content-Type "${contentType}" is not documented for ${status} ` +
      `(documented: ${Object.keys(answer.content).join(', ')})`)) return;
  if (!mediaType.endsWith('json') || !media.schema) return;
  let json;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    check(false, `${name}: the ${mediaType} body does not parse: ${error.message}`);
    return;
  }
  const validate = validatorFor(`${answerPointer}/content/${pointerSegment(mediaType)}/schema`);
  check(validate(json), `${name}: the body does not match the ${status} schema: ` +
    `${ajv.errorsText(validate.errors, { separator: '; ' })}\n  body: ${JSON.stringify(json).slice(0, 600)}`);
}

function form(fields) {
  const data = new FormData();
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'file') data.append('file', new Blob([value], { type: 'text/csv' }), 'products.csv');
    else data.append(key, value);
  }
  return data;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function checkSpecItself() {
  const { Validator } = await import('@seriousme/openapi-schema-validator');
  const validator = new Validator();
  const result = await validator.validate(spec);
  check(result.valid, `docs/openapi.yaml is not a valid OpenAPI 3.1 document: ${JSON.stringify(result.errors, null, 1)}`);
  check(spec.openapi.startsWith('3.1'), `the description is OpenAPI 3.1 (says ${spec.openapi})`);

  const served = await call('GET', '/openapi.yaml');
  check(served.status === 200 && served.text === specText,
    'GET /openapi.yaml serves docs/openapi.yaml byte for byte (rebuild imgbatch after editing it)');
  const etag = served.headers.get('etag');
  const again = await call('GET', '/openapi.yaml', { headers: { 'If-None-Match': etag } });
  check(again.status === 304, `GET /openapi.yaml with its ETag gives 304 (got ${again.status})`);
}

async function checkDashboardFiles() {
  const page = await call('GET', '/');
  check(page.status === 200 && page.text.includes('<script src="/web/app.js"'), 'GET / is the dashboard');
  check((page.headers.get('content-security-policy') || '').includes("script-src 'self'"),
    'the dashboard has a Content-Security-Policy');
  const revalidated = await call('GET', '/', { headers: { 'If-None-Match': page.headers.get('etag') } });
  check(revalidated.status === 304, `GET / with its ETag gives 304 (got ${revalidated.status})`);
  for (const file of ['app.js', 'style.css']) {
    const asset = await call('GET', `/web/${file}`);
    check(asset.status === 200 && asset.bytes.length > 100, `GET /web/${file} serves the file`);
  }
  const missing = await call('GET', '/web/missing.js');
  check(missing.status === 404, `GET /web/missing.js is 404 (got ${missing.status})`);
}

async function checkService() {
  const health = await call('GET', '/health');
  check(health.status === 200, `GET /health is 200 (got ${health.status})`);
  const metrics = await call('GET', '/metrics');
  check(metrics.status === 200 && /^# (HELP|TYPE) /m.test(metrics.text),
    `GET /metrics is Prometheus text (got ${metrics.status})`);
  const hook = await call('POST', '/webhook', {
    body: JSON.stringify({ request_id: 'x', status: 'completed' }),
    headers: { 'Content-Type': 'application/json', 'webhook-id': 'msg_openapi_check' },
  });
  check(hook.status === 200, `POST /webhook with JSON is 200 (got ${hook.status})`);
  const notJson = await call('POST', '/webhook', { body: 'not json', headers: { 'Content-Type': 'text/plain' } });
  check(notJson.status === 400, `POST /webhook with a body that is not JSON is 400 (got ${notJson.status})`);
  const events = await call('GET', '/webhook/events');
  check(events.json && events.json.events.some((e) => e.id === 'msg_openapi_check'),
    'GET /webhook/events lists the notification just received');
}

async function checkBadUploads() {
  const badCsv = 'S. No.,Product Name,Input Image Urls\n1,Shirt,https://shop.example/a.jpg\n2,,not-a-url\n';
  const bad = await call('POST', '/upload', { body: form({ file: badCsv }), label: 'CSV with problems' });
  check(bad.status === 400 && bad.json && bad.json.errors && bad.json.errors.some((e) => e.line === 3),
    `a CSV with problems is 400 with its lines listed (got ${bad.status} ${bad.text.slice(0, 200)})`);
  const noFile = await call('POST', '/upload', { body: form({ webhook_url: 'https://hooks.example/x' }), label: 'no file' });
  check(noFile.status === 400, `an upload without file is 400 (got ${noFile.status})`);
  const badQuality = await call('POST', '/upload', {
    body: form({ file: 'S. No.,Product Name,Input Image Urls\n1,A,https://shop.example/a.jpg\n', quality: '0' }),
    label: 'quality 0',
  });
  check(badQuality.status === 400, `quality 0 is 400 (got ${badQuality.status})`);
  const notForm = await call('POST', '/upload', {
    body: '{"file": "x"}', headers: { 'Content-Type': 'application/json' }, label: 'not multipart',
  });
  check(notForm.status === 415, `a JSON upload is 415 (got ${notForm.status})`);
  const big = 'S. No.,Product Name,Input Image Urls\n' +
    '1,A,https://shop.example/a.jpg\n'.repeat(3000);  // ~90 kB > --max-upload-bytes 65536
  const tooLarge = await call('POST', '/upload', { body: form({ file: big }), label: 'too large' });
  check(tooLarge.status === 413, `an upload over --max-upload-bytes is 413 (got ${tooLarge.status})`);
}

async function checkStatusErrors() {
  const unknown = '123e4567-e89b-12d3-a456-426614174000';
  const checks = [
    ['/status', 400], ['/status?request_id=nope', 400], [`/status?request_id=${unknown}`, 404],
    [`/status?request_id=${unknown}&limit=-1`, 400], ['/requests?limit=abc', 400],
    [`/requests/${unknown}/output.csv`, 404], [`/images/${unknown}/0-0.jpg`, 404],
  ];
  for (const [path, expected] of checks) {
    const answer = await call('GET', path);
    check(answer.status === expected, `GET ${path} is ${expected} (got ${answer.status})`);
  }
  const deleteUnknown = await call('DELETE', `/requests/${unknown}`);
  check(deleteUnknown.status === 404, `DELETE of an unknown request is 404 (got ${deleteUnknown.status})`);
}

// A real request: one image that a slow origin keeps in flight (so the request is seen
// processing, and its output.csv refused with 409), one fine, one 404.
async function checkRequestLifecycle() {
  const csv = 'S. No.,Product Name,Input Image Urls\n' +
    `1,Shirt,"${originUrl}/photos/Aqua.jpg?openapi,${originUrl}/sleep/2500/FreshFlower.jpg"\n` +
    `2,Shoe,${originUrl}/status/404\n`;
  const key = `openapi-check-${Date.now()}`;
  const accepted = await call('POST', '/upload', {
    body: form({ file: csv, webhook_url: '', quality: '60', format: 'jpeg' }),
    headers: { 'Idempotency-Key': key }, label: 'valid upload',
  });
  if (!check(accepted.status === 202, `a valid upload is 202 (got ${accepted.status} ${accepted.text})`)) return;
  const id = accepted.json.request_id;
  check(accepted.headers.get('location') === `/status?request_id=${id}`, 'Location names the status URL');

  const replay = await call('POST', '/upload', { body: form({ file: csv, webhook_url: '', quality: '60', format: 'jpeg' }),
    headers: { 'Idempotency-Key': key }, label: 'replayed upload' });
  check(replay.status === 202 && replay.json.request_id === id && replay.headers.get('idempotent-replayed') === 'true',
    `the same Idempotency-Key and upload replays the first answer (got ${replay.status} ${replay.text})`);
  const conflict = await call('POST', '/upload', { body: form({ file: `${csv}3,Hat,${originUrl}/photos/Aqua.jpg\n` }),
    headers: { 'Idempotency-Key': key }, label: 'key reused' });
  check(conflict.status === 422, `the same Idempotency-Key with another upload is 422 (got ${conflict.status})`);

  const early = await call('GET', `/status?request_id=${id}`, { label: 'while processing' });
  check(['pending', 'processing'].includes(early.json && early.json.status),
    `right after the upload the request is pending or processing (got ${early.json && early.json.status})`);
  const notYet = await call('GET', `/requests/${id}/output.csv`, { label: 'while processing' });
  check(notYet.status === 409, `output.csv before the end is 409 (got ${notYet.status})`);
  const page = await call('GET', `/status?request_id=${id.toUpperCase()}&offset=1&limit=1`, { label: 'a page' });
  check(page.json && page.json.products.length === 1 && page.json.products[0].serial_number === '2',
    'offset and limit page through the products');

  let doc = early.json;
  const deadline = Date.now() + 30000;
  while (!['completed', 'failed'].includes(doc.status) && Date.now() < deadline) {
    await sleep(250);
    doc = (await call('GET', `/status?request_id=${id}`, { label: 'polling' })).json;
  }
  check(doc.status === 'completed', `the request completes (status ${doc.status})`);
  check(doc.progress.succeeded === 2 && doc.progress.failed === 1,
    `two images succeed and one fails (${JSON.stringify(doc.progress)})`);

  const list = await call('GET', '/requests?limit=5');
  check(list.json && list.json.requests.some((r) => r.request_id === id), 'GET /requests lists the request');
  const clamped = await call('GET', '/requests?limit=100000&offset=0');
  check(clamped.json && clamped.json.limit === 500, `a limit over 500 is taken as 500 (got ${clamped.text.slice(0, 100)})`);
  const csvOut = await call('GET', `/requests/${id}/output.csv`);
  check(csvOut.status === 200 && csvOut.text.startsWith('S. No.,Product Name,Input Image Urls,Output Image Urls'),
    `output.csv when completed (got ${csvOut.status})`);

  const imageUrl = new URL(doc.products[0].output_image_urls[0]);
  const image = await call('GET', imageUrl.pathname);
  check(image.status === 200 && image.bytes[0] === 0xff && image.bytes[1] === 0xd8, 'the image is a JPEG');
  check(image.bytes.length === doc.products[0].output_image_bytes[0],
    `output_image_bytes is the size served (${doc.products[0].output_image_bytes[0]} vs ${image.bytes.length})`);
  const cached = await call('GET', imageUrl.pathname, { headers: { 'If-None-Match': image.headers.get('etag') } });
  check(cached.status === 304, `the image with its ETag gives 304 (got ${cached.status})`);
}

// The output choices of issue 14: bad fields are refused naming the field; a request with
// quality=auto, a target, max_bytes, never_larger=false and a size answers documents that
// carry output_settings, each product's sizes and reports (all checked against the
// description by call()), and the size's image is served. A document without those
// members, as made before they existed, must still match the description.
async function checkOutputChoices() {
  const csv = 'S. No.,Product Name,Input Image Urls\n' +
    `1,Scarf,${originUrl}/photos/FreshFlower.jpg?choices\n`;
  for (const [field, value] of [['quality', 'auto7'], ['sizes', 'thumb:0x10'], ['max_bytes', '-1'],
    ['target', '0.9'], ['never_larger', 'maybe']]) {
    const bad = await call('POST', '/upload', { body: form({ file: csv, [field]: value }), label: `${field}=${value}` });
    check(bad.status === 400 && bad.json && bad.json.detail.startsWith(`${field}: `),
      `${field}=${value} is 400 with a detail naming the field (got ${bad.status} ${bad.text.slice(0, 200)})`);
  }
  const accepted = await call('POST', '/upload', {
    body: form({ file: csv, quality: 'auto', target: '0.9', max_bytes: '1000000', never_larger: 'false',
      sizes: 'thumb:64x64', format: 'jpeg' }),
    label: 'output choices',
  });
  if (!check(accepted.status === 202, `an upload with output choices is 202 (got ${accepted.status} ${accepted.text})`)) return;
  const id = accepted.json.request_id;
  let doc = null;
  const deadline = Date.now() + 60000;
  do {
    if (doc) await sleep(250);
    doc = (await call('GET', `/status?request_id=${id}`, { label: 'output choices' })).json;
  } while (doc && !['completed', 'failed'].includes(doc.status) && Date.now() < deadline);
  if (!check(doc && doc.status === 'completed' && doc.progress.succeeded === 1,
    `the request with output choices completes with its image (${doc && JSON.stringify(doc.progress)})`)) return;
  const settings = doc.output_settings;
  check(settings && settings.quality === 'auto' && settings.target === 0.9 && settings.max_bytes === 1000000 &&
      settings.never_larger === false && settings.sizes.length === 1 && settings.sizes[0].name === 'thumb',
    `output_settings are the upload's: ${JSON.stringify(settings)}`);
  const product = doc.products[0];
  const report = product.output_image_reports && product.output_image_reports[0];
  check(report && typeof report.quality === 'number' && typeof report.score === 'number' && report.kept === false &&
      report.bytes_out === product.output_image_bytes[0],
    `the image's report has the quality and score used: ${JSON.stringify(report)}`);
  const thumbUrl = product.sizes && product.sizes.thumb && product.sizes.thumb[0];
  if (check(typeof thumbUrl === 'string', `the product lists its thumb: ${JSON.stringify(product.sizes)}`)) {
    const thumb = await call('GET', new URL(thumbUrl).pathname, { label: 'a size' });
    check(thumb.status === 200 && thumb.bytes[0] === 0xff && thumb.bytes[1] === 0xd8,
      `the thumb is served as a JPEG (got ${thumb.status})`);
  }

  const old = JSON.parse(JSON.stringify(doc));
  delete old.output_settings;
  for (const p of old.products) {
    delete p.output_image_reports;
    delete p.sizes;
  }
  const validate = validatorFor('/components/schemas/StatusPage');
  check(validate(old), `a status document without the issue 14 members still matches: ${ajv.errorsText(validate.errors)}`);
  const webhook = validatorFor('/components/schemas/StatusDocument');
  check(webhook(old) && webhook(doc), `the webhook body, with and without them, matches: ${ajv.errorsText(webhook.errors)}`);
}

// HEAD on every GET route called above: the GET's status and headers, Content-Length the
// length of the GET's body, and no body.
// DELETE of a request that has not ended cancels it (200 with its summary, checked against
// the spec like every answer); a second DELETE deletes it (204). Its image sleeps at the
// origin, so the request is still open when the first DELETE comes.
async function checkCancel() {
  const csv = 'S. No.,Product Name,Input Image Urls\n' +
    `1,Shirt,"${originUrl}/sleep/2500/Aqua.jpg?cancel,${originUrl}/sleep/2500/FreshFlower.jpg?cancel"\n`;
  const accepted = await call('POST', '/upload', { body: form({ file: csv }), label: 'to cancel' });
  if (!check(accepted.status === 202, `an upload to cancel is 202 (got ${accepted.status})`)) return;
  const id = accepted.json.request_id;
  const cancelled = await call('DELETE', `/requests/${id}`, { label: 'cancel' });
  check(cancelled.status === 200 && cancelled.json && cancelled.json.status === 'cancelled',
    `DELETE before the end cancels: 200 with status cancelled (got ${cancelled.status} ${cancelled.text})`);
  const doc = (await call('GET', `/status?request_id=${id}`, { label: 'cancelled' })).json;
  check(doc && doc.status === 'cancelled', `the status is then cancelled (got ${doc && doc.status})`);
  const csvOut = await call('GET', `/requests/${id}/output.csv`, { label: 'cancelled' });
  check(csvOut.status === 200, `output.csv of a cancelled request is 200 (got ${csvOut.status})`);
  const deleted = await call('DELETE', `/requests/${id}`, { label: 'cancelled' });
  check(deleted.status === 204, `a second DELETE deletes it (got ${deleted.status})`);
}

async function checkHeads() {
  for (const [template, path] of getsMade) {
    const { op } = operationFor('HEAD', new URL(path, baseUrl).pathname);
    if (!check(op, `GET ${template} has no documented HEAD`)) continue;
    const getResponse = await fetch(new URL(path, baseUrl));
    const get = { status: getResponse.status, headers: getResponse.headers,
      length: Buffer.from(await getResponse.arrayBuffer()).length };
    const response = await fetch(new URL(path, baseUrl), { method: 'HEAD' });
    const bytes = Buffer.from(await response.arrayBuffer());
    exercised.add(`HEAD ${template}`);
    const name = `HEAD ${path}`;
    check(op.responses[String(response.status)] || op.responses.default,
      `${name}: answered ${response.status}, which is not documented`);
    check(response.status === get.status, `${name}: ${response.status}, but GET gave ${get.status}`);
    check(bytes.length === 0, `${name}: a body came (${bytes.length} bytes)`);
    for (const header of ['content-type', 'etag', 'cache-control']) {
      check(response.headers.get(header) === get.headers.get(header),
        `${name}: ${header} "${response.headers.get(header)}" differs from GET's "${get.headers.get(header)}"`);
    }
    // The metrics count every request, this GET included, so their length moves.
    check(template === '/metrics' ? Number(response.headers.get('content-length')) > 0
      : response.headers.get('content-length') === String(get.length),
      `${name}: Content-Length ${response.headers.get('content-length')}, GET's body was ${get.length} bytes`);
  }
}

// Every documented path answers an undocumented method with 405 naming exactly its
// documented methods; every mounted route is documented.
async function checkRoutes() {
  for (const [template, item] of Object.entries(spec.paths)) {
    const documented = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase()).sort();
    const concrete = template.replace(/\{[^}]+\}/g, (param) => (param === '{file}' ? 'app.js' : '0-0.jpg'));
    // PATCH: a method no path of the API has.
    const response = await fetch(new URL(concrete, baseUrl), { method: 'PATCH' });
    await response.arrayBuffer();
    const allow = (response.headers.get('allow') || '').split(',').map((m) => m.trim()).filter(Boolean).sort();
    check(response.status === 405 && JSON.stringify(allow) === JSON.stringify(documented),
      `PATCH ${concrete}: expected 405 with Allow ${documented.join(', ')}; got ${response.status} ` +
      `with Allow "${response.headers.get('allow')}"`);
  }
  const routes = fs.readFileSync(routesFile, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  check(routes.length > 0, `${routesFile} lists the server's routes`);
  for (const route of routes) {
    const [method, path] = route.split(/\s+/);
    const concrete = path.replace(/:(\w+)/g, 'sample');
    const { op } = operationFor(method, concrete);
    check(op, `the server mounts ${method} ${path}, which docs/openapi.yaml does not document`);
  }
  // Every documented operation was called above, so none describes a route that is gone.
  for (const [template, item] of Object.entries(spec.paths)) {
    for (const method of METHODS.filter((m) => item[m])) {
      check(exercised.has(`${method.toUpperCase()} ${template}`),
        `${method.toUpperCase()} ${template} is documented but this check never called it`);
    }
  }
}

async function main() {
  const started = Date.now();
  await checkSpecItself();
  await checkDashboardFiles();
  await checkService();
  await checkBadUploads();
  await checkStatusErrors();
  await checkRequestLifecycle();
  await checkCancel();
  await checkOutputChoices();
  await checkHeads();
  await checkRoutes();
  log(`${answersChecked} answers checked against ${specFile} in ${Date.now() - started} ms`);
}

main().then(() => {
  if (failures.length > 0) {
    for (const failure of failures) console.error(`FAILED: ${failure}`);
    console.error(`[openapi] ${failures.length} check(s) failed`);
    process.exit(1);
  }
  log('every check passed');
}, (error) => {
  console.error(`[openapi] ${error.stack || error}`);
  for (const failure of failures) console.error(`FAILED: ${failure}`);
  process.exit(1);
});
