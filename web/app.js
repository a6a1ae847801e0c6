// The imgbatch dashboard: upload a CSV, follow recent requests, compare images before and
// after. Plain DOM code with no dependencies, served by imgbatch itself (docs/API.md).
//
// When the API answers 401 (keys are in force, docs/API.md "Authentication"), the page asks
// for a key, keeps it in sessionStorage (this tab's session only) and sends it as
// `Authorization: Bearer` on every API call; the server then lists that key's requests only.
//
// Every string from the server goes into the page through textContent or an attribute,
// never as HTML. The list is polled while a request is unfinished and left alone once
// all have ended; nodes are kept by request id and image position so that a poll updates
// them in place and loaded thumbnails are never reloaded.
'use strict';

(() => {
  const POLL_MS = 1500;
  const RETRY_MS = 5000;
  const LIST_LIMIT = 20;
  const PRODUCTS_PAGE = 50;
  const ENDED = new Set(['completed', 'failed', 'cancelled']);

  const $ = (id) => document.getElementById(id);
  const form = $('upload-form');
  const fileInput = $('file-input');
  const fileName = $('file-name');
  const dropZone = $('drop-zone');
  const uploadButton = $('upload-button');
  const uploadResult = $('upload-result');
  const list = $('requests');
  const listError = $('requests-error');
  const listEmpty = $('requests-empty');
  const keyCard = $('key-card');
  const keyForm = $('key-form');
  const keyInput = $('api-key');
  const keyReason = $('key-reason');
  const forgetKeyButton = $('forget-key');
  const KEY_ITEM = 'imgbatch.apiKey';

  // id -> {summary, item (DOM parts), expanded, productLimit, status (last /status doc)}
  const requests = new Map();
  let pollTimer = null;
  let refreshing = null;
  let apiKey = storedKey();

  // ---- small helpers -------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'className') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function formatBytes(n) {
    if (n < 1000) return `${n} B`;
    if (n < 1000 * 1000) return `${(n / 1000).toFixed(1)} kB`;
    return `${(n / (1000 * 1000)).toFixed(1)} MB`;
  }

  // "75% smaller" (or "3% larger": a tiny, already compressed input can grow).
  function formatSaving(bytesIn, bytesOut) {
    if (!(bytesIn > 0)) return '';
    const percent = Math.round((1 - bytesOut / bytesIn) * 100);
    return percent >= 0 ? `${percent}% smaller` : `${-percent}% larger`;
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? '' : 's'}`;
  }

  // Only http(s) URLs become links or image sources, whatever the server sent.
  function safeUrl(url) {
    if (typeof url !== 'string') return null;
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
    } catch {
      return null;
    }
  }

  function bytesData(className, bytes) {
    return el('data', { className, value: bytes, text: formatBytes(bytes) });
  }

  // Every API call: with the key when there is one; a 401 asks for one.
  async function apiFetch(url, options = {}) {
    const headers = new Headers(options.headers || {});
    if (apiKey) headers.set('Authorization', `Bearer ${apiKey}`);
    const response = await fetch(url, { ...options, headers });
    if (response.status === 401) askForKey(Boolean(apiKey));
    return response;
  }

  async function fetchJson(url, options) {
    const response = await apiFetch(url, options);
    let body = null;
    const type = response.headers.get('Content-Type') || '';
    if (type.includes('json')) body = await response.json().catch(() => null);
    return { response, body };
  }

  // ---- the API key ---------------------------------------------------------------------

  // sessionStorage may be unavailable (a privacy setting): the key then lasts for the page.
  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_ITEM) || '';
    } catch (error) {
      return '';
    }
  }

  function keepKey(key) {
    apiKey = key;
    try {
      if (key) sessionStorage.setItem(KEY_ITEM, key);
      else sessionStorage.removeItem(KEY_ITEM);
    } catch (error) {
      // Kept in memory only.
    }
    forgetKeyButton.hidden = !key;
  }

  // Another key sees other requests: nothing of the previous one's stays on the page.
  function clearRequests() {
    clearTimeout(pollTimer);
    pollTimer = null;
    for (const entry of requests.values()) if (entry.item) entry.item.li.remove();
    requests.clear();
    listEmpty.hidden = true;
  }

  function askForKey(refused) {
    if (refused) keepKey('');
    keyReason.textContent = refused
      ? 'That key was refused: it is wrong or has been revoked. Enter another one.'
      : 'This service needs an API key.';
    const wasHidden = keyCard.hidden;
    keyCard.hidden = false;
    clearRequests();
    if (wasHidden) keyInput.focus();
  }

  keyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = keyInput.value.trim();
    if (!key) {
      keyReason.textContent = 'Enter the key (it starts with ib_).';
      return;
    }
    keyInput.value = '';
    keyCard.hidden = true;
    keepKey(key);
    clearRequests();
    refresh();
  });

  forgetKeyButton.addEventListener('click', () => {
    keepKey('');
    clearRequests();
    refresh();
  });
  forgetKeyButton.hidden = !apiKey;

  function problemText(response, body) {
    if (body && (body.detail || body.title)) return body.detail || body.title;
    return `the server answered ${response.status} ${response.statusText}`;
  }

  // ---- upload --------------------------------------------------------------------------

  function chooseFile(file) {
    fileName.textContent = file ? `${file.name} (${formatBytes(file.size)})` : 'No file chosen';
    dropZone.classList.toggle('has-file', Boolean(file));
  }

  fileInput.addEventListener('change', () => chooseFile(fileInput.files[0]));

  for (const type of ['dragenter', 'dragover']) {
    dropZone.addEventListener(type, (event) => {
      event.preventDefault();
      dropZone.classList.add('dragging');
    });
  }
  for (const type of ['dragleave', 'dragend']) {
    dropZone.addEventListener(type, () => dropZone.classList.remove('dragging'));
  }
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    dropZone.classList.remove('dragging');
    const files = event.dataTransfer && event.dataTransfer.files;
    if (!files || files.length === 0) return;
    fileInput.files = files;
    chooseFile(files[0]);
    // A drop is a clear intent: upload at once, as the file picker plus the button would.
    upload();
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    upload();
  });

  function showUploadMessage(kind, ...children) {
    uploadResult.replaceChildren(el('div', { className: `message ${kind}` }, ...children));
  }

  // Automatic quality replaces the fixed number, and only it takes a target: the field
  // that does not apply is disabled, so that it is neither sent nor mistaken as in force.
  const qualityAuto = $('quality-auto');
  function showQualityMode() {
    form.elements.quality.disabled = qualityAuto.checked;
    form.elements.target.disabled = !qualityAuto.checked;
  }
  qualityAuto.addEventListener('change', showQualityMode);
  showQualityMode();

  // The form's fields as [name, value] pairs, only those the user set, so that the
  // service's defaults apply to the rest (docs/API.md, "POST /upload"). The server checks
  // every value and names the field in its 400.
  function outputFields() {
    const fields = [];
    const text = (name) => form.elements[name].value.trim();
    for (const name of ['webhook_url', 'format', 'max_bytes', 'sizes']) {
      if (text(name)) fields.push([name, text(name)]);
    }
    if (qualityAuto.checked) {
      fields.push(['quality', 'auto']);
      if (text('target')) fields.push(['target', text('target')]);
    } else if (text('quality')) {
      fields.push(['quality', text('quality')]);
    }
    // On by default: sent only to turn it off.
    if (!form.elements.never_larger.checked) fields.push(['never_larger', 'false']);
    return fields;
  }

  async function upload() {
    const file = fileInput.files[0];
    if (!file) {
      showUploadMessage('error', el('p', { text: 'Choose a CSV file first (or drop one above).' }));
      return;
    }
    // A number input holds "" for text that is not a number: say so rather than send
    // nothing and let the default apply unnoticed.
    const notNumber = ['quality', 'target', 'max_bytes']
      .map((name) => form.elements[name])
      .find((input) => !input.disabled && input.validity.badInput);
    if (notNumber) {
      const label = form.querySelector(`label[for="${notNumber.id}"]`);
      showUploadMessage('error', el('p', { text: `${label.textContent}: enter a number.` }));
      notNumber.focus();
      return;
    }
    const data = new FormData();
    data.append('file', file, file.name);
    for (const [name, value] of outputFields()) data.append(name, value);
    uploadButton.disabled = true;
    showUploadMessage('info', el('p', { text: `Uploading ${file.name}…` }));
    try {
      const { response, body } = await fetchJson('/upload', { method: 'POST', body: data });
      if (response.status === 202 && body && body.request_id) {
        showUploadMessage('success',
          el('p', { text: `${body.message || 'Upload accepted.'} Request ` },
            el('code', { className: 'request-id', text: body.request_id })));
        const entry = requests.get(body.request_id) || { expanded: false };
        entry.expanded = true;
        entry.productLimit = PRODUCTS_PAGE;
        requests.set(body.request_id, entry);
        await refresh();
      } else {
        showProblem(response, body, file.name);
      }
    } catch (error) {
      showUploadMessage('error', el('p', { text: `The upload did not reach the server: ${error.message}` }));
    } finally {
      uploadButton.disabled = false;
    }
  }

  // An RFC 9457 problem: its detail, and for a CSV with mistakes each one with its line.
  function showProblem(response, body, name) {
    const parts = [el('p', { className: 'problem-title' },
      el('strong', { text: `${response.status} ${(body && body.title) || response.statusText}` }),
      document.createTextNode(`: ${problemText(response, body)}`))];
    const errors = body && Array.isArray(body.errors) ? body.errors : [];
    if (errors.length > 0) {
      const items = errors.map((problem) => {
        const where = problem.line > 0 ? `${name}, line ${problem.line}` : name;
        const column = problem.column ? ` (${problem.column})` : '';
        return el('li', { className: 'csv-problem', dataset: { line: problem.line } },
          el('span', { className: 'where', text: `${where}${column}: ` }),
          el('span', { className: 'what', text: String(problem.message) }));
      });
      parts.push(el('ul', { className: 'csv-problems' }, ...items));
    }
    showUploadMessage('error', ...parts);
  }

  // ---- the list of requests ------------------------------------------------------------

  function createItem(id) {
    const toggle = el('button', {
      type: 'button', className: 'toggle', 'aria-expanded': 'false',
      'aria-controls': `details-${id}`,
    });
    const idText = el('code', { className: 'request-id', text: id });
    const badge = el('span', { className: 'badge' });
    toggle.append(el('span', { className: 'chevron', 'aria-hidden': 'true' }), idText, badge);

    const created = el('time', { className: 'created' });
    const barSucceeded = el('span', { className: 'bar-succeeded' });
    const barFailed = el('span', { className: 'bar-failed' });
    const bar = el('div', {
      className: 'bar', role: 'progressbar', 'aria-valuemin': 0,
      'aria-label': `Images ended in request ${id}`,
    }, barSucceeded, barFailed);
    const ended = el('data', { className: 'ended' });
    const total = el('data', { className: 'total' });
    const failed = el('data', { className: 'failed-count' });
    const progressText = el('p', { className: 'progress-text' },
      ended, document.createTextNode(' of '), total, document.createTextNode(' images ended · '),
      failed, document.createTextNode(' failed'));
    const csvLink = el('a', { className: 'csv-link', hidden: true, text: 'Output CSV' });
    csvLink.addEventListener('click', (event) => downloadWithKey(event, csvLink));
    // Shown while the request has not ended: DELETE /requests/ID then cancels it.
    const cancelButton = el('button', {
      type: 'button', className: 'secondary cancel-button', hidden: true, text: 'Cancel',
      'aria-label': `Cancel request ${id}`,
    });
    cancelButton.addEventListener('click', () => cancelRequest(id));
    const cancelError = el('p', { className: 'cancel-error error', hidden: true });
    const failure = el('p', { className: 'failure-reason error', hidden: true });
    const details = el('div', { className: 'details', id: `details-${id}`, hidden: true });

    const li = el('li', { className: 'request', dataset: { requestId: id } },
      el('div', { className: 'request-head' }, toggle, created),
      el('div', { className: 'progress' }, bar, progressText),
      el('div', { className: 'request-links' }, csvLink, cancelButton),
      cancelError, failure, details);

    toggle.addEventListener('click', () => {
      const entry = requests.get(id);
      entry.expanded = !entry.expanded;
      entry.productLimit = entry.productLimit || PRODUCTS_PAGE;
      renderExpanded(entry);
      if (entry.expanded) loadDetails(id).then(schedule);
    });

    return { li, toggle, badge, created, bar, barSucceeded, barFailed, ended, total, failed,
      csvLink, cancelButton, cancelError, failure, details, products: new Map() };
  }

  // DELETE on a request that has not ended cancels it; the answer is its new summary.
  async function cancelRequest(id) {
    const entry = requests.get(id);
    if (!entry) return;
    const item = entry.item;
    item.cancelButton.disabled = true;
    item.cancelError.hidden = true;
    try {
      const response = await apiFetch(`/requests/${encodeURIComponent(id)}`, { method: 'DELETE' });
      const type = response.headers.get('Content-Type') || '';
      const body = type.includes('json') ? await response.json().catch(() => null) : null;
      if (response.status === 200 && body && body.request_id === id) {
        entry.summary = body;
        renderSummary(entry);
        if (entry.expanded) loadDetails(id).then(schedule);
        return;
      }
      if (response.status === 401) return;  // apiFetch asks for a key
      item.cancelError.textContent = `Could not cancel: ${problemText(response, body)}`;
      item.cancelError.hidden = false;
      refresh();  // it may have ended meanwhile
    } catch (error) {
      item.cancelError.textContent = `Could not cancel: ${error.message}`;
      item.cancelError.hidden = false;
    } finally {
      item.cancelButton.disabled = false;
    }
  }

  function renderExpanded(entry) {
    entry.item.toggle.setAttribute('aria-expanded', String(entry.expanded));
    entry.item.details.hidden = !entry.expanded;
    entry.item.li.classList.toggle('expanded', entry.expanded);
  }

  function renderSummary(entry) {
    const s = entry.summary;
    const item = entry.item;
    const p = s.progress;
    const done = p.succeeded + p.failed;
    item.li.dataset.status = s.status;
    item.badge.textContent = s.status;
    item.badge.className = `badge status-${s.status}`;
    item.created.dateTime = s.created_at;
    item.created.textContent = new Date(s.created_at).toLocaleString();
    item.ended.value = done;
    item.ended.textContent = String(done);
    item.total.value = p.total;
    item.total.textContent = String(p.total);
    item.failed.value = p.failed;
    item.failed.textContent = String(p.failed);
    item.bar.setAttribute('aria-valuemax', String(p.total));
    item.bar.setAttribute('aria-valuenow', String(done));
    const share = (n) => (p.total > 0 ? `${(100 * n) / p.total}%` : '0%');
    item.barSucceeded.style.width = share(p.succeeded);
    item.barFailed.style.width = share(p.failed);

    const csvUrl = ENDED.has(s.status) ? safeUrl(s.output_csv_url) : null;
    item.csvLink.hidden = !csvUrl;
    item.cancelButton.hidden = ENDED.has(s.status);
    if (csvUrl) item.csvLink.href = csvUrl;
    item.failure.hidden = !s.failure_reason;
    item.failure.textContent = s.failure_reason ? `Failed: ${s.failure_reason}` : '';
    renderExpanded(entry);
  }

  function renderList(summaries) {
    const seen = new Set();
    for (const summary of summaries) {
      seen.add(summary.request_id);
      const entry = requests.get(summary.request_id) || { expanded: false };
      entry.summary = summary;
      if (!entry.item) entry.item = createItem(summary.request_id);
      requests.set(summary.request_id, entry);
      renderSummary(entry);
      list.append(entry.item.li);  // moves existing nodes into the server's order
    }
    for (const [id, entry] of requests) {
      if (!seen.has(id)) {
        if (entry.item) entry.item.li.remove();
        requests.delete(id);
      }
    }
    listEmpty.hidden = summaries.length > 0;
  }

  // A plain link sends no Authorization header: with a key, the file is fetched with it
  // and handed to the browser as a download.
  async function downloadWithKey(event, link) {
    if (!apiKey) return;
    event.preventDefault();
    const response = await apiFetch(link.href);
    if (response.status !== 200) return;
    const url = URL.createObjectURL(await response.blob());
    const name = (/filename="([^"]+)"/.exec(response.headers.get('Content-Disposition') || '') || [])[1];
    const anchor = el('a', { href: url, download: name || 'output.csv' });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ---- one request's products ----------------------------------------------------------

  async function loadDetails(id) {
    const entry = requests.get(id);
    if (!entry || !entry.item) return;
    // An ended request does not change: its products are fetched once per page size.
    if (entry.status && ENDED.has(entry.status.status) &&
        entry.status.limit >= entry.productLimit) return;
    const url = `/status?request_id=${encodeURIComponent(id)}&limit=${entry.productLimit}`;
    try {
      const { response, body } = await fetchJson(url);
      if (response.status !== 200 || !body) {
        entry.item.details.replaceChildren(
          el('p', { className: 'error', text: `Cannot load the products: ${problemText(response, body)}` }));
        return;
      }
      entry.status = body;
      renderDetails(entry);
    } catch (error) {
      entry.item.details.replaceChildren(
        el('p', { className: 'error', text: `Cannot load the products: ${error.message}` }));
    }
  }

  function renderDetails(entry) {
    const doc = entry.status;
    const item = entry.item;
    if (!item.summaryLine) {
      item.settings = el('dl', { className: 'output-settings', 'aria-label': 'Output settings' });
      item.summaryLine = el('p', { className: 'totals' });
      item.productList = el('ul', { className: 'products' });
      item.more = el('button', { type: 'button', className: 'secondary more', hidden: true });
      item.more.addEventListener('click', () => {
        entry.productLimit = Math.min(entry.productLimit + PRODUCTS_PAGE, 1000);
        loadDetails(doc.request_id);
      });
      item.details.replaceChildren(item.settings, item.summaryLine, item.productList, item.more);
    }
    renderSettings(item.settings, doc.output_settings);
    const sizeNames = sizeNamesOf(doc);

    let bytesIn = 0;
    let bytesOut = 0;
    let counted = 0;
    doc.products.forEach((product, index) => {
      let node = item.products.get(index);
      if (!node) {
        node = createProduct();
        item.products.set(index, node);
        item.productList.append(node.li);
      }
      renderProduct(node, product, sizeNames);
      (product.output_image_bytes || []).forEach((out, i) => {
        const input = (product.input_image_bytes || [])[i];
        if (typeof out === 'number' && typeof input === 'number') {
          bytesIn += input;
          bytesOut += out;
          counted += 1;
        }
      });
    });
    for (const [index, node] of item.products) {
      if (index >= doc.products.length) {
        node.li.remove();
        item.products.delete(index);
      }
    }

    const shown = doc.products.length;
    const parts = [];
    if (counted > 0) {
      parts.push(document.createTextNode(`${plural(counted, 'image')} compressed: `),
        bytesData('total-in', bytesIn), document.createTextNode(' → '),
        bytesData('total-out', bytesOut),
        el('span', { className: 'saving', text: ` (${formatSaving(bytesIn, bytesOut)})` }));
    } else {
      parts.push(document.createTextNode('No image compressed yet.'));
    }
    if (doc.products_total > shown) {
      parts.push(document.createTextNode(` Showing ${shown} of ${doc.products_total} products.`));
    }
    item.summaryLine.replaceChildren(...parts);
    item.more.hidden = !(doc.products_total > shown && entry.productLimit < 1000);
    item.more.textContent = `Show ${Math.min(PRODUCTS_PAGE, doc.products_total - shown)} more products`;
  }

  const FORMAT_NAMES = {
    jpeg: 'JPEG', webp: 'WebP', avif: 'AVIF', png: 'PNG', keep: "the input's",
    best: 'the smallest of JPEG, WebP and AVIF',
  };
  function formatName(format) {
    return FORMAT_NAMES[format] || String(format);
  }

  // What the request asked of its outputs (GET /status `output_settings`). Requests made
  // before it existed have none: the list is then hidden.
  function renderSettings(list, settings) {
    const valid = settings && typeof settings === 'object';
    list.hidden = !valid;
    if (!valid) return;
    const key = JSON.stringify(settings);
    if (list.dataset.shown === key) return;  // unchanged: the nodes stay
    list.dataset.shown = key;
    const rows = [];
    const add = (name, label, value, text) => {
      rows.push(el('div', { className: 'setting', dataset: { setting: name } },
        el('dt', { text: label }), el('dd', {}, el('data', { value, text }))));
    };
    if (settings.format) add('format', 'Format', settings.format, formatName(settings.format));
    if (settings.quality === 'auto') {
      add('quality', 'Quality', 'auto', 'automatic');
      if (typeof settings.target === 'number') {
        add('target', 'Target (SSIM)', settings.target, String(settings.target));
      }
    } else if (typeof settings.quality === 'number') {
      add('quality', 'Quality', settings.quality, String(settings.quality));
    }
    if (typeof settings.max_bytes === 'number') {
      add('max_bytes', 'Largest output', settings.max_bytes, formatBytes(settings.max_bytes));
    }
    // The floor those two searches could go down to (the node's --min-quality).
    if (typeof settings.min_quality === 'number') {
      add('min_quality', 'Lowest quality', settings.min_quality, String(settings.min_quality));
    }
    if (typeof settings.never_larger === 'boolean') {
      add('never_larger', 'Never larger', String(settings.never_larger),
        settings.never_larger ? 'yes' : 'no');
    }
    const sizes = Array.isArray(settings.sizes) ? settings.sizes : [];
    if (sizes.length > 0) {
      const value = sizes.map((size) => `${size.name}:${size.width}x${size.height}`).join(',');
      add('sizes', 'Sizes', value,
        sizes.map((size) => `${size.name} ${size.width}×${size.height}`).join(', '));
    }
    list.replaceChildren(...rows);
  }

  // The size names in the order the request gave them; a document without settings
  // falls back on the names its products carry.
  function sizeNamesOf(doc) {
    const settings = doc.output_settings;
    if (settings && Array.isArray(settings.sizes)) {
      return settings.sizes.map((size) => size && size.name)
        .filter((name) => typeof name === 'string');
    }
    const names = new Set();
    for (const product of doc.products) {
      if (product.sizes && typeof product.sizes === 'object') {
        for (const name of Object.keys(product.sizes)) names.add(name);
      }
    }
    return [...names];
  }

  function createProduct() {
    const title = el('h3', { className: 'product-title' });
    const images = el('ul', { className: 'images' });
    return { li: el('li', { className: 'product' }, title, images), title, images, rows: [] };
  }

  function renderProduct(node, product, sizeNames) {
    node.title.textContent = `${product.serial_number} · ${product.product_name}`;
    node.li.dataset.serialNumber = product.serial_number;
    const errors = new Map((product.errors || []).map((e) => [e.index, e]));
    product.input_image_urls.forEach((inputUrl, i) => {
      let row = node.rows[i];
      if (!row) {
        row = createImageRow();
        node.rows[i] = row;
        node.images.append(row.li);
      }
      renderImage(row, {
        product, index: i, inputUrl,
        outputUrl: product.output_image_urls[i],
        bytesIn: (product.input_image_bytes || [])[i],
        bytesOut: (product.output_image_bytes || [])[i],
        report: (product.output_image_reports || [])[i],
        sizes: sizeNames.map((name) => ({
          name, url: ((product.sizes && product.sizes[name]) || [])[i],
        })),
        error: errors.get(i),
      });
    });
  }

  function createThumb(kind, label) {
    const img = el('img', { className: 'thumb-img', loading: 'lazy', decoding: 'async', hidden: true });
    const link = el('a', { className: 'thumb-link', target: '_blank', rel: 'noopener noreferrer' }, img);
    const placeholder = el('span', { className: 'thumb-placeholder', 'aria-hidden': 'true' });
    const size = el('data', { className: `bytes bytes-${kind}` });
    const figure = el('figure', { className: `thumb ${kind}` }, link, placeholder,
      el('figcaption', {}, el('span', { className: 'label', text: `${label} ` }), size));
    const thumb = { figure, link, img, placeholder, size, broken: null };
    // An image that cannot be shown (a 404 at the shop, say) becomes a placeholder rather
    // than a broken-image icon; it is not asked for again.
    img.addEventListener('error', () => {
      thumb.broken = img.getAttribute('src');
      showPlaceholder(thumb, 'no preview');
    });
    return thumb;
  }

  function showPlaceholder(thumb, text) {
    thumb.img.hidden = true;
    thumb.link.removeAttribute('href');
    thumb.placeholder.hidden = false;
    thumb.placeholder.textContent = text;
  }

  function createImageRow() {
    const before = createThumb('before', 'Before');
    const after = createThumb('after', 'After');
    // The other sizes of the image, as small links under the after thumbnail.
    const sizes = el('nav', { className: 'size-links', hidden: true });
    after.figure.append(sizes);
    const saving = el('p', { className: 'saving' });
    const report = el('p', { className: 'report', hidden: true });
    const error = el('p', { className: 'image-error error', hidden: true });
    const li = el('li', { className: 'image' },
      el('div', { className: 'pair' }, before.figure, after.figure), saving, report, error);
    return { li, before, after, sizes, saving, report, error };
  }

  function setThumb(thumb, url, alt, bytes, placeholderText) {
    const safe = safeUrl(url);
    if (!safe) {
      showPlaceholder(thumb, placeholderText);
    } else if (safe === thumb.broken) {
      showPlaceholder(thumb, 'no preview');
    } else {
      if (thumb.img.getAttribute('src') !== safe) thumb.img.src = safe;
      thumb.img.alt = alt;
      thumb.img.hidden = false;
      thumb.link.href = safe;
      thumb.placeholder.hidden = true;
      thumb.placeholder.textContent = '';
    }
    if (typeof bytes === 'number') {
      thumb.size.value = bytes;
      thumb.size.textContent = formatBytes(bytes);
    } else {
      thumb.size.removeAttribute('value');
      thumb.size.textContent = '';
    }
  }

  function renderImage(row, image) {
    const { product, index } = image;
    const position = `image ${index + 1} of ${product.product_name}`;
    const state = image.error ? 'failed' : image.outputUrl ? 'done' : 'pending';
    row.li.dataset.index = String(index);
    row.li.dataset.state = state;
    setThumb(row.before, image.inputUrl, `Original ${position}`, image.bytesIn, '');
    setThumb(row.after, image.outputUrl, `Compressed ${position}`, image.bytesOut,
      state === 'failed' ? 'failed' : 'waiting…');
    row.saving.textContent = state === 'done' ? formatSaving(image.bytesIn, image.bytesOut) : '';
    renderReport(row.report, state === 'done' ? image.report : null);
    renderSizeLinks(row.sizes, image.sizes, position);
    row.error.hidden = !image.error;
    if (image.error) {
      row.error.textContent = `${image.error.message} (${plural(image.error.attempts, 'attempt')})`;
    }
  }

  // What became of a done image (GET /status `output_image_reports[i]`): the quality
  // used, or that the source itself was kept; the SSIM reached when a target was used;
  // the stored format. The bytes in and out are the thumbnails' captions and the saving.
  function renderReport(node, report) {
    const valid = report && typeof report === 'object';
    if (!valid) {
      node.hidden = true;
      node.replaceChildren();
      delete node.dataset.shown;
      return;
    }
    const key = JSON.stringify(report);
    if (node.dataset.shown === key) return;
    node.dataset.shown = key;
    const parts = [];
    if (report.kept === true) {
      parts.push(el('span', {
        className: 'report-kept', text: 'source kept',
        title: 'Re-encoding would not have made it smaller: '
          + 'the download is stored, metadata stripped',
      }));
    } else if (typeof report.quality === 'number') {
      parts.push(document.createTextNode('quality '),
        el('data', {
          className: 'report-quality', value: report.quality, text: String(report.quality),
        }));
    }
    if (typeof report.score === 'number') {
      if (parts.length > 0) parts.push(document.createTextNode(' · '));
      parts.push(document.createTextNode('SSIM '),
        el('data', {
          className: 'report-score', value: report.score, text: report.score.toFixed(4),
        }));
    }
    if (typeof report.format === 'string') {
      if (parts.length > 0) parts.push(document.createTextNode(' · '));
      parts.push(el('data', {
        className: 'report-format', value: report.format, text: formatName(report.format),
      }));
    }
    node.replaceChildren(...parts);
    node.hidden = parts.length === 0;
  }

  // Links to each size of the image once it is done (null URLs are not links yet).
  function renderSizeLinks(nav, sizes, position) {
    const links = sizes.map(({ name, url }) => ({ name, url: safeUrl(url) })).filter((s) => s.url);
    const key = JSON.stringify(links);
    if (nav.dataset.shown === key) return;
    nav.dataset.shown = key;
    nav.hidden = links.length === 0;
    nav.setAttribute('aria-label', `Sizes of ${position}`);
    const parts = [];
    links.forEach(({ name, url }, i) => {
      if (i > 0) parts.push(document.createTextNode(' · '));
      parts.push(el('a', {
        className: 'size-link', href: url, target: '_blank', rel: 'noopener noreferrer',
        dataset: { size: name }, text: name,
      }));
    });
    nav.replaceChildren(...parts);
  }

  // ---- polling -------------------------------------------------------------------------

  function unfinished() {
    for (const entry of requests.values()) {
      if (entry.summary && !ENDED.has(entry.summary.status)) return true;
      if (entry.expanded && entry.status && !ENDED.has(entry.status.status)) return true;
    }
    return false;
  }

  function schedule(delay) {
    clearTimeout(pollTimer);
    pollTimer = null;
    if (delay !== undefined) pollTimer = setTimeout(refresh, delay);
    else if (unfinished()) pollTimer = setTimeout(refresh, POLL_MS);
  }

  async function refresh() {
    // One refresh at a time: a click during a poll waits for it, then runs again.
    if (refreshing) await refreshing.catch(() => {});
    refreshing = (async () => {
      clearTimeout(pollTimer);
      try {
        const { response, body } = await fetchJson(`/requests?limit=${LIST_LIMIT}`);
        // The key prompt is shown (apiFetch); the list waits for a key.
        if (response.status === 401) {
          listError.hidden = true;
          return;
        }
        if (response.status !== 200 || !body) throw new Error(problemText(response, body));
        listError.hidden = true;
        renderList(body.requests);
        const expanded = [...requests.entries()].filter(([, e]) => e.expanded).map(([id]) => id);
        await Promise.all(expanded.map(loadDetails));
        schedule();
      } catch (error) {
        listError.textContent = `Cannot load the requests (${error.message}); trying again…`;
        listError.hidden = false;
        schedule(RETRY_MS);
      }
    })();
    return refreshing;
  }

  $('refresh-button').addEventListener('click', () => refresh());
  refresh();
})();
