// dealroom: open an encrypted deal room in the browser (format version 1, see
// plugins/dealroom/encryption.py). Nothing here is secret; the password never leaves
// this page and is never stored: only the key derived from it. The key lasts for the
// browser session: in this tab's sessionStorage, handed to a new tab of the same deal
// room by a tab that holds it (a BroadcastChannel, in memory, within this origin), and
// in localStorage only if the reader asks to be remembered on this device.
(() => {
  "use strict";
  const root = new URL(document.documentElement.dataset.root || "./", location.href);
  const storageKey = "dealroom-key:" + root.pathname;
  // One channel per deal room; BroadcastChannel itself never leaves this origin.
  const channelName = "dealroom-unlock:" + root.pathname;
  // How long a new tab waits for an open tab to answer before it asks for the password.
  const askTimeoutMs = 400;
  const storedKeyPattern = /^[A-Za-z0-9+/]{43}=$/; // a 256-bit key in base64
  const associatedData = new TextEncoder().encode("dealroom:1");
  // Files a browser shows without running anything; any other file a page links to is
  // downloaded rather than opened as a document with this site's origin.
  const inertTypes = /^(image\/(png|jpeg|gif|webp|avif|bmp|x-icon)|application\/pdf|text\/(plain|csv)|audio\/|video\/)/;
  const form = document.getElementById("dealroom-unlock");
  const password = document.getElementById("dealroom-password");
  const remember = document.getElementById("dealroom-remember");
  const error = document.getElementById("dealroom-error");
  const status = document.getElementById("dealroom-status");
  let answering = null; // this tab's channel, once it holds the key

  const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes));
  const fromBase64Url = (text) =>
    fromBase64(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
  const aesKey = (raw) => crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
  const fetchJson = async (path) => (await fetch(new URL(path, root), { cache: "no-store" })).json();

  async function open(key, envelope) {
    if (envelope.format !== "dealroom-encrypted" || envelope.version !== 1) {
      throw new Error("unsupported envelope");
    }
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64(envelope.iv), additionalData: associatedData },
      key, fromBase64(envelope.data));
    return new Uint8Array(plain);
  }

  async function viewerKey(text, kdf) {
    const material = await crypto.subtle.importKey(
      "raw", new TextEncoder().encode(text), "PBKDF2", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt: fromBase64(kdf.salt), iterations: kdf.iterations },
      material, 256);
    return new Uint8Array(bits);
  }

  async function contentKey(viewerRaw, keys) {
    const key = await aesKey(viewerRaw);
    for (const slot of keys.slots) {
      try {
        return await aesKey(await open(key, slot));
      } catch (wrongSlot) {
        // not this viewer's slot: try the next one
      }
    }
    return null;
  }

  // A share link's own keys file; null if there is none (any more).
  async function viewerKeys(token) {
    try {
      const response = await fetch(new URL(`dealroom-keys/${token}.json`, root), { cache: "no-store" });
      return response.ok ? await response.json() : null;
    } catch (unreachable) {
      return null;
    }
  }

  async function decryptedUrl(key, path, type) {
    const bytes = await open(key, await fetchJson(path));
    return URL.createObjectURL(new Blob([bytes], { type }));
  }

  async function show(key) {
    const envelope = JSON.parse(document.getElementById("dealroom-envelope").textContent);
    const payload = JSON.parse(new TextDecoder().decode(await open(key, envelope)));
    const page = new DOMParser().parseFromString(payload.html, "text/html");

    // Deal assets were published under opaque names: point the page at decrypted copies.
    for (const [asset, blob] of Object.entries(payload.blobs)) {
      const target = new URL(asset, root).href;
      const users = [...page.querySelectorAll("[src], [href]")].filter((element) => {
        const value = element.getAttribute("src") ?? element.getAttribute("href");
        return new URL(value, location.href).href === target;
      });
      if (!users.length) continue;
      const file = JSON.parse(new TextDecoder().decode(await open(key, await fetchJson(blob))));
      const url = URL.createObjectURL(new Blob([fromBase64(file.content)], { type: file.type }));
      for (const element of users) {
        element.setAttribute(element.hasAttribute("src") ? "src" : "href", url);
        if (element.tagName === "A" && !inertTypes.test(file.type)) {
          element.setAttribute("download", asset.split("/").pop());
        }
      }
    }

    // The theme's search loads its index with XMLHttpRequest: hand it the decrypted one.
    const index = new URL("search/search_index.json", root).href;
    try {
      const indexUrl = await decryptedUrl(key, index, "application/json");
      const openRequest = XMLHttpRequest.prototype.open;
      XMLHttpRequest.prototype.open = function (method, url, ...rest) {
        const wanted = new URL(String(url), location.href).href === index;
        return openRequest.call(this, method, wanted ? indexUrl : url, ...rest);
      };
    } catch (noIndex) {
      // a site without search still opens
    }

    document.open();
    document.write("<!doctype html>\n" + page.documentElement.outerHTML);
    document.close();
  }

  async function unlock(viewerRaw, keep, keys) {
    const key = await contentKey(viewerRaw, keys ?? (await fetchJson("dealroom-keys.json")));
    if (!key) return false;
    const encoded = toBase64(viewerRaw);
    sessionStorage.setItem(storageKey, encoded); // other pages of this visit open directly
    if (keep) localStorage.setItem(storageKey, encoded);
    await show(key);
    answerNewTabs();
    return true;
  }

  // A tab that holds the key hands it to a new tab of the same deal room that asks for
  // it, so that the reader unlocks once per browser session. Only requests from this
  // origin (the only ones a BroadcastChannel delivers; checked anyway) that name this
  // deal room's root are answered, and the answer is only ever the key in this tab's
  // sessionStorage, so a tab whose key went stale (a password change) hands out nothing
  // that opens anything.
  function answerNewTabs() {
    if (answering || typeof BroadcastChannel !== "function") return;
    answering = new BroadcastChannel(channelName);
    answering.onmessage = (event) => {
      const request = event.data;
      if (event.origin !== location.origin || !request || request.type !== "key-request"
          || request.root !== root.pathname || typeof request.id !== "string") return;
      const key = sessionStorage.getItem(storageKey);
      if (!key) return;
      answering.postMessage({ type: "key", id: request.id, root: root.pathname, key });
    };
  }

  // Ask the open tabs of this deal room for the key; null if none answers in time.
  function askOpenTabs() {
    if (typeof BroadcastChannel !== "function") return Promise.resolve(null);
    return new Promise((resolve) => {
      const channel = new BroadcastChannel(channelName);
      const id = toBase64(crypto.getRandomValues(new Uint8Array(12)));
      const done = (value) => {
        clearTimeout(timer);
        channel.close();
        resolve(value);
      };
      const timer = setTimeout(() => done(null), askTimeoutMs);
      channel.onmessage = (event) => {
        const answer = event.data;
        if (event.origin !== location.origin || !answer || answer.type !== "key"
            || answer.id !== id || answer.root !== root.pathname
            || !storedKeyPattern.test(answer.key)) return;
        done(fromBase64(answer.key));
      };
      channel.postMessage({ type: "key-request", id, root: root.pathname });
    });
  }

  function showForm() {
    status.hidden = true;
    form.hidden = false;
    password.focus();
  }

  // Every way to the key that needs no typing, in order: a share link, this tab, this
  // device (if remembered), an open tab of this deal room. The form shows only after.
  async function start() {
    status.hidden = false;
    // `&viewer=<token>` (share_link_tokens): the link's own keys file, whose fetch in the
    // host's log tells the seller which share link was opened; the common one otherwise.
    const shared = location.hash.match(/^#key=([A-Za-z0-9_-]+)(?:&viewer=([A-Za-z0-9_-]{22}))?$/);
    if (shared) {
      history.replaceState(null, "", location.pathname + location.search); // out of sight
      const raw = fromBase64Url(shared[1]);
      const own = shared[2] ? await viewerKeys(shared[2]) : null;
      if ((own && (await unlock(raw, false, own))) || (await unlock(raw, false))) return;
    }
    const stored = sessionStorage.getItem(storageKey) || localStorage.getItem(storageKey);
    if (stored) {
      if (storedKeyPattern.test(stored) && (await unlock(fromBase64(stored), false))) return;
      sessionStorage.removeItem(storageKey); // a key from before a password change
      localStorage.removeItem(storageKey);
    }
    const handed = await askOpenTabs();
    if (handed && (await unlock(handed, false))) return;
    showForm();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    error.hidden = true;
    try {
      const keys = await fetchJson("dealroom-keys.json");
      const raw = await viewerKey(password.value, keys.kdf);
      if (await unlock(raw, remember.checked, keys)) return;
      error.hidden = false;
      password.select();
    } finally {
      button.disabled = false;
    }
  });

  start().catch(showForm); // a broken link or a network error: the reader can still type
})();
