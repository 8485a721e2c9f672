/* The devstore's web pixel host (what Shopify's storefront runtime does for an app pixel):
 * start the pixel in a module Worker (the strict sandbox: no DOM), hand it `init` and its
 * settings, answer its `browser.localStorage` / `sessionStorage` / `cookie` reads, and
 * publish the standard events with Shopify's envelope: `product_added_to_cart` and
 * `product_removed_from_cart` for every change made through the Ajax cart API (whoever calls
 * it: the difference between the cart before and after), and `cart_viewed` on the cart page.
 * Configuration: the JSON in #ds-web-pixel (devstore/storefront.py `pixel_runtime`). */
(function () {
  'use strict';
  var node = document.getElementById('ds-web-pixel');
  if (!node || typeof Worker === 'undefined') return;
  var config = JSON.parse(node.textContent);
  var CART_CHANGES = /\/cart\/(add|change|update|clear)(\.js)?$/;
  var seq = 0;

  function clientId() {
    var key = 'ds-pixel-client-id';
    try {
      var id = window.localStorage.getItem(key);
      if (!id) {
        id = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
        window.localStorage.setItem(key, id);
      }
      return id;
    } catch (e) {
      return 'anonymous';
    }
  }
  var client = clientId();

  function locationJson() {
    var l = window.location;
    return {href: l.href, hash: l.hash, host: l.host, hostname: l.hostname, origin: l.origin,
      pathname: l.pathname, port: l.port, protocol: l.protocol, search: l.search};
  }

  function context() {
    return {
      document: {location: locationJson(), referrer: document.referrer, characterSet: document.characterSet,
        title: document.title},
      navigator: {language: navigator.language, languages: Array.prototype.slice.call(navigator.languages || []),
        cookieEnabled: navigator.cookieEnabled, userAgent: navigator.userAgent},
      window: {innerHeight: window.innerHeight, innerWidth: window.innerWidth, outerHeight: window.outerHeight,
        outerWidth: window.outerWidth, pageXOffset: window.pageXOffset, pageYOffset: window.pageYOffset,
        location: locationJson(), origin: window.location.origin, screenX: window.screenX, screenY: window.screenY,
        scrollX: window.scrollX, scrollY: window.scrollY}
    };
  }

  function uuid() {
    return (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
      : Date.now().toString(16) + '-' + Math.random().toString(16).slice(2);
  }

  var worker = new Worker(config.worker, {type: 'module', name: 'web-pixel'});
  worker.addEventListener('message', function (message) {
    var data = message.data || {};
    if (data.type !== 'browser') return;
    var value = null;
    try {
      var args = data.args || [];
      if (data.area === 'localStorage' || data.area === 'sessionStorage') {
        var store = window[data.area];
        if (data.method === 'getItem') value = store.getItem(args[0]);
        else if (data.method === 'setItem') store.setItem(args[0], args[1]);
        else if (data.method === 'removeItem') store.removeItem(args[0]);
        else if (data.method === 'key') value = store.key(args[0]);
        else if (data.method === 'length') value = store.length;
      } else if (data.area === 'cookie') {
        value = args[0] ? ((document.cookie.match('(?:^|; )' + args[0].replace(/[^\w-]/g, '') + '=([^;]*)') || [])[1] || '')
          : document.cookie;
      }
    } catch (e) {
      value = null;
    }
    worker.postMessage({type: 'browser-result', id: data.id, value: value});
  });
  var init = config.init;
  init.context = context();
  worker.postMessage({type: 'init', init: init, settings: config.settings});

  function publish(name, data) {
    seq += 1;
    worker.postMessage({type: 'event', event: {
      id: 'sh-' + uuid(), name: name, type: 'standard', timestamp: new Date().toISOString(),
      seq: seq, clientId: client, context: context(), data: data
    }});
  }

  function money(cents, currency) {
    return {amount: Math.round(cents) / 100, currencyCode: currency};
  }

  function cartLine(item, quantity, currency) {
    return {
      cost: {totalAmount: money(item.final_price * quantity, currency)},
      merchandise: {
        id: String(item.variant_id), title: item.variant_title || 'Default Title',
        untranslatedTitle: item.variant_title || 'Default Title', sku: item.sku,
        price: money(item.final_price, currency), image: {src: item.image},
        product: {id: String(item.product_id), title: item.product_title,
          untranslatedTitle: item.product_title, type: item.product_type, vendor: item.vendor,
          url: item.url ? item.url.split('?')[0] : null}
      },
      quantity: quantity
    };
  }

  function byVariant(cart) {
    var out = {};
    ((cart && cart.items) || []).forEach(function (item) {
      var key = String(item.variant_id);
      if (out[key]) out[key].quantity += item.quantity;
      else out[key] = {item: item, quantity: item.quantity};
    });
    return out;
  }

  function readCart() {
    return nativeFetch(config.cart_url, {credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(function (r) { return r.json(); });
  }

  var nativeFetch = window.fetch.bind(window);
  var known = readCart().catch(function () { return null; });

  function changed(before, after) {
    var old = byVariant(before);
    var now = byVariant(after);
    var currency = (after && after.currency) || (before && before.currency);
    Object.keys(now).forEach(function (key) {
      var delta = now[key].quantity - (old[key] ? old[key].quantity : 0);
      if (delta > 0) publish('product_added_to_cart', {cartLine: cartLine(now[key].item, delta, currency)});
    });
    Object.keys(old).forEach(function (key) {
      var delta = old[key].quantity - (now[key] ? now[key].quantity : 0);
      if (delta > 0) publish('product_removed_from_cart', {cartLine: cartLine(old[key].item, delta, currency)});
    });
  }

  window.fetch = function (input, options) {
    var url = typeof input === 'string' ? input : (input && input.url) || '';
    var method = ((options && options.method) || (input && input.method) || 'GET').toUpperCase();
    var path = url.split('?')[0];
    var result = nativeFetch(input, options);
    if (method === 'POST' && CART_CHANGES.test(path)) {
      var before = known;
      known = result.then(function (response) {
        if (!response.ok) return before;
        return Promise.all([before, readCart()]).then(function (both) {
          changed(both[0], both[1]);
          return both[1];
        });
      }).catch(function () { return before; });
    }
    return result;
  };

  if (config.page === 'cart' && init.data && init.data.cart) {
    publish('cart_viewed', {cart: init.data.cart});
  }
})();
