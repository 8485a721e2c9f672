// t(message, params): a sentence of the page's scripts in the page's language. The page puts
// the translations it needs in <script type="application/json" id="i18n"> (from the app's
// message catalogue: shopify_app/js_messages.py); the key is the English sentence, so a page
// without them (English) shows the key. Placeholders are gettext's: %(name)s.
(function () {
  'use strict';
  let table = null;

  function load() {
    const element = document.getElementById('i18n');
    if (!element) return {};
    try {
      return JSON.parse(element.textContent) || {};
    } catch (error) {
      return {};
    }
  }

  function t(message, params) {
    if (table === null) table = load();
    const text = Object.prototype.hasOwnProperty.call(table, message) ? table[message] : message;
    if (!params) return text;
    return text.replace(/%\((\w+)\)s/g, (whole, name) =>
      Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole);
  }

  // The language for Intl formats: the page's (<html lang>), English as the app writes it.
  const lang = document.documentElement.lang || 'en';
  t.locale = lang === 'en' ? 'en-GB' : lang;
  window.t = t;
})();
