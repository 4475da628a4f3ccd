/*
 * Hookline's tenant console: one page, hash-routed (#/ and #/webhooks/<id>/deliveries),
 * plain JavaScript with no build step and no dependencies.
 *
 * Security rules this file keeps (the CSP and console.rs's tests hold them too): no inline
 * code, no eval or Function, and every value that comes from the API is put on the page as
 * text (textContent, createElement), never parsed as HTML.
 *
 * The server contract:
 *   GET  /v1/console/session -> {tenant_id, csrf_token, expires_at, product_name, accent_color,
 *        header_prefix}; 401 -> the "expired" screen.
 *   Then the public /v1 API for the session's tenant (/v1/tenants/{tenant_id}/..., /v1/topics,
 *   /v1/egress-ips),
 *   authenticated by the session cookie (credentials: 'same-origin'). Every POST, PATCH and
 *   DELETE sends X-CSRF-Token: <csrf_token> and content-type: application/json. A 401 at any
 *   time -> the "expired" screen. Errors are {"error": {"code", "message"}}; the message is shown.
 *
 * Test ids (data-testid) for browser tests:
 *   Page:       product-name, tenant-id, session-expiry, notice (status messages), expired
 *               (the expired-link screen), load-error, retry-load
 *   List:       new-webhook, webhook-list, empty-list, webhook-row (data-webhook-id on it), and
 *               in a row: webhook-name, webhook-url, webhook-topics, toggle-enabled,
 *               disabled-reason, consecutive-failures, last-delivery, edit, send-test,
 *               open-deliveries, delete, alert-recipients with recipient-row (data-email,
 *               data-state) holding recipient-email, recipient-state and (pending only)
 *               resend-confirmation; verify-panel (the "verify the signature" help);
 *               egress-ips (the deployment's sending addresses, when it has fixed ones)
 *   Edit form:  webhook-dialog, wh-name, wh-destination (a URL, or an integration preset's id),
 *               wh-url, integration-settings with integration-description and integration-<setting>
 *               (one input per setting of the preset), wh-description, wh-max-per-second,
 *               wh-enabled, topic-picker, topic-option (a checkbox, value = topic), wh-topics-text
 *               (without a catalog),
 *               topic-sample, secret-current, rotate-secret, secret-mode-generate,
 *               secret-mode-typed, wh-secret, wh-secret-grace, add-filter, filter-list,
 *               filter-row with filter-field, filter-op, filter-kind, filter-value,
 *               filter-values (in / not_in, one a line), filter-presence (exists), remove-filter;
 *               wh-format, wh-form-key, wh-event-prefix, wh-fields, field-buttons,
 *               preview-topic, preview-headers, payload-preview; wh-auth-type, auth-hint,
 *               wh-auth-header, wh-auth-value, wh-auth-username, wh-auth-password;
 *               header-current, replace-headers, add-header, header-list, header-row with header-name,
 *               header-value, remove-header; wh-alert-emails, wh-alert-interval,
 *               wh-disable-after, wh-require-ok, form-error, cancel, save
 *   Secret:     secret-dialog, secret-once (the new secret, shown once), copy-secret, secret-done
 *   Test send:  test-dialog, test-topic, send-test-submit, test-result (data-ok,
 *               data-status-code) with test-status, test-latency, test-error, test-excerpt,
 *               test-request (the request as sent, credentials as hints)
 *   Deliveries: deliveries-screen, back-to-list, deliveries-url, delivery-status-filter,
 *               refresh-deliveries, recover-since, recover, recover-result, delivery-list,
 *               delivery-empty, load-more, delivery-row (data-delivery-id, data-status) with
 *               delivery-status, expand-delivery, retry, attempt-row
 *   Delete:     confirm-dialog, confirm-delete, cancel-delete
 */
'use strict';

