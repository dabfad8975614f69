// The placeholder page of the local stack: show window.TVM_CONFIG and ask the API for a token.
// Nothing is stored (no cookies, no web storage); every answer is shown as text, never as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const config = window.TVM_CONFIG;
  const status = $("status");
  const result = $("result");
  const form = $("token-form");

  const list = $("config");
  list.replaceChildren();
  if (!config) {
    status.textContent = "/config.js did not load: is make dev still running?";
    form.hidden = true;
    return;
  }
  for (const [key, value] of Object.entries(config)) {
    const term = document.createElement("dt");
    const detail = document.createElement("dd");
    term.textContent = key;
    detail.textContent = String(value);
    list.append(term, detail);
  }

  const basic = config.authMethod === "LambdaAuthorizer";
  const open = config.authMethod === "Open";
  if (!basic && !open) {
    status.textContent = `${config.authMethod} sign-in is not available on this page yet.`;
    form.hidden = true;
    return;
  }
  for (const [id, shown] of [["basic-fields", basic], ["open-fields", open]]) {
    $(id).hidden = !shown;
    $(id).disabled = !shown;
  }
  if (open) $("topics").value = "chat-lobby";

  const base64 = (text) => {
    let binary = "";
    for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
    return btoa(binary);
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const url = new URL(`${String(config.apiUrl).replace(/\/+$/, "")}/token`);
    const topics = $("topics").value.trim();
    if (topics) url.searchParams.set("topics", topics);
    const headers = {};
    if (basic) {
      headers.Authorization = `Basic ${base64(`${$("username").value}:${$("password").value}`)}`;
    } else if ($("name").value.trim()) {
      url.searchParams.set("name", $("name").value.trim());
    }
    $("submit").disabled = true;
    status.textContent = "Asking the API…";
    try {
      const response = await fetch(url, { headers, credentials: "omit", cache: "no-store" });
      const text = await response.text();
      let shown = text;
      try {
        shown = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON: show it as it came
      }
      status.textContent = `${response.status} ${response.statusText || ""}`.trim();
      result.textContent = shown;
      result.hidden = false;
    } catch (error) {
      status.textContent = `The API did not answer (${error.message}). Is make dev still running?`;
      result.hidden = true;
    } finally {
      $("submit").disabled = false;
    }
  });
})();
