/* devstore's stand-in for Shopify App Bridge (cdn.shopify.com/shopifycloud/app-bridge.js).
 * Same contract as the real one, for the parts the app uses:
 *   - shopify.idToken(): a fresh one-minute ID token, asked of the admin frame by postMessage;
 *   - fetch() to the app's own origin gets `Authorization: Bearer <ID token>`, and one retry
 *     with a new token on 401 + X-Shopify-Retry-Invalid-Session-Request: 1;
 *   - the bounce page: a `shopify-reload` param is reloaded with a fresh `id_token`;
 *   - shopify.toast.show(message, {duration, isError, action, onAction}), <s-app-nav> links
 *     shown in the admin menu (again whenever they change, as App Bridge watches the menu),
 *     and shopify://admin/... links opening the admin's own pages.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  var meta = document.querySelector('meta[name="shopify-api-key"]');
  var apiKey = (meta && meta.content) || (script && script.dataset.apiKey) || '';
  var adminOrigin = new URL(script.src, location.href).origin;
  var params = new URLSearchParams(location.search);
  var pending = new Map();
  var toastActions = new Map();
  var seq = 0;

  function request(type, payload) {
    return new Promise(function (resolve, reject) {
      var id = ++seq;
      pending.set(id, {resolve: resolve, reject: reject});
      window.parent.postMessage({source: 'app-bridge', id: id, type: type, payload: payload || {}, apiKey: apiKey}, adminOrigin);
      setTimeout(function () {
        if (pending.has(id)) { pending.delete(id); reject(new Error('App Bridge: no answer to ' + type)); }
      }, 10000);
    });
  }

  window.addEventListener('message', function (event) {
    if (event.origin !== adminOrigin || event.source !== window.parent) return;
    var m = event.data;
    if (m && m.source === 'admin' && m.type === 'toastAction') {
      var onAction = toastActions.get(m.toastId);
      if (onAction) { toastActions.delete(m.toastId); onAction(); }
      return;
    }
    if (!m || m.source !== 'admin' || !pending.has(m.id)) return;
    var p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) p.reject(new Error(m.error)); else p.resolve(m.result);
  });

  var shopify = {
    config: {apiKey: apiKey, shop: params.get('shop'), host: params.get('host'), locale: params.get('locale') || 'en'},
    idToken: function () { return request('idToken'); },
    toast: {show: function (message, opts) {
      opts = opts || {};
      var toastId = null;
      if (opts.action && typeof opts.onAction === 'function') {
        toastId = 'toast-' + (++seq);
        toastActions.set(toastId, opts.onAction);
      }
      request('toast', {
        message: String(message), isError: !!opts.isError, duration: Number(opts.duration) || 5000,
        action: opts.action ? String(opts.action) : null, toastId: toastId
      }).catch(function () {});
    }},
    navigate: function (href) { return request('navigate', {href: href}); }
  };
  window.shopify = shopify;

  var nativeFetch = window.fetch.bind(window);
  window.fetch = async function (input, init) {
    var url = new URL(input instanceof Request ? input.url : String(input), location.href);
    if (url.origin !== location.origin) return nativeFetch(input, init);
    var options = Object.assign({}, init || {});
    var headers = new Headers(options.headers || (input instanceof Request ? input.headers : undefined));
    headers.set('Authorization', 'Bearer ' + await shopify.idToken());
    options.headers = headers;
    // A Request's body can be read once: keep a copy for the retry.
    var retryInput = input instanceof Request ? input.clone() : input;
    var response = await nativeFetch(input, options);
    if (response.status === 401 && response.headers.get('X-Shopify-Retry-Invalid-Session-Request') === '1') {
      headers.set('Authorization', 'Bearer ' + await shopify.idToken());
      response = await nativeFetch(retryInput, options);
    }
    return response;
  };

  var reload = params.get('shopify-reload');
  if (reload) {
    var target = new URL(reload, location.href);
    if (target.origin === location.origin) {
      shopify.idToken().then(function (token) {
        target.searchParams.set('id_token', token);
        location.replace(target.toString());
      });
    }
  }

  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('[href^="shopify:"]');
    if (!link) return;
    event.preventDefault();
    shopify.navigate(link.getAttribute('href'));
  }, true);

  function syncNav() {
    var nav = document.querySelector('s-app-nav, ui-nav-menu');
    if (!nav) return;
    var items = Array.prototype.map.call(nav.querySelectorAll('s-link, a'), function (l) {
      return {label: l.textContent.trim(), href: l.getAttribute('href'), rel: l.getAttribute('rel')};
    });
    request('nav', {items: items}).catch(function () {});
  }
  var navTimer = null;
  function watchNav() {
    syncNav();
    var nav = document.querySelector('s-app-nav, ui-nav-menu');
    if (!nav || !window.MutationObserver) return;
    new MutationObserver(function () {
      clearTimeout(navTimer);
      navTimer = setTimeout(syncNav, 50);
    }).observe(nav, {subtree: true, childList: true, characterData: true, attributes: true});
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', watchNav); else watchNav();
})();
