/**
 * The cart events of a shopper in a chat (F2), sent to the app for the staff's thread.
 *
 * Runs in Shopify's strict sandbox (a web worker: no DOM). It links an event to the
 * shopper's chat through the chat widget's own localStorage entry (`rc-chat:<shop>`, JSON
 * with the chat `token`; extensions/chat-embed/assets/chat.js), read through
 * `browser.localStorage`; a shopper with no chat is not tracked and nothing is sent. A chat
 * the widget started for another logged-in customer (its `customerId`) is not this
 * shopper's: the widget itself disowns it, and so does the pixel.
 *
 * It keeps the cart as it stands: seeded from `init.data.cart`, changed by each added or
 * removed line, replaced by `cart_viewed`, and sends the cart's subtotal and each product's
 * quantity with the event. The POST is `text/plain` JSON, a CORS "simple" request (no
 * preflight); `keepalive` lets it finish while the page unloads. The app answers 2xx or a
 * JSON error; a failure is dropped (the event is not worth a retry loop in the worker).
 */
import {register} from '@shopify/web-pixels-extension';

function cents(money) {
  const amount = Number(money && money.amount);
  return Number.isFinite(amount) ? Math.round(amount * 100) : 0;
}

function decimal(total) {
  const sign = total < 0 ? '-' : '';
  const abs = Math.abs(total);
  return sign + Math.floor(abs / 100) + '.' + String(abs % 100).padStart(2, '0');
}

/** A running cart: variant id -> {productId, title, unit (cents), quantity}. */
function cartFrom(cart) {
  const lines = new Map();
  for (const line of (cart && cart.lines) || []) addLine(lines, line, 1);
  return lines;
}

function addLine(lines, cartLine, sign) {
  const merchandise = (cartLine && cartLine.merchandise) || {};
  const product = merchandise.product || {};
  const key = String(merchandise.id || product.id || '');
  const quantity = Number(cartLine && cartLine.quantity) || 0;
  if (!key || quantity <= 0) return;
  const line = lines.get(key) || {
    productId: String(product.id || key),
    title: String(product.title || merchandise.title || ''),
    unit: cents(merchandise.price),
    quantity: 0,
  };
  line.quantity += sign * quantity;
  if (line.quantity > 0) lines.set(key, line);
  else lines.delete(key);
}

function summary(lines) {
  const products = new Map();
  let total = 0;
  for (const line of lines.values()) {
    total += line.unit * line.quantity;
    const found = products.get(line.productId) || {title: line.title, quantity: 0};
    found.quantity += line.quantity;
    products.set(line.productId, found);
  }
  return {subtotal: decimal(total), lines: Array.from(products.values())};
}

register(({analytics, browser, init, settings}) => {
  const shop = init && init.data && init.data.shop && init.data.shop.myshopifyDomain;
  const ingestUrl = settings && settings.ingestUrl;
  const shopKey = settings && settings.shopKey;
  if (!shop || !ingestUrl || !shopKey) return;
  const customer = init.data.customer;
  const customerId = customer && customer.id != null ? String(customer.id) : '';
  const initial = init.data.cart;
  let lines = cartFrom(initial);
  const payment = init.data.shop.paymentSettings;
  let currency = (initial && initial.cost && initial.cost.totalAmount &&
    initial.cost.totalAmount.currencyCode) || (payment && payment.currencyCode) || null;

  async function chatToken() {
    try {
      const stored = JSON.parse((await browser.localStorage.getItem('rc-chat:' + shop)) || 'null');
      if (!stored || typeof stored.token !== 'string') return null;
      if (stored.customerId && String(stored.customerId) !== customerId) return null;
      return stored.token;
    } catch (error) {
      return null;
    }
  }

  async function send(event, line) {
    const token = await chatToken();
    if (!token) return;
    const now = summary(lines);
    const body = {
      shop_key: shopKey,
      token: token,
      id: event.id,
      name: event.name,
      timestamp: event.timestamp,
      title: line ? line.title : null,
      quantity: line ? line.quantity : 0,
      currency: currency,
      subtotal: now.subtotal,
      lines: now.lines,
    };
    try {
      await fetch(ingestUrl, {
        method: 'POST',
        keepalive: true,
        headers: {'Content-Type': 'text/plain'},
        body: JSON.stringify(body),
      });
    } catch (error) {
      /* offline or refused: the event is dropped */
    }
  }

  function changed(sign) {
    return (event) => {
      const cartLine = event.data && event.data.cartLine;
      if (!cartLine) return;
      addLine(lines, cartLine, sign);
      const money = cartLine.merchandise && cartLine.merchandise.price;
      currency = (money && money.currencyCode) || currency;
      const product = (cartLine.merchandise && cartLine.merchandise.product) || {};
      return send(event, {
        title: String(product.title || cartLine.merchandise.title || ''),
        quantity: Number(cartLine.quantity) || 0,
      });
    };
  }

  analytics.subscribe('product_added_to_cart', changed(1));
  analytics.subscribe('product_removed_from_cart', changed(-1));
  analytics.subscribe('cart_viewed', (event) => {
    const cart = event.data && event.data.cart;
    lines = cartFrom(cart);
    currency = (cart && cart.cost && cart.cost.totalAmount &&
      cart.cost.totalAmount.currencyCode) || currency;
    return send(event, null);
  });
});
