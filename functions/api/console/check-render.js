#!/usr/bin/env node
// Checks the console's payload preview (app.js's renderBody) against the known answers of
// shared/src/outbound/render.rs in render-cases.json, by hand where node is installed
// (`node functions/api/console/check-render.js`). Not served. In make test the browser test
// holds the preview to the body a test send delivers, and console.rs holds render.rs to the cases.

'use strict';

const fs = require('fs');
const path = require('path');
const vm = require('vm');

const here = __dirname;
// app.js, loaded without a document, exposes its pure parts on globalThis.HooklineConsole.
const sandbox = { TextEncoder, console };
sandbox.globalThis = sandbox;
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(path.join(here, 'app.js'), 'utf8'), sandbox, { filename: 'app.js' });
const { parseJson, renderBody } = sandbox.HooklineConsole;

const { cases } = JSON.parse(fs.readFileSync(path.join(here, 'render-cases.json'), 'utf8'));
let failures = 0;
cases.forEach((c, i) => {
  const event = { topic: c.topic, occurredAt: c.occurred_at, payload: parseJson(c.sample) };
  const options = { format: c.format, eventPrefix: c.event_prefix, fields: c.fields, formKey: c.form_key };
  const got = renderBody(event, options);
  if (got.contentType !== c.content_type || got.body !== c.body) {
    failures += 1;
    console.log(`case ${i} (${c.format}, fields ${JSON.stringify(c.fields)}) differs:`);
    console.log(`  render.rs: ${c.content_type} ${c.body}`);
    console.log(`  app.js:    ${got.contentType} ${got.body}`);
  }
});
console.log(`${cases.length - failures} of ${cases.length} cases render as render.rs does`);
process.exit(failures === 0 ? 0 : 1);
