// The browser's share of PopPass's translations: the entries of web/locale/*.po whose source
// is a JS file, served as JSON at /i18n/<lang>.json. English is the source language, so an
// empty catalogue (not loaded yet, or offline with nothing cached) still reads correctly.

let catalogue = {};

export function language() {
  return document.documentElement.lang || "en";
}

export async function loadCatalogue(lang = language()) {
  if (lang === "en") {
    catalogue = {};
    return;
  }
  try {
    const response = await fetch(`/i18n/${encodeURIComponent(lang)}.json`);
    if (response.ok) catalogue = await response.json();
  } catch {
    // Offline without a cached catalogue: English beats a broken screen.
  }
}

// Same contract as the server's new-style gettext: "%(name)s" placeholders, "%%" for "%".
export function _(message, values = {}) {
  const translated = Object.hasOwn(catalogue, message) && catalogue[message] ? catalogue[message] : message;
  return translated.replace(/%(?:\((\w+)\)[sd]|%)/g, (match, name) =>
    name === undefined ? "%" : String(values[name] ?? match),
  );
}
