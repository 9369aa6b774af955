// Hamlet's page around ODK Web Forms: reads what the server put on #hamlet-webform, mounts the
// engine with Vue, fetches the form's media from Hamlet, and sends a finished form to Hamlet as
// ODK Collect would (multipart: xml_submission_file plus one part per attachment).
import './nonce.js';
import { createApp, h, ref } from 'vue';
import { OdkWebForm, POST_SUBMIT__NEW_INSTANCE, webFormsPlugin } from '@getodk/web-forms';

const root = document.getElementById('hamlet-webform');
const cfg = root.dataset;
const status = document.getElementById('hamlet-webform-status');
const maxBytes = Number(cfg.maxBytes || 0);

function show(kind, text) {
  status.textContent = text;
  status.className = `notice ${kind}`;
  status.hidden = !text;
  if (text) status.scrollIntoView({ block: 'nearest' });
}

function withCsrf(headers) {
  if (cfg.csrf) headers['X-CSRF-Token'] = cfg.csrf;
  return headers;
}

// The engine asks for jr://file/… media by URL; Hamlet serves each by its name.
async function fetchAttachment(url) {
  const name = decodeURIComponent(String(url.pathname || url).split('/').pop());
  const resp = await fetch(cfg.attachmentsUrl + encodeURIComponent(name), { credentials: 'same-origin' });
  const headers = new Headers(resp.headers);
  // The engine wants no space before charset (getodk/web-forms#269).
  const type = headers.get('content-type');
  if (type) headers.set('content-type', type.replace('; charset', ';charset'));
  return new Response(await resp.blob(), { status: resp.status, statusText: resp.statusText, headers });
}

async function fetchText(url) {
  const resp = await fetch(url, { credentials: 'same-origin' });
  if (!resp.ok) throw new Error(`${resp.status}`);
  return resp.text();
}

let editInstance = null;
if (cfg.instanceUrl) {
  const names = JSON.parse(cfg.instanceAttachments || '[]');
  editInstance = {
    resolveInstance: () => fetchText(cfg.instanceUrl),
    attachmentFileNames: names,
    resolveAttachment: async (name) => {
      const resp = await fetch(cfg.instanceAttachmentUrl + encodeURIComponent(name), { credentials: 'same-origin' });
      return new Response(await resp.blob(), { status: resp.status, headers: resp.headers });
    },
  };
}

let sending = false;
async function handleSubmit(payload, callback) {
  if (sending || payload.status !== 'ready') return;
  const [data] = payload.data;
  const tooLarge = data.attachments.find((file) => maxBytes && file.size > maxBytes);
  if (tooLarge) {
    show('error', cfg.msgTooLarge.replace('{name}', tooLarge.name));
    return;
  }
  const body = new FormData();
  body.append('xml_submission_file', data.instanceFile, 'xml_submission_file.xml');
  for (const file of data.attachments) body.append(file.name, file, file.name);
  sending = true;
  show('info', cfg.msgSending);
  try {
    const resp = await fetch(cfg.submitUrl, {
      method: 'POST', body, credentials: 'same-origin', headers: withCsrf({ Accept: 'application/json' }),
    });
    let answer = {};
    try { answer = await resp.json(); } catch (_e) { answer = {}; }
    if (!resp.ok) {
      show('error', answer.message || cfg.msgFailed);
      return;
    }
    if (cfg.doneUrl) {
      window.location.assign(answer.next || cfg.doneUrl);
      return;
    }
    callback({ next: POST_SUBMIT__NEW_INSTANCE });
    show('success', answer.message || cfg.msgSent);
    window.scrollTo(0, 0);
  } catch (_e) {
    show('error', cfg.msgOffline);
  } finally {
    sending = false;
  }
}

fetchText(cfg.formUrl).then((formXml) => {
  const app = createApp({
    render: () => h(OdkWebForm, {
      formXml,
      fetchFormAttachment: fetchAttachment,
      missingResourceBehavior: 'BLANK',
      editInstance,
      trackDevice: true,
      onSubmit: handleSubmit,
    }),
  });
  app.use(webFormsPlugin);
  app.mount(root);
}).catch(() => show('error', cfg.msgFailedLoad));
