// A webhook receiver for the end-to-end tests that checks imgbatch's notifications with
// the reference Standard Webhooks library (npm `standardwebhooks`), not with our own code.
//
//   node receiver.js PORT SECRET [FAIL_FIRST]
//
// POST to any other path: the body and headers are verified with
//   new Webhook(SECRET).verify(body, headers)
// and recorded; the first FAIL_FIRST notifications are answered 500, later ones 200.
// GET /received: every notification so far, oldest first, as JSON:
//   [{path, id, timestamp, signature, verified, error, answered, body}, …]
// POST /sign?id=ID&timestamp=SECONDS: the body signed by the library ("v1,…"), so tests can
// also send the library's signatures to imgbatch's own receiver.
// Prints "listening on PORT" once it accepts connections. Binds 127.0.0.1 only.
'use strict';

const http = require('node:http');
const { Webhook } = require('standardwebhooks');

const [portArg, secret, failFirstArg] = process.argv.slice(2);
if (!portArg || !secret) {
  console.error('usage: node receiver.js PORT SECRET [FAIL_FIRST]');
  process.exit(2);
}
const failFirst = Number(failFirstArg || 0);
const webhook = new Webhook(secret);
const received = [];

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function reply(res, status, contentType, text) {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer(async (req, res) => {
  const body = await readBody(req);
  const url = new URL(req.url, 'http://127.0.0.1');

  if (req.method === 'GET' && url.pathname === '/received') {
    reply(res, 200, 'application/json', JSON.stringify(received));
    return;
  }
  if (req.method === 'POST' && url.pathname === '/sign') {
    const id = url.searchParams.get('id');
    const timestamp = new Date(Number(url.searchParams.get('timestamp')) * 1000);
    reply(res, 200, 'text/plain', webhook.sign(id, timestamp, body));
    return;
  }

  let verified = false;
  let error = null;
  try {
    webhook.verify(body, req.headers);
    verified = true;
  } catch (e) {
    error = String(e && e.message ? e.message : e);
  }
  const answered = received.length < failFirst ? 500 : 200;
  received.push({
    path: url.pathname,
    id: req.headers['webhook-id'] ?? null,
    timestamp: req.headers['webhook-timestamp'] ?? null,
    signature: req.headers['webhook-signature'] ?? null,
    verified,
    error,
    answered,
    body: body.toString('utf8'),
  });
  reply(res, answered, 'application/json', JSON.stringify({ verified }));
});

server.listen(Number(portArg), '127.0.0.1', () => console.log(`listening on ${portArg}`));