(function () {
  // ---------------------------------------------------------------------------------------
  // JSON that keeps numbers exactly as the server wrote them.
  //
  // The payload preview must be the exact body a receiver gets. The server renders with
  // serde_json, whose maps (no `preserve_order` feature in this build) are BTreeMaps: keys
  // come out sorted by code point, and a number is written back as it was read. JS's
  // JSON.parse would turn 1.0 into 1 and lose digits past 2^53, so samples are parsed here
  // with numbers kept as their text, and written the way serde_json writes them.
  // ---------------------------------------------------------------------------------------

  class JsonNumber {
    constructor(text) {
      this.text = text;
    }
  }

  const NUMBER_TEXT = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
  const NUMBER_AT = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

  /** An object without a prototype, so a key such as "__proto__" is just a key. */
  function obj() {
    return Object.create(null);
  }

  function parseJson(text) {
    let pos = 0;
    const fail = () => {
      throw new SyntaxError(`not valid JSON (at character ${pos + 1})`);
    };
    const space = () => {
      while (pos < text.length && ' \t\n\r'.includes(text[pos])) pos += 1;
    };
    const literal = (word, value) => {
      if (!text.startsWith(word, pos)) fail();
      pos += word.length;
      return value;
    };
    function string() {
      const start = pos;
      pos += 1;
      while (pos < text.length && text[pos] !== '"') pos += text[pos] === '\\' ? 2 : 1;
      if (pos >= text.length) fail();
      pos += 1;
      // JSON.parse decodes the escapes (and refuses raw control characters) of one string.
      return JSON.parse(text.slice(start, pos));
    }
    function number() {
      NUMBER_AT.lastIndex = pos;
      const match = NUMBER_AT.exec(text);
      if (!match) fail();
      pos += match[0].length;
      return new JsonNumber(match[0]);
    }
    function list(close, item) {
      pos += 1;
      space();
      if (text[pos] === close) {
        pos += 1;
        return;
      }
      for (;;) {
        item();
        space();
        if (text[pos] === ',') {
          pos += 1;
          continue;
        }
        if (text[pos] !== close) fail();
        pos += 1;
        return;
      }
    }
    function object() {
      const out = obj();
      list('}', () => {
        space();
        if (text[pos] !== '"') fail();
        const key = string();
        space();
        if (text[pos] !== ':') fail();
        pos += 1;
        out[key] = value();
      });
      return out;
    }
    function array() {
      const out = [];
      list(']', () => out.push(value()));
      return out;
    }
    function value() {
      space();
      switch (text[pos]) {
        case '{':
          return object();
        case '[':
          return array();
        case '"':
          return string();
        case 't':
          return literal('true', true);
        case 'f':
          return literal('false', false);
        case 'n':
          return literal('null', null);
        default:
          return number();
      }
    }
    const result = value();
    space();
    if (pos !== text.length) fail();
    return result;
  }

  function isObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof JsonNumber);
  }

  /** Code point order, which is the UTF-8 byte order BTreeMap<String, _> sorts by. */
  function compareKeys(a, b) {
    const x = Array.from(a, (c) => c.codePointAt(0));
    const y = Array.from(b, (c) => c.codePointAt(0));
    for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
      if (x[i] !== y[i]) return x[i] - y[i];
    }
    return x.length - y.length;
  }

  /** serde_json's output: compact, or pretty with `indent` (for reading only). */
  function toJson(v, indent = '', depth = 0) {
    if (v instanceof JsonNumber) return v.text;
    if (typeof v === 'number' && !Number.isFinite(v)) throw new RangeError('not a JSON number');
    // Strings: JSON.stringify escapes exactly what serde_json does (", \, control characters).
    if (v === null || typeof v !== 'object') return JSON.stringify(v);
    const open = indent ? `\n${indent.repeat(depth + 1)}` : '';
    const close = indent ? `\n${indent.repeat(depth)}` : '';
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      return `[${v.map((x) => open + toJson(x, indent, depth + 1)).join(',')}${close}]`;
    }
    const keys = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort(compareKeys);
    if (keys.length === 0) return '{}';
    const colon = indent ? ': ' : ':';
    const members = keys.map((k) => open + JSON.stringify(k) + colon + toJson(v[k], indent, depth + 1));
    return `{${members.join(',')}${close}}`;
  }

  function cloneJson(v) {
    if (Array.isArray(v)) return v.map(cloneJson);
    if (!isObject(v)) return v; // strings, booleans, null and JsonNumbers never change
    const out = obj();
    for (const k of Object.keys(v)) out[k] = cloneJson(v[k]);
    return out;
  }

  // ---------------------------------------------------------------------------------------
  // The body a receiver gets: shared/src/outbound/render.rs, rule for rule.
  // ---------------------------------------------------------------------------------------

  const DEFAULT_FORM_KEY = 'events';
  const JSON_CONTENT_TYPE = 'application/json';
  const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

  /** `context` merged with `data`, the event's own fields winning a name clash. */
  function flat(payload) {
    const merged = cloneJson(payload.context || obj());
    const data = payload.data || obj();
    for (const k of Object.keys(data)) merged[k] = cloneJson(data[k]);
    return merged;
  }

  function eventType(topic, prefix) {
    return (prefix || '') + topic;
  }

  /** Keeps only the dotted `paths` of `map`; nested objects are kept as far as a path goes. */
  function select(map, paths) {
    const out = obj();
    for (const path of paths) copyPath(map, path.split('.'), out);
    return out;
  }

  function copyPath(from, parts, to) {
    if (parts.length === 0 || !Object.hasOwn(from, parts[0])) return;
    const [first, ...rest] = parts;
    const value = from[first];
    if (rest.length === 0) {
      to[first] = cloneJson(value);
      return;
    }
    if (!isObject(value)) return;
    // As render.rs: the object is created before the rest of the path is looked up, so a
    // missing leaf still leaves `{"meta": {}}`.
    if (!Object.hasOwn(to, first)) to[first] = obj();
    if (isObject(to[first])) copyPath(value, rest, to[first]);
  }

  function selected(map, fields) {
    return fields ? select(map, fields) : cloneJson(map);
  }

  /** One event as the webhook's format has it (`form` events are flat objects). */
  function eventValue(event, options) {
    if (options.format === 'envelope') {
      const envelope = obj();
      envelope.event_time = event.occurredAt;
      envelope.event_type = eventType(event.topic, options.eventPrefix);
      envelope.current_context = selected(event.payload.context || obj(), options.fields);
      envelope.data = selected(event.payload.data || obj(), options.fields);
      return envelope;
    }
    return selected(flat(event.payload), options.fields);
  }

  /** The exact request body for one event, and its content type. */
  function renderBody(event, options) {
    const value = eventValue(event, options);
    if (options.format === 'form') {
      const batch = obj();
      batch[options.formKey || DEFAULT_FORM_KEY] = [value];
      return { contentType: FORM_CONTENT_TYPE, body: `data=${formEncode(toJson(batch))}` };
    }
    return { contentType: JSON_CONTENT_TYPE, body: toJson(value) };
  }

  /** application/x-www-form-urlencoded as the `url` crate writes it (not encodeURIComponent). */
  function formEncode(text) {
    let out = '';
    for (const byte of new TextEncoder().encode(text)) {
      const c = String.fromCharCode(byte);
      if (/[A-Za-z0-9*\-._]/.test(c)) out += c;
      else if (byte === 0x20) out += '+';
      else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
    return out;
  }

  /** RFC 3339 as the `time` crate writes it: UTC, fraction without trailing zeros. */
  function rfc3339(date) {
    const [whole, fraction] = date.toISOString().slice(0, -1).split('.');
    const digits = (fraction || '').replace(/0+$/, '');
    return `${whole}${digits ? `.${digits}` : ''}Z`;
  }

  // Outside a browser (node, for the render tests) only the pure parts above are wanted.
  if (typeof document === 'undefined') {
    globalThis.HooklineConsole = { JsonNumber, parseJson, toJson, renderBody, select, formEncode, rfc3339 };
    return;
  }

  // ---------------------------------------------------------------------------------------
  // Page helpers.
  // ---------------------------------------------------------------------------------------

  const state = {
    session: null,
    topics: { catalog: false, list: [], byName: new Map() },
    integrations: new Map(), // preset id -> its description (GET /v1/integrations)
    webhooks: [],
    recipients: new Map(), // alert e-mail address (lower case) -> its opt-in state
    ended: false,
    form: null, // the webhook dialog: {mode, original, replaceHeaders}
    testWebhookId: null,
    deleteWebhookId: null,
    log: null, // the delivery screen: {webhookId, cursor}
  };

  const MAX_FILTERS = 20;
  const MAX_HEADERS = 20;
  // What the test send posts when the topic has no catalog sample (send_test.rs).
  const FALLBACK_SAMPLE = parseJson('{"context":{},"data":{"message":"A test webhook from Hookline","test":true}}');
  const STATUSES = ['pending', 'retrying', 'delivered', 'failed'];

  function byId(id) {
    const el = document.getElementById(id);
    if (!el) throw new Error(`missing element #${id}`);
    return el;
  }

  function part(root, testid) {
    return root.querySelector(`[data-testid="${testid}"]`);
  }

  /** An element with text content and attributes; never HTML, never event attributes. */
  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (/^on/i.test(name)) throw new Error('event handler attributes are not used');
      if (name === 'text') el.textContent = value;
      else if (name === 'className') el.className = value;
      else el.setAttribute(name, value === true ? '' : String(value));
    }
    el.append(...children);
    return el;
  }

  function cloneTemplate(id) {
    return byId(id).content.firstElementChild.cloneNode(true);
  }

  function value(id) {
    return byId(id).value;
  }

  function lines(text) {
    return text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  }

  function formatTime(iso) {
    const t = Date.parse(iso);
    return Number.isFinite(t) ? new Date(t).toLocaleString() : String(iso ?? '');
  }

  function timeElement(iso) {
    return h('time', { datetime: iso, text: formatTime(iso) });
  }

  let noticeTimer = null;

  /** A message in the page's live region (announced to screen readers too). */
  function notify(message, kind = 'info') {
    const notice = byId('notice');
    notice.textContent = message;
    notice.dataset.kind = kind;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => {
      notice.textContent = '';
    }, 8000);
  }

  function describe(error) {
    if (error instanceof ApiError && error.code) return `${error.message} (${error.code})`;
    return error && error.message ? error.message : String(error);
  }

  /** Shows what went wrong; a finished session has its own screen already. */
  function report(error) {
    if (error instanceof SessionEnded) return;
    if (!(error instanceof ApiError)) console.error(error);
    notify(describe(error), 'error');
  }

  /** A listener whose failures are reported rather than lost in an unhandled rejection. */
  function safe(handler) {
    return (event) => {
      Promise.resolve()
        .then(() => handler(event))
        .catch(report);
    };
  }

  function setBusy(button, busy, label) {
    if (busy) {
      button.dataset.label = button.textContent;
      button.textContent = label;
    } else if (button.dataset.label) {
      button.textContent = button.dataset.label;
    }
    button.disabled = busy;
  }

  // ---------------------------------------------------------------------------------------
  // The API.
  // ---------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  /** The session is over (401): the expired screen is up; callers just stop. */
  class SessionEnded extends Error {}

  // Relative to the page (served at <base>/console/), so a base path in front still works.
  const API_BASE = new URL('../v1/', window.location.href);

  function tenantPath(...parts) {
    return ['tenants', state.session.tenant_id, ...parts].map(encodeURIComponent).join('/');
  }

  /** One request; a 401 ends the session here, so callers only see other answers. */
  async function request(method, path, { body, query } = {}) {
    const url = new URL(path, API_BASE);
    for (const [k, v] of Object.entries(query || {})) {
      if (v !== null && v !== undefined && v !== '') url.searchParams.set(k, String(v));
    }
    const headers = { accept: 'application/json' };
    if (method !== 'GET') {
      headers['content-type'] = 'application/json';
      headers['x-csrf-token'] = state.session ? state.session.csrf_token : '';
    }
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error' };
    if (body !== undefined) init.body = toJson(body);
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      throw new ApiError(0, 'network', 'The server could not be reached. Check your connection and try again.');
    }
    if (response.status === 401) {
      sessionEnded();
      throw new SessionEnded('session ended');
    }
    if (!response.ok) await failure(response);
    return response;
  }

  async function api(method, path, options) {
    const response = await request(method, path, options);
    if (response.status === 204) return null;
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  /** Throws the API's error answer ({"error": {"code", "message"}}) as an ApiError. */
  async function failure(response) {
    let error = {};
    try {
      error = JSON.parse(await response.text()).error || {};
    } catch {
      error = {};
    }
    const message = typeof error.message === 'string' ? error.message : `The server answered ${response.status}.`;
    throw new ApiError(response.status, typeof error.code === 'string' ? error.code : '', message);
  }

  /** The topic catalog, with samples parsed number-exact (see parseJson). */
  async function loadTopics() {
    const response = await request('GET', 'topics');
    const answer = parseJson(await response.text());
    const list = Array.isArray(answer.data) ? answer.data : [];
    return { catalog: answer.catalog === true, list, byName: new Map(list.map((t) => [t.name, t])) };
  }

  /** The integration presets, in the catalog's order, offered in the "Send to" list. */
  async function loadIntegrations() {
    const answer = await api('GET', 'integrations');
    const list = Array.isArray(answer.data) ? answer.data : [];
    byId('wh-destination').replaceChildren(
      h('option', { value: '', text: 'A URL (webhook)' }),
      ...list.map((p) => h('option', { value: p.id, text: p.name })),
    );
    return new Map(list.map((p) => [p.id, p]));
  }

  /** The deployment's fixed outbound addresses, shown when it has any (for firewalls). */
  async function showEgressIps() {
    const answer = await api('GET', 'egress-ips');
    const ips = Array.isArray(answer.data) ? answer.data : [];
    byId('egress-ip-list').textContent = ips.join(', ');
    byId('egress-ips').hidden = ips.length === 0;
  }

  /** The session, and how long it has left by the server's clock (the browser's may be off). */
  async function loadSession() {
    const response = await request('GET', 'console/session');
    const session = await response.json();
    const serverNow = Date.parse(response.headers.get('date') || '');
    const left = Date.parse(session.expires_at) - (Number.isFinite(serverNow) ? serverNow : Date.now());
    return { session, left };
  }

  // ---------------------------------------------------------------------------------------
  // Session, screens and routes.
  // ---------------------------------------------------------------------------------------

  const SCREENS = ['loading', 'expired', 'error', 'list', 'deliveries'];

  function showScreen(name) {
    for (const s of SCREENS) byId(`screen-${s}`).hidden = s !== name;
  }

  function sessionEnded() {
    if (state.ended) return;
    state.ended = true;
    for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
    byId('session-expiry').textContent = '';
    showScreen('expired');
    byId('main').focus();
  }

  /** A one-time link's token must not stay in the address bar or the history. */
  function dropTokenFromAddress() {
    if (window.location.search) {
      window.history.replaceState(null, '', window.location.pathname + window.location.hash);
    }
  }

  async function boot() {
    dropTokenFromAddress();
    wireStaticHandlers();
    await start();
  }

  async function start() {
    showScreen('loading');
    let loaded;
    try {
      loaded = await loadSession();
    } catch (error) {
      if (!(error instanceof SessionEnded)) showLoadError(error);
      return;
    }
    const { session, left } = loaded;
    state.session = session;
    applyBranding(session);
    scheduleExpiry(left);
    renderVerifyPanel(session.header_prefix);
    try {
      state.topics = await loadTopics();
    } catch (error) {
      if (error instanceof SessionEnded) return;
      notify(`The event catalog could not be loaded: ${describe(error)}`, 'error');
    }
    try {
      state.integrations = await loadIntegrations();
    } catch (error) {
      if (error instanceof SessionEnded) return;
      notify(`The integrations could not be loaded: ${describe(error)}`, 'error');
    }
    try {
      await showEgressIps();
    } catch (error) {
      if (error instanceof SessionEnded) return;
      notify(`The sending addresses could not be loaded: ${describe(error)}`, 'error');
    }
    window.addEventListener('hashchange', safe(route));
    await route();
  }

  function showLoadError(error) {
    byId('load-error-message').textContent = describe(error);
    showScreen('error');
    byId('main').focus();
  }

  function applyBranding(session) {
    const name = typeof session.product_name === 'string' && session.product_name ? session.product_name : 'Webhooks';
    byId('product-name').textContent = name;
    document.title = `${name} · Webhooks`;
    byId('tenant-id').textContent = session.tenant_id;
    const color = session.accent_color;
    if (typeof color === 'string' && /^#[0-9a-fA-F]{6}$/.test(color)) {
      // CSSOM, which the CSP allows (unlike a style attribute).
      document.documentElement.style.setProperty('--accent', color);
      document.documentElement.style.setProperty('--accent-contrast', textColorOn(color));
    }
  }

  /** Black or white, whichever reads better on the accent colour (WCAG contrast). */
  function textColorOn(hex) {
    const channel = (i) => {
      const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    return (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) ? '#000000' : '#ffffff';
  }

  /** `left`: milliseconds the session has left. */
  function scheduleExpiry(left) {
    if (!Number.isFinite(left)) return;
    byId('session-expiry').textContent = `Session until ${new Date(Date.now() + left).toLocaleTimeString()}`;
    // Show the expired screen on time rather than after a confusing failed click.
    if (left < 2 ** 31 - 1) setTimeout(sessionEnded, Math.max(0, left));
  }

  function deliveriesHash(webhookId) {
    return `#/webhooks/${encodeURIComponent(webhookId)}/deliveries`;
  }

  async function route() {
    if (state.ended) return;
    const match = /^#\/webhooks\/([^/]+)\/deliveries$/.exec(window.location.hash);
    let webhookId = null;
    try {
      webhookId = match ? decodeURIComponent(match[1]) : null;
    } catch {
      webhookId = null;
    }
    if (webhookId) await showDeliveries(webhookId);
    else await showList();
  }

  // ---------------------------------------------------------------------------------------
  // Dialogs: native <dialog> (Escape closes it); focus goes back to what opened it.
  // ---------------------------------------------------------------------------------------

  const openers = new Map();

  /** What to focus when a dialog closes: the opener, or its replacement after a re-render. */
  function openerOf(el) {
    const row = el && el.closest ? el.closest('[data-webhook-id]') : null;
    return { el, webhookId: row ? row.dataset.webhookId : null, testid: el && el.dataset ? el.dataset.testid : null };
  }

  function openDialog(id, opener) {
    const dialog = byId(id);
    openers.set(dialog, opener || openerOf(document.activeElement));
    dialog.showModal();
  }

  /** Closes one dialog and opens the next, which inherits where focus returns to. */
  function handOver(fromId, toId) {
    const from = byId(fromId);
    const opener = openers.get(from);
    openers.delete(from);
    from.close();
    openDialog(toId, opener);
  }

  function focusBack(opener) {
    if (state.ended) return;
    if (opener && opener.el && opener.el.isConnected && !opener.el.closest('[hidden]')) {
      opener.el.focus();
      return;
    }
    if (opener && opener.webhookId && opener.testid) {
      const row = document.querySelector(`[data-webhook-id="${CSS.escape(opener.webhookId)}"]`);
      const again = row && part(row, opener.testid);
      if (again) {
        again.focus();
        return;
      }
    }
    const fallback = byId('screen-list').hidden ? byId('main') : byId('new-webhook');
    fallback.focus();
  }

  function wireDialog(dialog) {
    dialog.addEventListener('close', () => {
      const opener = openers.get(dialog);
      if (!openers.has(dialog)) return; // handed over to the next dialog
      openers.delete(dialog);
      focusBack(opener);
    });
    for (const button of dialog.querySelectorAll('[data-close]')) {
      button.addEventListener('click', () => dialog.close());
    }
  }

  function wireStaticHandlers() {
    for (const dialog of document.querySelectorAll('dialog')) wireDialog(dialog);
    byId('retry-load').addEventListener('click', safe(start));
    byId('new-webhook').addEventListener('click', (e) => openCreateDialog(openerOf(e.currentTarget)));
    byId('webhook-form').addEventListener('submit', safe(saveWebhook));
    byId('webhook-form').addEventListener('input', updatePreview);
    byId('webhook-form').addEventListener('change', updatePreview);
    byId('add-filter').addEventListener('click', () => addFilterRow(null, true));
    byId('add-header').addEventListener('click', () => addHeaderRow('', '', true));
    byId('replace-headers').addEventListener('click', startReplacingHeaders);
    byId('rotate-secret').addEventListener('change', syncSecretFields);
    for (const radio of document.querySelectorAll('input[name="secret-mode"]')) {
      radio.addEventListener('change', syncSecretFields);
    }
    byId('wh-auth-type').addEventListener('change', syncAuthFields);
    byId('wh-destination').addEventListener('change', () => renderIntegrationFields(state.form && state.form.original));
    byId('wh-format').addEventListener('change', syncFormatFields);
    byId('wh-topics-text').addEventListener('input', topicsChanged);
    byId('preview-topic').addEventListener('change', showSample);
    byId('copy-secret').addEventListener('click', safe(copySecret));
    byId('test-form').addEventListener('submit', safe(sendTest));
    byId('confirm-delete').addEventListener('click', safe(confirmDelete));
    byId('delivery-status-filter').addEventListener('change', safe(() => loadDeliveries(true)));
    byId('refresh-deliveries').addEventListener('click', safe(() => loadDeliveries(true)));
    byId('load-more').addEventListener('click', safe(() => loadDeliveries(false)));
    byId('recover-form').addEventListener('submit', safe(recover));
  }

  // ---------------------------------------------------------------------------------------
  // The webhook list.
  // ---------------------------------------------------------------------------------------

  async function showList() {
    state.log = null;
    showScreen('list');
    await refreshList();
  }

  async function fetchAllWebhooks() {
    const all = [];
    let cursor = null;
    do {
      let page;
      try {
        page = await api('GET', tenantPath('webhooks'), { query: { limit: 100, cursor } });
      } catch (error) {
        // A tenant exists once its first webhook does: before that, the list is empty.
        if (error instanceof ApiError && error.code === 'tenant_not_found') return [];
        throw error;
      }
      all.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    return all;
  }

  async function refreshList() {
    let webhooks;
    try {
      webhooks = await fetchAllWebhooks();
    } catch (error) {
      report(error);
      return;
    }
    state.webhooks = webhooks;
    await loadRecipients().catch(report);
    const list = byId('webhook-list');
    list.replaceChildren(...webhooks.map(webhookRow));
    byId('empty-list').hidden = webhooks.length > 0;
    loadLastDeliveries(webhooks).catch(report);
  }

  function findWebhook(id) {
    return state.webhooks.find((w) => w.id === id) || null;
  }

  function rowOf(id) {
    return document.querySelector(`#webhook-list [data-webhook-id="${CSS.escape(id)}"]`);
  }

  function rememberWebhook(webhook) {
    const i = state.webhooks.findIndex((w) => w.id === webhook.id);
    if (i >= 0) state.webhooks[i] = webhook;
    else state.webhooks.push(webhook);
  }

  function webhookRow(webhook) {
    const row = cloneTemplate('tpl-webhook-row');
    row.dataset.webhookId = webhook.id;
    const id = webhook.id;
    const name = part(row, 'webhook-name');
    name.textContent = webhook.name;
    name.href = deliveriesHash(id);
    part(row, 'webhook-url').textContent = webhook.url;
    part(row, 'webhook-topics').replaceChildren(...webhook.topics.map((t) => h('li', { className: 'chip', text: t })));
    part(row, 'open-deliveries').href = deliveriesHash(id);
    const toggle = part(row, 'toggle-enabled');
    toggle.addEventListener('click', (e) => {
      if (toggle.getAttribute('aria-busy') === 'true') e.preventDefault(); // one change at a time
    });
    toggle.addEventListener('change', safe(() => setEnabled(id, toggle)));
    part(row, 'edit').addEventListener('click', safe((e) => openEditDialog(id, openerOf(e.currentTarget))));
    part(row, 'send-test').addEventListener('click', (e) => openTestDialog(id, openerOf(e.currentTarget)));
    part(row, 'delete').addEventListener('click', (e) => openDeleteDialog(id, openerOf(e.currentTarget)));
    showWebhookState(row, webhook);
    return row;
  }

  /** The parts of a row that change without a reload: enabled, why disabled, failures. */
  function showWebhookState(row, webhook) {
    row.classList.toggle('is-disabled', !webhook.enabled);
    const toggle = part(row, 'toggle-enabled');
    toggle.checked = webhook.enabled;
    toggle.setAttribute('aria-label', `Enabled: ${webhook.name}`);
    const reason = part(row, 'disabled-reason');
    reason.hidden = !webhook.disabled_reason;
    if (webhook.disabled_reason) {
      const when = webhook.disabled_at ? ` (${formatTime(webhook.disabled_at)})` : '';
      reason.textContent = `Disabled by the service: ${webhook.disabled_reason}${when}`;
    }
    part(row, 'consecutive-failures').textContent = String(webhook.consecutive_failures ?? 0);
    showRecipients(row, webhook);
  }

  // ---------------------------------------------------------------------------------------
  // Alert recipients: each address opts in by a confirmation e-mail; alerts go only to
  // confirmed ones. A row shows each address's state, and a pending one can be sent again.
  // ---------------------------------------------------------------------------------------

  const RECIPIENT_STATES = ['pending', 'confirmed', 'unsubscribed', 'bounced'];
  const RECIPIENT_HINTS = {
    pending: 'waiting for the confirmation e-mail to be confirmed: no alerts until then',
    confirmed: 'gets alerts',
    unsubscribed: 'unsubscribed: gets no alerts',
    bounced: 'e-mail to it bounced: gets no alerts',
  };

  async function loadRecipients() {
    const answer = await api('GET', tenantPath('alert-recipients'));
    state.recipients = new Map(answer.data.map((r) => [r.email.toLowerCase(), r]));
  }

  function showRecipients(row, webhook) {
    const list = part(row, 'alert-recipients');
    const emails = webhook.alert_emails || [];
    list.hidden = emails.length === 0;
    list.replaceChildren(...emails.map((email) => recipientRow(email)));
  }

  function recipientRow(email) {
    const known = state.recipients.get(email.toLowerCase());
    const current = known && RECIPIENT_STATES.includes(known.state) ? known.state : 'pending';
    const item = h('li', { 'data-testid': 'recipient-row', 'data-email': email, 'data-state': current });
    item.append(
      h('span', { 'data-testid': 'recipient-email', text: email }),
      h('span', {
        className: `badge recipient-${current}`,
        'data-testid': 'recipient-state',
        title: RECIPIENT_HINTS[current],
        text: current,
      }),
    );
    if (current === 'pending') {
      const resend = h('button', {
        type: 'button',
        className: 'button',
        'data-testid': 'resend-confirmation',
        'aria-label': `Resend the confirmation e-mail to ${email}`,
        text: 'Resend confirmation',
      });
      resend.addEventListener('click', safe(() => resendConfirmation(email, resend)));
      item.append(resend);
    }
    return item;
  }

  async function resendConfirmation(email, button) {
    setBusy(button, true, 'Sending…');
    try {
      const updated = await api('POST', tenantPath('alert-recipients', email, 'resend'));
      state.recipients.set(email.toLowerCase(), updated);
      notify(`A new confirmation e-mail went to ${email}.`);
    } finally {
      setBusy(button, false);
    }
  }

  async function setEnabled(id, toggle) {
    const wanted = toggle.checked;
    toggle.setAttribute('aria-busy', 'true');
    try {
      const updated = await api('PATCH', tenantPath('webhooks', id), { body: { enabled: wanted } });
      rememberWebhook(updated);
      const row = rowOf(id);
      if (row) showWebhookState(row, updated);
      notify(`“${updated.name}” is ${updated.enabled ? 'enabled' : 'disabled'}.`);
    } catch (error) {
      toggle.checked = !wanted;
      throw error;
    } finally {
      toggle.removeAttribute('aria-busy');
    }
  }

  /** Each row's newest delivery, a few requests at a time. */
  async function loadLastDeliveries(webhooks) {
    const queue = [...webhooks];
    const worker = async () => {
      while (queue.length && !state.ended) {
        const webhook = queue.shift();
        await showLastDelivery(webhook.id);
      }
    };
    await Promise.all([worker(), worker(), worker()]);
  }

  async function showLastDelivery(id) {
    let page;
    try {
      page = await api('GET', tenantPath('webhooks', id, 'deliveries'), { query: { limit: 1 } });
    } catch (error) {
      if (error instanceof SessionEnded) throw error;
      page = null;
    }
    const row = rowOf(id);
    if (!row) return;
    const cell = part(row, 'last-delivery');
    const last = page && page.data[0];
    if (!page) cell.replaceChildren('unknown');
    else if (!last) cell.replaceChildren('none yet');
    else cell.replaceChildren(statusBadge(last.status), ' ', timeElement(last.created_at));
    if (last) cell.dataset.status = last.status;
  }

  function statusBadge(status) {
    const known = STATUSES.includes(status) ? status : 'unknown';
    return h('span', { className: `badge status-${known}`, text: status });
  }

  // ---------------------------------------------------------------------------------------
  // The webhook dialog: filling it in.
  // ---------------------------------------------------------------------------------------

  class FormError extends Error {
    constructor(message, field) {
      super(message);
      this.field = field;
    }
  }

  function openCreateDialog(opener) {
    state.form = { mode: 'create', original: null, replaceHeaders: true };
    byId('webhook-dialog-title').textContent = 'New webhook';
    fillForm(null);
    openDialog('webhook-dialog', opener);
    byId('wh-name').focus();
  }

  async function openEditDialog(id, opener) {
    // The newest state, not the list's copy: another tab may have changed it.
    const webhook = await api('GET', tenantPath('webhooks', id));
    rememberWebhook(webhook);
    state.form = { mode: 'edit', original: webhook, replaceHeaders: Object.keys(webhook.headers || {}).length === 0 };
    byId('webhook-dialog-title').textContent = `Edit “${webhook.name}”`;
    fillForm(webhook);
    openDialog('webhook-dialog', opener);
    byId('wh-name').focus();
  }

  function fillForm(w) {
    byId('webhook-form').reset();
    byId('form-error').textContent = '';
    byId('wh-name').value = w ? w.name : '';
    byId('wh-url').value = w && !w.integration ? w.url : '';
    byId('wh-destination').value = w && w.integration ? w.integration.type : '';
    renderIntegrationFields(w);
    byId('wh-description').value = w && w.description ? w.description : '';
    byId('wh-enabled').checked = w ? w.enabled : true;
    renderTopicPicker(w ? w.topics : []);
    fillSecret(w);
    byId('filter-list').replaceChildren();
    for (const filter of w ? w.filters : []) addFilterRow(filter, false);
    byId('wh-format').value = w ? w.format : 'flat';
    byId('wh-form-key').value = w ? w.form_key : '';
    byId('wh-event-prefix').value = w && w.event_prefix ? w.event_prefix : '';
    byId('wh-fields').value = w && w.fields ? w.fields.join('\n') : '';
    fillAuth(w ? w.auth : null);
    fillHeaders(w ? w.headers || {} : {});
    byId('wh-alert-emails').value = w ? w.alert_emails.join(', ') : '';
    byId('wh-alert-interval').value = String(w ? w.alert_interval_minutes : 60);
    byId('wh-disable-after').value = String(w ? w.disable_after_failures : 10);
    byId('wh-max-per-second').value = w && w.max_per_second != null ? String(w.max_per_second) : '';
    byId('wh-require-ok').checked = false;
    syncFormatFields();
    syncFilterButtons();
    topicsChanged();
  }

  function renderTopicPicker(chosen) {
    const picker = byId('topic-picker');
    const catalog = state.topics.catalog;
    byId('topic-free').hidden = catalog;
    picker.hidden = !catalog;
    byId('wh-topics-text').value = catalog ? '' : chosen.join(', ');
    if (!catalog) {
      picker.replaceChildren();
      return;
    }
    // Topics a webhook still has but the catalog no longer lists stay visible, and chosen.
    const names = [...state.topics.list.map((t) => t.name), ...chosen.filter((t) => !state.topics.byName.has(t))];
    picker.replaceChildren(...names.map((name, i) => topicOption(name, i, chosen.includes(name))));
  }

  function topicOption(name, index, checked) {
    const topic = state.topics.byName.get(name);
    const id = `topic-${index}`;
    const box = h('input', { type: 'checkbox', id, value: name, 'data-testid': 'topic-option' });
    box.checked = checked;
    box.addEventListener('change', topicsChanged);
    const description = topic ? topic.description : 'not in the catalog any more';
    const label = h('label', { for: id },
      h('span', { className: 'topic-name', text: name }),
      h('span', { className: 'muted', text: description }));
    return h('div', { className: 'topic-option' }, box, label);
  }

  function chosenTopics() {
    if (!state.topics.catalog) {
      return value('wh-topics-text')
        .split(/[\s,]+/)
        .filter(Boolean);
    }
    return [...byId('topic-picker').querySelectorAll('input:checked')].map((box) => box.value);
  }

  function sampleOf(topic) {
    const entry = state.topics.byName.get(topic);
    return entry && entry.sample ? entry.sample : FALLBACK_SAMPLE;
  }

  /** The topic choice drives the preview's topic list, the sample shown and the field hints. */
  function topicsChanged() {
    const topics = chosenTopics();
    const select = byId('preview-topic');
    const current = select.value;
    select.replaceChildren(...topics.map((t) => h('option', { value: t, text: t })));
    if (topics.includes(current)) select.value = current;
    select.disabled = topics.length === 0;
    suggestFields(topics);
    showSample();
  }

  function showSample() {
    const topic = value('preview-topic');
    const entry = state.topics.byName.get(topic);
    byId('topic-description').textContent = topic
      ? `${topic}: ${entry ? entry.description : 'no catalog sample; a test sends this payload'}`
      : 'Choose an event to see its sample.';
    byId('topic-sample').textContent = topic ? toJson(sampleOf(topic), '  ') : '';
    updatePreview();
  }

  /** Every dotted path of an object, nested objects included (meta, meta.lead_name). */
  function pathsOf(map, prefix = '') {
    const out = [];
    for (const key of Object.keys(map).sort(compareKeys)) {
      const path = prefix + key;
      out.push(path);
      if (isObject(map[key])) out.push(...pathsOf(map[key], `${path}.`));
    }
    return out;
  }

  function suggestFields(topics) {
    const paths = new Set();
    for (const topic of topics) for (const p of pathsOf(flat(sampleOf(topic)))) paths.add(p);
    const sorted = [...paths].sort(compareKeys);
    byId('field-suggestions').replaceChildren(...sorted.map((p) => h('option', { value: p })));
    byId('field-buttons').replaceChildren(...sorted.map(fieldButton));
  }

  function fieldButton(path) {
    const button = h('button', { type: 'button', className: 'chip-button', text: path });
    button.addEventListener('click', () => {
      const area = byId('wh-fields');
      const current = lines(area.value);
      if (!current.includes(path)) area.value = [...current, path].join('\n');
      updatePreview();
    });
    return button;
  }

  function sampleValueAt(path) {
    for (const topic of chosenTopics()) {
      let v = flat(sampleOf(topic));
      for (const key of path.split('.')) v = isObject(v) && Object.hasOwn(v, key) ? v[key] : undefined;
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /**
   * The chosen preset's settings as inputs. Editing a webhook of that preset, the stored
   * settings fill them, secret ones as a hint only (an empty secret keeps nothing: a change of
   * the integration sends it whole, so its secrets must be typed again).
   */
  function renderIntegrationFields(w) {
    const id = value('wh-destination');
    const preset = state.integrations.get(id);
    byId('url-field').hidden = Boolean(preset);
    byId('integration-settings').hidden = !preset;
    byId('integration-description').textContent = preset ? preset.description : '';
    const stored = w && w.integration && w.integration.type === id ? w.integration : null;
    const fields = (preset ? preset.settings : []).map((setting) => {
      const inputId = `integration-${setting.name}`;
      const multiline = setting.name === 'template';
      const input = h(multiline ? 'textarea' : 'input', {
        id: inputId,
        'data-testid': inputId,
        autocomplete: setting.secret ? 'new-password' : 'off',
        spellcheck: 'false',
      });
      if (multiline) input.rows = 5;
      else input.type = setting.secret ? 'password' : 'text';
      if (setting.secret && stored) input.placeholder = `now ${stored[`${setting.name}_hint`] || '…'}: type it again to change the integration`;
      else if (setting.default) input.placeholder = setting.default;
      if (stored && !setting.secret && stored[setting.name] != null) input.value = stored[setting.name];
      const note = setting.required ? '' : ' (optional)';
      return h('div', { className: multiline ? 'field wide' : 'field' },
        h('label', { for: inputId, text: `${setting.label || setting.name}${note}`, title: setting.description }),
        input,
        h('p', { className: 'small muted', text: setting.description }));
    });
    byId('integration-fields').replaceChildren(...fields);
  }

  /** undefined: leave the integration as it is; null: remove it; else the new one, whole. */
  function readIntegration(original) {
    const id = value('wh-destination');
    const before = original && original.integration;
    if (!id) return before ? null : undefined;
    const preset = state.integrations.get(id);
    const integration = { type: id };
    let typed = !before || before.type !== id;
    for (const setting of preset ? preset.settings : []) {
      const input = byId(`integration-${setting.name}`);
      const text = setting.name === 'template' ? input.value : input.value.trim();
      if (text) integration[setting.name] = text;
      if (text && (setting.secret || !before || before[setting.name] !== text)) typed = true;
      if (!text && !setting.secret && before && before.type === id && before[setting.name] != null) typed = true;
    }
    if (!typed) return undefined;
    for (const setting of preset ? preset.settings : []) {
      if (setting.required && !integration[setting.name]) {
        const again = before && setting.secret ? ' (secrets are never shown again, so a change needs it anew)' : '';
        throw new FormError(`Give the ${setting.name}${again}.`, byId(`integration-${setting.name}`));
      }
    }
    return integration;
  }

  function fillSecret(w) {
    byId('secret-current').hidden = !w;
    byId('rotate-row').hidden = !w;
    if (w) {
      const until = w.previous_secret_expires_at
        ? ` The previous secret also signs until ${formatTime(w.previous_secret_expires_at)}.`
        : '';
      byId('secret-current').textContent = `The current secret ends in ${w.secret_hint}.${until}`;
    }
    byId('wh-secret').value = '';
    byId('wh-secret-grace').value = '1440';
    syncSecretFields();
  }

  function syncSecretFields() {
    const editing = state.form && state.form.mode === 'edit';
    const choosing = !editing || byId('rotate-secret').checked;
    byId('secret-choice').hidden = !choosing;
    byId('secret-typed-field').hidden = !byId('secret-mode-typed').checked;
    byId('secret-grace-field').hidden = !editing;
  }

  function fillAuth(auth) {
    const hint = byId('auth-hint');
    hint.hidden = !auth;
    byId('wh-auth-type').value = auth ? auth.type : 'none';
    byId('wh-auth-header').value = auth && auth.type === 'api_key' ? auth.header : '';
    byId('wh-auth-username').value = auth && auth.type === 'basic' ? auth.username : '';
    byId('wh-auth-value').value = '';
    byId('wh-auth-password').value = '';
    // Values never come back from the API: blank keeps them, the placeholder says so.
    const keep = (h) => (auth ? `unchanged (${h})` : '');
    byId('wh-auth-value').placeholder = auth && auth.type === 'api_key' ? keep(auth.value_hint) : '';
    byId('wh-auth-password').placeholder = auth && auth.type === 'basic' ? keep(auth.password_hint) : '';
    if (auth && auth.type === 'api_key') hint.textContent = `Now: header ${auth.header}, value ${auth.value_hint}.`;
    if (auth && auth.type === 'basic') {
      hint.textContent = `Now: Basic auth as ${auth.username}, password ${auth.password_hint}.`;
    }
    syncAuthFields();
  }

  function syncAuthFields() {
    const type = value('wh-auth-type');
    byId('auth-api-key').hidden = type !== 'api_key';
    byId('auth-basic').hidden = type !== 'basic';
  }

  function syncFormatFields() {
    byId('form-key-field').hidden = value('wh-format') !== 'form';
  }

  function fillHeaders(headers) {
    const names = Object.keys(headers);
    const current = byId('header-current');
    current.hidden = names.length === 0;
    current.replaceChildren(...names.map((n) => h('li', { className: 'code-line', text: `${n}: ${headers[n]}` })));
    byId('replace-headers').hidden = state.form.replaceHeaders;
    byId('header-editor').hidden = !state.form.replaceHeaders;
    byId('header-list').replaceChildren();
    syncHeaderButtons();
  }

  /** Header values never come back, so changing any header means giving them all again. */
  function startReplacingHeaders() {
    const original = state.form.original.headers || {};
    state.form.replaceHeaders = true;
    byId('replace-headers').hidden = true;
    byId('header-editor').hidden = false;
    for (const name of Object.keys(original)) addHeaderRow(name, `new value (was ${original[name]})`, false);
    const first = byId('header-list').querySelector('input');
    (first || byId('add-header')).focus();
  }

  // ---------------------------------------------------------------------------------------
  // Restriction (filter) rows.
  // ---------------------------------------------------------------------------------------

  const RANGE_OPS = ['gt', 'gte', 'lt', 'lte'];
  const LIST_OPS = ['in', 'not_in'];
  const KINDS = {
    eq: ['text', 'number', 'true', 'false', 'null', 'json'],
    ne: ['text', 'number', 'true', 'false', 'null', 'json'],
    in: ['text', 'number', 'json'],
    not_in: ['text', 'number', 'json'],
  };
  const KIND_LABELS = {
    text: 'text',
    number: 'number',
    true: 'true',
    false: 'false',
    null: 'null (empty)',
    json: 'JSON',
  };

  function addFilterRow(filter, focus) {
    const row = cloneTemplate('tpl-filter-row');
    part(row, 'filter-op').addEventListener('change', () => syncFilterRow(row));
    part(row, 'filter-kind').addEventListener('change', () => syncFilterRow(row));
    part(row, 'filter-field').addEventListener('change', () => guessKind(row));
    part(row, 'remove-filter').addEventListener('click', () => {
      removeRow(row, 'add-filter');
      syncFilterButtons();
    });
    byId('filter-list').append(row);
    if (filter) loadFilter(row, filter);
    syncFilterRow(row);
    syncFilterButtons();
    if (focus) part(row, 'filter-field').focus();
  }

  /** Removes a row and moves focus to the next sensible control, not to the page. */
  function removeRow(row, fallbackId) {
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    (next ? next.querySelector('input, select') : byId(fallbackId)).focus();
    updatePreview();
  }

  function syncFilterButtons() {
    byId('add-filter').disabled = byId('filter-list').children.length >= MAX_FILTERS;
  }

  function setKinds(select, kinds) {
    const current = select.value;
    select.replaceChildren(...kinds.map((k) => h('option', { value: k, text: KIND_LABELS[k] })));
    if (kinds.includes(current)) select.value = current;
  }

  function showPart(row, name, shown) {
    row.querySelector(`[data-part="${name}"]`).hidden = !shown;
  }

  /** Shows the inputs the operator takes: README's Filters section, value shape by operator. */
  function syncFilterRow(row) {
    const op = part(row, 'filter-op').value;
    const kinds = KINDS[op] || [];
    setKinds(part(row, 'filter-kind'), kinds);
    const kind = part(row, 'filter-kind').value;
    const scalarKind = ['text', 'number', 'json'].includes(kind);
    showPart(row, 'kind', kinds.length > 0);
    showPart(row, 'value', RANGE_OPS.includes(op) || (KINDS[op] && !LIST_OPS.includes(op) && scalarKind));
    showPart(row, 'list', LIST_OPS.includes(op));
    showPart(row, 'presence', op === 'exists');
    const numeric = RANGE_OPS.includes(op) || kind === 'number';
    part(row, 'filter-value').inputMode = numeric ? 'decimal' : 'text';
  }

  /** A number in the sample suggests comparing numbers, unless the user chose otherwise. */
  function guessKind(row) {
    const kind = part(row, 'filter-kind');
    const sample = sampleValueAt(part(row, 'filter-field').value.trim());
    if (kind.value === 'text' && sample instanceof JsonNumber && !part(row, 'filter-value').value) {
      kind.value = 'number';
      syncFilterRow(row);
    }
  }

  function kindOf(v) {
    if (typeof v === 'string') return v.includes('\n') ? 'json' : 'text';
    if (typeof v === 'number') return 'number';
    if (v === true || v === false || v === null) return String(v);
    return 'json';
  }

  function loadFilter(row, filter) {
    part(row, 'filter-field').value = filter.field;
    part(row, 'filter-op').value = filter.op;
    const v = filter.value;
    syncFilterRow(row);
    if (filter.op === 'exists') {
      part(row, 'filter-presence').value = String(v !== false);
    } else if (RANGE_OPS.includes(filter.op)) {
      part(row, 'filter-value').value = String(v);
    } else if (LIST_OPS.includes(filter.op)) {
      const kinds = new Set((v || []).map(kindOf));
      // One text or number kind for the whole list, else each value as JSON.
      const [only] = kinds;
      const kind = kinds.size === 1 && ['text', 'number'].includes(only) ? only : 'json';
      part(row, 'filter-kind').value = kind;
      part(row, 'filter-values').value = (v || []).map((x) => (kind === 'json' ? toJson(x) : String(x))).join('\n');
    } else {
      const kind = kindOf(v);
      part(row, 'filter-kind').value = kind;
      const shown = { json: () => toJson(v), text: () => v, number: () => String(v) }[kind];
      part(row, 'filter-value').value = shown ? shown() : '';
    }
  }

  function parseKind(kind, text, where, input) {
    switch (kind) {
      case 'number':
        if (!NUMBER_TEXT.test(text.trim())) throw new FormError(`${where}: “${text}” is not a number.`, input);
        return new JsonNumber(text.trim());
      case 'json':
        try {
          return parseJson(text);
        } catch (error) {
          throw new FormError(`${where}: ${error.message}.`, input);
        }
      case 'true':
        return true;
      case 'false':
        return false;
      case 'null':
        return null;
      default:
        return text;
    }
  }

  function readFilter(row, index) {
    const where = `Restriction ${index + 1}`;
    const fieldInput = part(row, 'filter-field');
    const field = fieldInput.value.trim();
    if (!field) throw new FormError(`${where}: name the field it checks.`, fieldInput);
    const op = part(row, 'filter-op').value;
    const kind = part(row, 'filter-kind').value;
    const input = part(row, 'filter-value');
    if (op === 'exists') return { field, op, value: part(row, 'filter-presence').value === 'true' };
    if (RANGE_OPS.includes(op)) return { field, op, value: parseKind('number', input.value, where, input) };
    if (LIST_OPS.includes(op)) {
      const area = part(row, 'filter-values');
      const items = kind === 'text' ? area.value.split('\n').filter((l) => l !== '') : lines(area.value);
      if (items.length === 0) throw new FormError(`${where}: give at least one value, one a line.`, area);
      return { field, op, value: items.map((item) => parseKind(kind, item, where, area)) };
    }
    return { field, op, value: parseKind(kind, input.value, where, input) };
  }

  function readFilters() {
    return [...byId('filter-list').children].map(readFilter);
  }

  // ---------------------------------------------------------------------------------------
  // Custom header rows.
  // ---------------------------------------------------------------------------------------

  function addHeaderRow(name, placeholder, focus) {
    const row = cloneTemplate('tpl-header-row');
    part(row, 'header-name').value = name;
    part(row, 'header-value').placeholder = placeholder;
    part(row, 'remove-header').addEventListener('click', () => {
      removeRow(row, 'add-header');
      syncHeaderButtons();
    });
    byId('header-list').append(row);
    syncHeaderButtons();
    if (focus) part(row, 'header-name').focus();
  }

  function syncHeaderButtons() {
    byId('add-header').disabled = byId('header-list').children.length >= MAX_HEADERS;
  }

  function readHeaderRows() {
    const headers = {};
    for (const row of byId('header-list').children) {
      const nameInput = part(row, 'header-name');
      const valueInput = part(row, 'header-value');
      const name = nameInput.value.trim();
      if (!name && !valueInput.value) continue;
      if (!name) throw new FormError('Each custom header needs a name.', nameInput);
      if (!valueInput.value) throw new FormError(`Give the value of ${name}.`, valueInput);
      if (Object.keys(headers).some((n) => n.toLowerCase() === name.toLowerCase())) {
        throw new FormError(`${name} is listed twice.`, nameInput);
      }
      headers[name] = valueInput.value;
    }
    return headers;
  }

  // ---------------------------------------------------------------------------------------
  // The webhook dialog: the live preview.
  // ---------------------------------------------------------------------------------------

  function fieldsOption() {
    const fields = lines(value('wh-fields'));
    return fields.length ? fields : null;
  }

  function updatePreview() {
    if (!state.session) return;
    const topic = value('preview-topic');
    const preview = byId('payload-preview');
    const headers = byId('preview-headers');
    if (!topic) {
      headers.textContent = '';
      preview.textContent = 'Choose an event to see the request body.';
      byId('preview-note').textContent = '';
      return;
    }
    const options = {
      format: value('wh-format'),
      eventPrefix: value('wh-event-prefix').trim() || null,
      fields: fieldsOption(),
      formKey: value('wh-form-key').trim() || DEFAULT_FORM_KEY,
    };
    const preset = state.integrations.get(value('wh-destination'));
    if (preset) {
      // The preset's own example (page 000's coupon event); a test send shows the exact request.
      const example = preset.example;
      headers.textContent = Object.entries(example.headers).map(([k, v]) => `${k}: ${v}`).join('\n');
      preview.textContent = `POST ${example.url}\n\n${toJson(example.body, '  ')}`;
      byId('preview-note').textContent =
        'An example: a coupon event sent through this integration. Send a test to see the exact request for yours.';
      return;
    }
    const event = { topic, occurredAt: rfc3339(new Date()), payload: sampleOf(topic) };
    const rendered = renderBody(event, options);
    const prefix = state.session.header_prefix || 'x-hookline';
    const topicHeader = `${prefix}-topic: ${eventType(topic, options.eventPrefix)}`;
    headers.textContent = `content-type: ${rendered.contentType}\n${topicHeader}`;
    preview.textContent = rendered.body;
    byId('preview-note').textContent = previewNote(options.format);
  }

  function previewNote(format) {
    if (format === 'envelope') return 'event_time is when the event happened; for a test, when it is sent.';
    if (format === 'form') return 'Events that arrive together (up to 10) come in one request, one list item each.';
    return 'The sample event, exactly as sent (a test sends this body).';
  }

  // ---------------------------------------------------------------------------------------
  // The webhook dialog: saving.
  // ---------------------------------------------------------------------------------------

  function readInt(id, what, min, max) {
    const text = value(id).trim();
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) {
      throw new FormError(`${what} must be a whole number from ${min} to ${max}.`, byId(id));
    }
    return n;
  }

  /** Every field the form shows, as the API names them; empty optional fields as null. */
  function readForm() {
    const name = value('wh-name').trim();
    if (!name) throw new FormError('Give the webhook a name.', byId('wh-name'));
    const integration = Boolean(value('wh-destination'));
    const url = integration ? undefined : value('wh-url').trim();
    if (!integration && !url) throw new FormError('Give the URL to send to.', byId('wh-url'));
    const topics = chosenTopics();
    if (topics.length === 0) {
      const first = byId('topic-picker').querySelector('input') || byId('wh-topics-text');
      throw new FormError('Choose at least one event.', first);
    }
    return {
      name,
      url,
      description: value('wh-description').trim() || null,
      enabled: byId('wh-enabled').checked,
      topics,
      filters: readFilters(),
      format: value('wh-format'),
      form_key: value('wh-form-key').trim() || DEFAULT_FORM_KEY,
      event_prefix: value('wh-event-prefix').trim() || null,
      fields: fieldsOption(),
      alert_emails: value('wh-alert-emails')
        .split(/[\s,;]+/)
        .filter(Boolean),
      alert_interval_minutes: readInt('wh-alert-interval', 'The alert interval', 1, 720),
      disable_after_failures: readInt('wh-disable-after', 'Disable after', 0, 1000),
      max_per_second: value('wh-max-per-second').trim()
        ? readInt('wh-max-per-second', 'Requests a second', 1, 10000)
        : null,
    };
  }

  function generateSecret() {
    // The server's own form: whsec_ and base64 of 24 random bytes.
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    return `whsec_${btoa(String.fromCharCode(...bytes))}`;
  }

  function readTypedSecret() {
    const secret = value('wh-secret');
    if (!secret) throw new FormError('Type the secret, or let one be generated.', byId('wh-secret'));
    return secret;
  }

  /** undefined: leave the auth as it is; null: remove it; else the new auth. */
  function readAuth(original) {
    const type = value('wh-auth-type');
    if (type === 'none') return original ? null : undefined;
    const [nameId, secretId, nameKey, secretKey] =
      type === 'api_key'
        ? ['wh-auth-header', 'wh-auth-value', 'header', 'value']
        : ['wh-auth-username', 'wh-auth-password', 'username', 'password'];
    const name = value(nameId).trim();
    const secret = value(secretId);
    if (original && original.type === type && original[nameKey] === name && secret === '') return undefined;
    const what = type === 'api_key' ? 'the header name' : 'the username';
    if (!name) throw new FormError(`Give ${what}.`, byId(nameId));
    if (!secret) {
      const again = original ? ' (values are never shown again, so a change needs it anew)' : '';
      throw new FormError(`Give the ${secretKey}${again}.`, byId(secretId));
    }
    return { type, [nameKey]: name, [secretKey]: secret };
  }

  /** undefined: leave the headers; null: remove them all; else the new set. */
  function readHeaders(original) {
    if (!state.form.replaceHeaders) return undefined;
    const headers = readHeaderRows();
    const had = original && Object.keys(original.headers || {}).length > 0;
    if (Object.keys(headers).length === 0) return had ? null : undefined;
    return headers;
  }

  function createRequest(fields) {
    const body = { ...fields };
    for (const key of ['description', 'event_prefix', 'fields']) if (body[key] === null) delete body[key];
    if (body.filters.length === 0) delete body.filters;
    if (body.alert_emails.length === 0) delete body.alert_emails;
    if (body.form_key === DEFAULT_FORM_KEY) delete body.form_key;
    if (byId('secret-mode-typed').checked) body.secret = readTypedSecret();
    const auth = readAuth(null);
    if (auth) body.auth = auth;
    const headers = readHeaders(null);
    if (headers) body.headers = headers;
    const integration = readIntegration(null);
    if (integration) body.integration = integration;
    if (body.url === undefined) delete body.url;
    return { method: 'POST', path: tenantPath('webhooks'), body, secretToShow: null };
  }

  /** What a filter means, so a stored `exists` without a value equals one with `true`. */
  function filterMeaning(f) {
    return toJson({ field: f.field, op: f.op, value: f.op === 'exists' ? f.value !== false : f.value });
  }

  function changed(key, now, before) {
    if (key === 'topics') return toJson([...now].sort()) !== toJson([...before].sort());
    if (key === 'filters') return toJson(now.map(filterMeaning)) !== toJson(before.map(filterMeaning));
    return toJson(now ?? null) !== toJson(before ?? null);
  }

  /** Only what changed: a PATCH leaves the rest (and another person's edits) alone. */
  function updateRequest(fields, original) {
    const body = {};
    for (const [key, now] of Object.entries(fields)) {
      // With an integration, `url` only shows where requests go: never sent back.
      if (key === 'url' && (now === undefined || original.integration)) continue;
      if (changed(key, now, original[key])) body[key] = now;
    }
    const integration = readIntegration(original);
    if (integration !== undefined) body.integration = integration;
    // Back to a URL: the API needs it in the same change.
    if (integration === null) body.url = fields.url;
    // The API clears these with null, not with an empty list.
    if (body.filters && body.filters.length === 0) body.filters = null;
    if (body.alert_emails && body.alert_emails.length === 0) body.alert_emails = null;
    let secretToShow = null;
    if (byId('rotate-secret').checked) {
      const typed = byId('secret-mode-typed').checked;
      body.secret = typed ? readTypedSecret() : generateSecret();
      body.secret_grace_minutes = readInt('wh-secret-grace', 'The grace period', 0, 10080);
      if (!typed) secretToShow = body.secret;
    }
    const auth = readAuth(original.auth);
    if (auth !== undefined) body.auth = auth;
    const headers = readHeaders(original);
    if (headers !== undefined) body.headers = headers;
    return { method: 'PATCH', path: tenantPath('webhooks', original.id), body, secretToShow };
  }

  function showFormError(error) {
    const box = byId('form-error');
    box.textContent = describe(error);
    const target = error instanceof FormError && error.field ? error.field : null;
    if (target) {
      // Reveal a field inside a closed <details> before focusing it.
      const details = target.closest('details');
      if (details) details.open = true;
      target.focus();
    } else {
      box.setAttribute('tabindex', '-1');
      box.focus();
    }
  }

  async function saveWebhook(event) {
    event.preventDefault();
    byId('form-error').textContent = '';
    const form = state.form;
    let request;
    try {
      const fields = readForm();
      request = form.mode === 'create' ? createRequest(fields) : updateRequest(fields, form.original);
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      showFormError(error);
      return;
    }
    if (request.method === 'PATCH' && Object.keys(request.body).length === 0) {
      byId('webhook-dialog').close();
      notify('Nothing changed.');
      return;
    }
    await submit(request);
  }

  async function submit(request) {
    const requireOk = byId('wh-require-ok').checked;
    const save = byId('save');
    setBusy(save, true, requireOk ? 'Testing, then saving…' : 'Saving…');
    let saved;
    try {
      const query = { require_ok: requireOk ? 'true' : null };
      saved = await api(request.method, request.path, { body: request.body, query });
    } catch (error) {
      if (!(error instanceof SessionEnded)) showFormError(error);
      return;
    } finally {
      setBusy(save, false);
    }
    rememberWebhook(saved);
    if (!byId('screen-list').hidden) await refreshList();
    else if (state.log) await showDeliveries(state.log.webhookId);
    const secret = request.method === 'POST' ? saved.secret : request.secretToShow;
    if (secret) {
      byId('secret-once').value = secret;
      byId('copy-status').textContent = '';
      handOver('webhook-dialog', 'secret-dialog');
      byId('secret-once').select();
    } else {
      byId('webhook-dialog').close();
    }
    notify(request.method === 'POST' ? `“${saved.name}” was created.` : `“${saved.name}” was saved.`);
  }

  async function copySecret() {
    const input = byId('secret-once');
    const status = byId('copy-status');
    try {
      await navigator.clipboard.writeText(input.value);
      status.textContent = 'Copied.';
    } catch {
      // No clipboard access (an iframe without the permission, say): leave it selected.
      input.focus();
      input.select();
      status.textContent = 'Press Ctrl+C (⌘C on a Mac) to copy the selected secret.';
    }
  }

  // ---------------------------------------------------------------------------------------
  // Test sends.
  // ---------------------------------------------------------------------------------------

  function openTestDialog(id, opener) {
    const webhook = findWebhook(id);
    if (!webhook) return;
    state.testWebhookId = id;
    byId('test-webhook-url').textContent = `${webhook.name} → ${webhook.url}`;
    byId('test-topic').replaceChildren(...webhook.topics.map((t) => h('option', { value: t, text: t })));
    const result = byId('test-result');
    result.replaceChildren();
    delete result.dataset.ok;
    delete result.dataset.statusCode;
    openDialog('test-dialog', opener);
  }

  async function sendTest(event) {
    event.preventDefault();
    const button = byId('send-test-submit');
    const result = byId('test-result');
    setBusy(button, true, 'Sending…');
    result.replaceChildren(h('p', { className: 'muted', text: 'Sending…' }));
    try {
      const answer = await api('POST', tenantPath('webhooks', state.testWebhookId, 'test'), {
        body: { topic: value('test-topic') },
      });
      showTestResult(answer);
    } catch (error) {
      if (error instanceof SessionEnded) return;
      result.replaceChildren(h('p', { className: 'error', 'data-testid': 'test-error', text: describe(error) }));
    } finally {
      setBusy(button, false);
    }
  }

  function showTestResult(answer) {
    const result = byId('test-result');
    result.dataset.ok = String(answer.ok);
    result.dataset.statusCode = answer.status_code == null ? '' : String(answer.status_code);
    const status = answer.status_code == null ? 'No answer' : `HTTP ${answer.status_code}`;
    const verdict = answer.ok ? 'The receiver accepted it.' : 'The receiver did not answer 2xx.';
    const children = [
      h('p', {},
        h('span', {
          className: `badge ${answer.ok ? 'status-delivered' : 'status-failed'}`,
          'data-testid': 'test-status',
          text: status,
        }),
        ' ',
        h('span', { 'data-testid': 'test-latency', text: `${answer.latency_ms} ms` }),
        ' · ',
        verdict),
    ];
    if (answer.error) children.push(h('p', { className: 'error', 'data-testid': 'test-error', text: answer.error }));
    children.push(
      h('p', { className: 'small muted', text: 'The receiver answered:' }),
      h('pre', {
        className: 'code wrap',
        'data-testid': 'test-excerpt',
        tabindex: '0',
        text: answer.response_excerpt || '(empty)',
      }),
      h('p', { className: 'small muted', text: `Test delivery id ${answer.delivery_id}, event ${answer.topic}` }),
    );
    if (answer.request) {
      const r = answer.request;
      const headerLines = Object.entries(r.headers || {}).map(([k, v]) => `${k}: ${v}`);
      children.push(
        h('p', { className: 'small muted', text: 'What was sent (credentials as hints):' }),
        h('pre', {
          className: 'code wrap',
          'data-testid': 'test-request',
          tabindex: '0',
          text: [`${r.method} ${r.url}`, ...headerLines, '', r.body].join('\n'),
        }),
      );
    }
    result.replaceChildren(...children);
  }

  // ---------------------------------------------------------------------------------------
  // Delete.
  // ---------------------------------------------------------------------------------------

  function openDeleteDialog(id, opener) {
    const webhook = findWebhook(id);
    if (!webhook) return;
    state.deleteWebhookId = id;
    byId('confirm-name').textContent = webhook.name;
    byId('confirm-error').textContent = '';
    openDialog('confirm-dialog', opener);
    // The safe choice first: Enter on an unlooked-at dialog must not delete.
    byId('confirm-dialog').querySelector('[data-testid="cancel-delete"]').focus();
  }

  async function confirmDelete() {
    const id = state.deleteWebhookId;
    const webhook = findWebhook(id);
    const button = byId('confirm-delete');
    setBusy(button, true, 'Deleting…');
    try {
      await api('DELETE', tenantPath('webhooks', id));
    } catch (error) {
      if (!(error instanceof SessionEnded)) byId('confirm-error').textContent = describe(error);
      return;
    } finally {
      setBusy(button, false);
    }
    state.webhooks = state.webhooks.filter((w) => w.id !== id);
    const row = rowOf(id);
    if (row) row.remove();
    byId('empty-list').hidden = state.webhooks.length > 0;
    byId('confirm-dialog').close();
    notify(`“${webhook ? webhook.name : id}” was deleted.`);
  }

  // ---------------------------------------------------------------------------------------
  // The delivery log.
  // ---------------------------------------------------------------------------------------

  async function showDeliveries(webhookId) {
    showScreen('deliveries');
    state.log = { webhookId, cursor: null };
    const log = state.log;
    byId('deliveries-title').textContent = 'Deliveries';
    byId('deliveries-url').textContent = '';
    byId('delivery-list').replaceChildren();
    byId('recover-result').textContent = '';
    byId('delivery-status-filter').value = '';
    if (!value('recover-since')) byId('recover-since').value = localInputValue(new Date(Date.now() - 24 * 3600 * 1000));
    let webhook;
    try {
      webhook = await api('GET', tenantPath('webhooks', webhookId));
    } catch (error) {
      report(error);
      return;
    }
    if (state.log !== log) return; // moved on meanwhile
    rememberWebhook(webhook);
    byId('deliveries-title').textContent = `Deliveries of “${webhook.name}”`;
    byId('deliveries-url').textContent = webhook.url;
    await loadDeliveries(true);
  }

  /** A datetime-local input's value (local time, to the second). */
  function localInputValue(date) {
    const pad = (n) => String(n).padStart(2, '0');
    const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
    return `${day}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }

  async function loadDeliveries(reset) {
    const log = state.log;
    if (!log) return;
    if (reset) log.cursor = null;
    const query = { status: value('delivery-status-filter'), limit: 20, cursor: log.cursor };
    const page = await api('GET', tenantPath('webhooks', log.webhookId, 'deliveries'), { query });
    if (state.log !== log) return;
    const list = byId('delivery-list');
    const rows = page.data.map(deliveryRow);
    if (reset) list.replaceChildren(...rows);
    else list.append(...rows);
    log.cursor = page.next_cursor;
    byId('load-more').hidden = !log.cursor;
    // A filtered page may be empty and still have more after it (reads are bounded).
    byId('delivery-empty').hidden = list.children.length > 0 || Boolean(log.cursor);
  }

  let panelCount = 0;

  function deliveryRow(delivery) {
    const row = cloneTemplate('tpl-delivery-row');
    row.dataset.deliveryId = delivery.id;
    const panel = row.querySelector('.attempts');
    panelCount += 1;
    panel.id = `attempts-${panelCount}`;
    const expand = part(row, 'expand-delivery');
    expand.setAttribute('aria-controls', panel.id);
    expand.addEventListener('click', safe(() => toggleAttempts(row)));
    part(row, 'retry').addEventListener('click', safe(() => retryDelivery(row)));
    showDelivery(row, delivery);
    return row;
  }

  function showDelivery(row, d) {
    row.dataset.status = d.status;
    const badge = part(row, 'delivery-status');
    badge.className = statusBadge(d.status).className;
    badge.textContent = d.status;
    row.querySelector('.delivery-topic').textContent = d.topic;
    const time = row.querySelector('time');
    time.dateTime = d.created_at;
    time.textContent = formatTime(d.created_at);
    const next = d.status === 'retrying' && d.next_attempt_at ? `, next at ${formatTime(d.next_attempt_at)}` : '';
    const attempts = `${d.attempt_count} attempt${d.attempt_count === 1 ? '' : 's'}`;
    row.querySelector('.delivery-attempts').textContent = attempts + next;
    const error = row.querySelector('.delivery-error');
    error.hidden = !d.last_error;
    error.textContent = d.last_error || '';
    part(row, 'retry').hidden = d.status !== 'failed';
    row.querySelector('.delivery-ids').textContent = `Delivery ${d.id} · event ${d.event_id}`;
    if (part(row, 'expand-delivery').getAttribute('aria-expanded') === 'true') showAttempts(row, d.attempts || []);
  }

  async function toggleAttempts(row) {
    const button = part(row, 'expand-delivery');
    const panel = row.querySelector('.attempts');
    if (button.getAttribute('aria-expanded') === 'true') {
      button.setAttribute('aria-expanded', 'false');
      panel.hidden = true;
      return;
    }
    button.setAttribute('aria-expanded', 'true');
    panel.hidden = false;
    panel.querySelector('tbody').replaceChildren(h('tr', {}, h('td', { colspan: '5', text: 'Loading…' })));
    const delivery = await api('GET', tenantPath('deliveries', row.dataset.deliveryId));
    showDelivery(row, delivery);
  }

  function showAttempts(row, attempts) {
    const body = row.querySelector('tbody');
    if (attempts.length === 0) {
      body.replaceChildren(h('tr', {}, h('td', { colspan: '5', text: 'No attempt yet.' })));
      return;
    }
    body.replaceChildren(...attempts.map(attemptRow));
  }

  function attemptRow(a) {
    const answer = a.status_code != null ? `HTTP ${a.status_code}` : a.error || 'no answer';
    const excerpt = a.response_excerpt ? h('pre', { className: 'excerpt', text: a.response_excerpt }) : '';
    return h('tr', { 'data-testid': 'attempt-row' },
      h('td', { text: String(a.attempt) }),
      h('td', {}, timeElement(a.at)),
      h('td', { className: a.status_code >= 200 && a.status_code < 300 ? 'ok' : 'error', text: answer }),
      h('td', { text: `${a.latency_ms} ms` }),
      h('td', {}, excerpt));
  }

  async function retryDelivery(row) {
    const button = part(row, 'retry');
    setBusy(button, true, 'Retrying…');
    try {
      await api('POST', tenantPath('deliveries', row.dataset.deliveryId, 'retry'));
    } finally {
      setBusy(button, false);
    }
    notify('The delivery is being sent again.');
    // The retry button goes away with the failed status: keep focus in the row.
    part(row, 'expand-delivery').focus();
    const delivery = await api('GET', tenantPath('deliveries', row.dataset.deliveryId));
    showDelivery(row, delivery);
  }

  async function recover(event) {
    event.preventDefault();
    const log = state.log;
    const result = byId('recover-result');
    const local = new Date(value('recover-since'));
    if (!log || Number.isNaN(local.getTime())) {
      result.textContent = 'Choose a date and time.';
      return;
    }
    const since = local.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const button = byId('recover');
    setBusy(button, true, 'Recovering…');
    try {
      // A call reads a bounded part of the log; its cursor continues (a few calls at most here).
      let n = 0;
      let cursor;
      for (let call = 0; call < 20; call += 1) {
        const answer = await api('POST', tenantPath('webhooks', log.webhookId, 'recover'), { query: { since, cursor } });
        n += answer.requeued;
        cursor = answer.next_cursor;
        if (!cursor) break;
      }
      const some = `${n} failed deliver${n === 1 ? 'y is' : 'ies are'} being sent again.`;
      result.textContent = n === 0 ? 'No failed deliveries since then.' : some;
    } catch (error) {
      if (!(error instanceof SessionEnded)) result.textContent = describe(error);
      return;
    } finally {
      setBusy(button, false);
    }
    await loadDeliveries(true);
  }

  // ---------------------------------------------------------------------------------------
  // "Verify the signature", with this deployment's header names.
  // ---------------------------------------------------------------------------------------

  function verifySnippet(prefix) {
    return [
      'import base64, hashlib, hmac, time',
      '',
      'def verify(headers, body: bytes, secret: str) -> bool:',
      '    """Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature."""',
      '    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()',
      '    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]',
      '    if abs(time.time() - int(ts)) > 300:',
      '        return False  # a replay, or a clock far off',
      '    signed = f"{msg_id}.{ts}.".encode() + body',
      '    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()',
      '    return any(hmac.compare_digest(expected, s[3:])',
      '               for s in headers["webhook-signature"].split() if s.startswith("v1,"))',
      '',
      'def verify_hmac(headers, body: bytes, secret: str) -> bool:',
      '    """The hex HMAC of the body, keyed with the secret as given."""',
      '    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()',
      `    return hmac.compare_digest(expected, headers["${prefix}-webhook-hmac"])`,
    ].join('\n');
  }

  function headerList(entries) {
    const dl = h('dl', { className: 'header-list' });
    for (const [name, meaning] of entries) {
      dl.append(h('dt', {}, h('code', { text: name })), h('dd', { text: meaning }));
    }
    return dl;
  }

  function renderVerifyPanel(headerPrefix) {
    const p = typeof headerPrefix === 'string' && headerPrefix ? headerPrefix : 'x-hookline';
    byId('verify-content').replaceChildren(
      h('p', {
        text: 'Every request carries two signatures made with the webhook’s secret; check either, '
          + 'on the raw body bytes, before parsing them.',
      }),
      h('h3', { text: 'Standard Webhooks' }),
      headerList([
        ['webhook-id', 'the delivery id: the same on every retry, so dedupe on it'],
        ['webhook-timestamp', 'when it was signed, in unix seconds'],
        ['webhook-signature', 'v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">; '
          + 'during a secret rotation, one per secret, space-separated'],
      ]),
      h('p', {
        text: 'The key is the base64-decoded part of a whsec_… secret (a secret you typed: its UTF-8 bytes). '
          + 'Any Standard Webhooks library does this check. Refuse timestamps more than 5 minutes away.',
      }),
      h('h3', { text: 'Hex HMAC' }),
      headerList([
        [`${p}-webhook-hmac`, 'hex HMAC-SHA256 of the body, keyed with the secret as given'],
        [`${p}-webhook-secret`, 'hex SHA-256 of the secret that signed (to tell secrets apart during a rotation)'],
        [`${p}-timestamp`, 'when it was signed, in unix seconds'],
        [`${p}-delivery-id`, 'the delivery id'],
        [`${p}-topic`, 'the event, with the webhook’s prefix'],
      ]),
      h('h3', { text: 'In Python' }),
      h('pre', { className: 'code', tabindex: '0', text: verifySnippet(p) }),
    );
  }

  boot().catch(report);
})();
