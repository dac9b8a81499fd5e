// dealvault web data room: the few things a page cannot do without a script. No inline
// script anywhere (the Content-Security-Policy forbids it); htmx does the rest.
"use strict";

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
  } catch (e) {
    return "";
  }
}

// A mailed link's secret is in the URL's fragment (never sent to a server, never in a log):
// copy it into the form, then drop it from the address bar and the history.
function readLinkSecret() {
  const form = document.querySelector("[data-link-form]");
  if (!form) return;
  const secret = window.location.hash.slice(1);
  const input = form.querySelector("[data-link-secret]");
  if (secret) {
    input.value = decodeURIComponent(secret);
    history.replaceState(null, "", window.location.pathname);
  } else if (!input.value) {
    form.querySelector("[data-link-missing]").hidden = false;
  }
}

// Ask before a change that cannot be undone lightly (freeze, deny, stage change, a
// download that counts against a row cap): the form's data-confirm text. Listened for on
// the document, so forms that htmx brings in later ask too.
function confirmForms() {
  document.addEventListener("submit", function (event) {
    const form = event.target.closest && event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  }, true);
}

// A part of a page that htmx fetches again (the next page of records, a search of the log)
// may be refused: the deal was frozen meanwhile, the row cap is used up, the session ended.
// Then the browser opens that address as a page, which shows the refusal and its reason.
function refusalsAsPages() {
  document.body.addEventListener("htmx:responseError", function (event) {
    const xhr = event.detail.xhr;
    window.location.assign((xhr && xhr.responseURL) || window.location.href);
  });
}

// -- passkeys (WebAuthn) --------------------------------------------------------------
function b64urlToBytes(value) {
  const s = value.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(s + "===".slice((s.length + 3) % 4));
  return Uint8Array.from(bin, function (c) { return c.charCodeAt(0); });
}

function bytesToB64url(buf) {
  let bin = "";
  new Uint8Array(buf).forEach(function (b) { bin += String.fromCharCode(b); });
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function postJson(url, body) {
  const r = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify(body || {}),
  });
  if (!r.ok) throw new Error("HTTP " + r.status);
  return r.json();
}

function credentialJson(cred) {
  const out = { id: cred.id, rawId: bytesToB64url(cred.rawId), type: cred.type, response: {} };
  const resp = cred.response;
  ["clientDataJSON", "attestationObject", "authenticatorData", "signature", "userHandle"]
    .forEach(function (k) { if (resp[k]) out.response[k] = bytesToB64url(resp[k]); });
  if (resp.getTransports) out.response.transports = resp.getTransports();
  out.clientExtensionResults = cred.getClientExtensionResults ? cred.getClientExtensionResults() : {};
  return out;
}

async function passkeyEnrol(box) {
  const opts = await postJson("/api/account/passkeys/begin");
  opts.challenge = b64urlToBytes(opts.challenge);
  opts.user.id = b64urlToBytes(opts.user.id);
  (opts.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBytes(c.id); });
  const cred = await navigator.credentials.create({ publicKey: opts });
  const done = await postJson("/api/account/passkeys/finish", { credential: credentialJson(cred) });
  const codes = box.querySelector("[data-passkey-codes]");
  const list = codes.querySelector("ol");
  ((done.enrolled && done.enrolled.recovery_codes) || []).forEach(function (c) {
    const li = document.createElement("li");
    const code = document.createElement("code");
    code.textContent = c;
    li.appendChild(code);
    list.appendChild(li);
  });
  if (done.enrolled) {
    codes.hidden = false;
  } else {
    window.location.assign("/account");
  }
}

async function passkeySignIn(box) {
  const opts = await postJson("/api/auth/passkey/begin");
  opts.challenge = b64urlToBytes(opts.challenge);
  (opts.allowCredentials || []).forEach(function (c) { c.id = b64urlToBytes(c.id); });
  const cred = await navigator.credentials.get({ publicKey: opts });
  await postJson("/api/auth/passkey/finish", { credential: credentialJson(cred) });
  window.location.assign(box.getAttribute("data-next") || "/deals");
}

function passkeys() {
  if (!window.PublicKeyCredential) return;
  document.querySelectorAll("[data-passkey]").forEach(function (box) {
    box.hidden = false;
    const button = box.querySelector("[data-passkey-start]");
    button.addEventListener("click", function () {
      box.querySelector("[data-passkey-error]").hidden = true;
      const run = box.getAttribute("data-passkey") === "enrol" ? passkeyEnrol : passkeySignIn;
      run(box).catch(function () { box.querySelector("[data-passkey-error]").hidden = false; });
    });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  readLinkSecret();
  confirmForms();
  refusalsAsPages();
  passkeys();
});
