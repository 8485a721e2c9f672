/* The devstore theme's cart buttons: "Add to cart" and "Remove one" through Shopify's Ajax
 * cart API (/cart/add.js, /cart/change.js), as a theme's JavaScript calls it; then the
 * cart count, the quantities and the cart section are brought up to date from /cart.js and
 * the page itself (the server's own HTML, not shopper data). Without JavaScript the forms
 * post to the same endpoints. */
(function () {
  'use strict';
  var script = document.currentScript;
  var cartUrl = script.getAttribute('data-cart-url');

  function formBody(form) {
    var body = {};
    new FormData(form).forEach(function (value, key) { body[key] = value; });
    return body;
  }

  function refresh(cart) {
    var count = document.getElementById('cart-count');
    if (count) count.textContent = String(cart.item_count);
    var byVariant = {};
    cart.items.forEach(function (item) { byVariant[String(item.variant_id)] = item.quantity; });
    document.querySelectorAll('.ds-qty').forEach(function (node) {
      node.textContent = String(byVariant[node.getAttribute('data-variant')] || 0);
    });
    document.querySelectorAll('.ds-cart-remove').forEach(function (form) {
      form.querySelector('button').disabled = !byVariant[form.getAttribute('data-variant')];
    });
    var section = document.getElementById('cart-contents');
    if (!section) return Promise.resolve();
    return window.fetch(window.location.href, {credentials: 'same-origin'})
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('cart-contents');
        if (fresh) section.replaceWith(document.importNode(fresh, true));
        document.dispatchEvent(new CustomEvent('ds:cart-updated', {detail: {cart: cart}}));
      });
  }

  function current() {
    return window.fetch(cartUrl, {credentials: 'same-origin'}).then(function (r) { return r.json(); });
  }

  document.addEventListener('submit', function (event) {
    var form = event.target;
    var add = form.classList.contains('ds-cart-add');
    var remove = form.classList.contains('ds-cart-remove');
    if (!add && !remove) return;
    event.preventDefault();
    var button = form.querySelector('button');
    button.disabled = true;
    var request = add ? Promise.resolve(formBody(form)) : current().then(function (cart) {
      var variant = form.getAttribute('data-variant');
      var item = cart.items.filter(function (i) { return String(i.variant_id) === variant; })[0];
      return {id: variant, quantity: Math.max(0, (item ? item.quantity : 0) - 1)};
    });
    request.then(function (body) {
      return window.fetch(form.getAttribute('action'), {
        method: 'POST',
        credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
        body: JSON.stringify(body)
      });
    }).then(current).then(refresh).catch(function () { /* the count stays as it was */ })
      .then(function () { if (add) button.disabled = false; });
  });
})();
