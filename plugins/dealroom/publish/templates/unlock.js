// dealroom: open an encrypted deal room in the browser (format version 1, see
// plugins/dealroom/encryption.py). Nothing here is secret; the password never leaves
// this page and is never stored: only the key derived from it, and only if asked to.
(() => {
  "use strict";
  const root = new URL(document.documentElement.dataset.root || "./", location.href);
  const storageKey = "dealroom-key:" + root.pathname;
  const associatedData = new TextEncoder().encode("dealroom:1");
  // Files a browser shows without running anything; any other file a page links to is
  // downloaded rather than opened as a document with this site's origin.
  const inertTypes = /^(image\/(png|jpeg|gif|webp|avif|bmp|x-icon)|application\/pdf|text\/(plain|csv)|audio\/|video\/)/;
  const form = document.getElementById("dealroom-unlock");
  const password = document.getElementById("dealroom-password");
  const remember = document.getElementById("dealroom-remember");
  const error = document.getElementById("dealroom-error");

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
    return true;
  }

  async function start() {
    const shared = location.hash.match(/^#key=([A-Za-z0-9_-]+)$/);
    if (shared) {
      history.replaceState(null, "", location.pathname + location.search); // out of sight
      if (await unlock(fromBase64Url(shared[1]), false)) return;
    }
    const stored = sessionStorage.getItem(storageKey) || localStorage.getItem(storageKey);
    if (stored) {
      if (await unlock(fromBase64(stored), false)) return;
      sessionStorage.removeItem(storageKey); // a key from before a password change
      localStorage.removeItem(storageKey);
    }
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

  start();
})();
