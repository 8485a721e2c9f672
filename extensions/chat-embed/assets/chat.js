/*
 * The storefront chat (theme app extension "chat-embed", app embed block "chat").
 *
 * Everything it needs is rendered by blocks/chat.liquid into #rc-chat's data attributes:
 * the shop, the app proxy path, the logged-in customer, the storefront language and the
 * translated strings. It talks to the app through the app proxy (JSON, the chat token in the
 * body or `token=`: the proxy drops cookies, so the token lives in localStorage and the chat
 * continues on every page) and listens on the realtime process's event stream (SSE), which
 * only notifies: on every (re)connect, once the stream says `ready`, the widget catches up
 * with `after=<last id>` and drops what it already has by id; on `token_expired` (or a
 * refused stream) it fetches a new realtime token. Message text is only ever textContent.
 */
(function () {
  'use strict';

  var root = document.getElementById('rc-chat');
  if (!root || root.getAttribute('data-ready')) return;
  root.setAttribute('data-ready', '1');

  var cfg = {
    shop: root.getAttribute('data-shop') || '',
    shopName: root.getAttribute('data-shop-name') || '',
    proxy: (root.getAttribute('data-proxy') || '/apps/referrals').replace(/\/+$/, ''),
    locale: root.getAttribute('data-locale') || document.documentElement.lang || 'en',
    customerId: root.getAttribute('data-customer-id') || '',
    customerEmail: root.getAttribute('data-customer-email') || '',
    customerName: root.getAttribute('data-customer-name') || '',
    accent: root.getAttribute('data-accent') || '',
    greeting: root.getAttribute('data-greeting') || ''
  };
  var MAX_BODY = 5000;
  var TYPING_EVERY = 3000;
  var TYPING_SHOWN = 6000;
  var SEEN_DEBOUNCE = 1000;
  var storageKey = 'rc-chat:' + cfg.shop;

  function t(key, vars) {
    var text = root.getAttribute('data-t-' + key) || key;
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return vars && vars[name] != null ? String(vars[name]) : all;
    });
  }

  // ---- stored state (the chat token, the last message seen, whether the panel is open) ----
  function load() {
    try {
      return JSON.parse(window.localStorage.getItem(storageKey) || 'null') || {};
    } catch (e) {
      return {};
    }
  }
  function save() {
    try {
      window.localStorage.setItem(storageKey, JSON.stringify(stored));
    } catch (e) { /* storage full or blocked: the chat works for this page only */ }
  }
  var stored = load();
  // A chat started by another signed-in customer on this browser is not theirs to see.
  if (stored.token && stored.customerId && stored.customerId !== cfg.customerId) stored = {};

  // ---- the DOM ----
  function el(tag, className, attrs) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    for (var name in attrs || {}) node.setAttribute(name, attrs[name]);
    return node;
  }
  function text(node, value) {
    node.textContent = value;
    return node;
  }

  applyAccent(cfg.accent);

  var launcher = el('button', 'rc-chat__launcher', {
    type: 'button', 'aria-haspopup': 'dialog', 'aria-expanded': 'false',
    'aria-controls': 'rc-chat-panel', 'aria-label': t('launcher')
  });
  launcher.innerHTML = '<svg aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="28" height="28">' +
    '<path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z"/></svg>';
  var badge = el('span', 'rc-chat__badge', { 'aria-hidden': 'true' });
  badge.hidden = true;
  launcher.appendChild(badge);

  var panel = el('section', 'rc-chat__panel', {
    id: 'rc-chat-panel', role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'rc-chat-title',
    lang: cfg.locale
  });
  panel.hidden = true;
  var header = el('div', 'rc-chat__header');
  var title = text(el('h2', 'rc-chat__title', { id: 'rc-chat-title' }), t('title'));
  var closeButton = el('button', 'rc-chat__close', { type: 'button', 'aria-label': t('close') });
  closeButton.innerHTML = '<svg aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="20" height="20">' +
    '<path fill="currentColor" d="M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z"/></svg>';
  header.appendChild(title);
  header.appendChild(closeButton);
  panel.appendChild(header);
  panel.appendChild(text(el('p', 'rc-chat__greeting'), cfg.greeting || t('greeting')));

  // The start form.
  var startForm = el('form', 'rc-chat__start', { novalidate: '' });
  var signedIn = el('p', 'rc-chat__signed-in');
  var emailLabel = text(el('label', 'rc-chat__label', { for: 'rc-chat-email' }), t('email_label'));
  var emailInput = el('input', 'rc-chat__input', {
    id: 'rc-chat-email', name: 'email', type: 'email', autocomplete: 'email', required: '',
    maxlength: '320', 'aria-describedby': 'rc-chat-email-help rc-chat-start-error'
  });
  var emailHelp = text(el('p', 'rc-chat__help', { id: 'rc-chat-email-help' }), t('email_help'));
  var nameLabel = text(el('label', 'rc-chat__label', { for: 'rc-chat-name' }), t('name_label'));
  var nameInput = el('input', 'rc-chat__input', {
    id: 'rc-chat-name', name: 'name', type: 'text', autocomplete: 'name', maxlength: '200'
  });
  var startError = el('p', 'rc-chat__error', { id: 'rc-chat-start-error', role: 'alert' });
  var startButton = text(el('button', 'rc-chat__button', { type: 'submit' }), t('start'));
  // A logged-in customer is known to the app through the proxy: the fields stay hidden
  // unless the app cannot use their account (then they give an email like anyone).
  var fields = el('div', 'rc-chat__fields');
  [emailLabel, emailInput, emailHelp, nameLabel, nameInput].forEach(function (node) {
    fields.appendChild(node);
  });
  if (cfg.customerId) {
    text(signedIn, t('signed_in_as', { email: cfg.customerEmail || cfg.customerName }));
    startForm.appendChild(signedIn);
    fields.hidden = true;
    emailInput.value = cfg.customerEmail;
    nameInput.value = cfg.customerName;
  }
  startForm.appendChild(fields);
  startForm.appendChild(startError);
  startForm.appendChild(startButton);
  panel.appendChild(startForm);

  // The thread and the composer.
  var thread = el('div', 'rc-chat__thread');
  thread.hidden = true;
  // Focusable, so a keyboard can scroll a long thread.
  var log = el('ol', 'rc-chat__log', {
    role: 'log', 'aria-live': 'polite', 'aria-label': t('messages'), tabindex: '0'
  });
  var empty = text(el('p', 'rc-chat__empty'), t('empty'));
  var typing = el('p', 'rc-chat__typing', { 'aria-live': 'polite' });
  var status = el('p', 'rc-chat__status', { role: 'status' });
  var note = el('p', 'rc-chat__note');
  var composer = el('form', 'rc-chat__composer', { novalidate: '' });
  var messageLabel = text(el('label', 'rc-chat__sr', { for: 'rc-chat-message' }), t('message_label'));
  var messageInput = el('textarea', 'rc-chat__textarea', {
    id: 'rc-chat-message', name: 'body', rows: '2', maxlength: String(MAX_BODY),
    placeholder: t('message_label'), 'aria-describedby': 'rc-chat-send-error'
  });
  var sendError = el('p', 'rc-chat__error', { id: 'rc-chat-send-error', role: 'alert' });
  var sendButton = text(el('button', 'rc-chat__button', { type: 'submit' }), t('send'));
  var row = el('div', 'rc-chat__row');
  row.appendChild(messageInput);
  row.appendChild(sendButton);
  composer.appendChild(messageLabel);
  composer.appendChild(row);
  composer.appendChild(sendError);
  [log, empty, typing, status, note, composer].forEach(function (node) { thread.appendChild(node); });
  panel.appendChild(thread);

  root.appendChild(panel);
  root.appendChild(launcher);

  // ---- opening and closing ----
  function isOpen() {
    return !panel.hidden;
  }
  function openPanel(focus) {
    panel.hidden = false;
    launcher.setAttribute('aria-expanded', 'true');
    root.classList.add('rc-chat--open');
    stored.open = true;
    markSeen();
    save();
    if (focus) firstField().focus();
    log.scrollTop = log.scrollHeight;
  }
  function closePanel() {
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    root.classList.remove('rc-chat--open');
    stored.open = false;
    save();
    launcher.focus();
  }
  function firstField() {
    if (!thread.hidden) return messageInput;
    return fields.hidden ? startButton : emailInput;
  }
  launcher.addEventListener('click', function () {
    if (isOpen()) closePanel(); else openPanel(true);
  });
  closeButton.addEventListener('click', closePanel);
  root.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' && isOpen()) {
      event.preventDefault();
      closePanel();
    }
  });
  // Files dropped on the panel are not sent (and must not open in the tab either).
  ['dragover', 'drop'].forEach(function (type) {
    panel.addEventListener(type, function (event) {
      if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types || [], 'Files') >= 0) {
        event.preventDefault();
      }
    });
  });

  // ---- talking to the app through the app proxy ----
  function api(method, path, body) {
    var options = { method: method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (body) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    return window.fetch(cfg.proxy + path, options).then(function (response) {
      return response.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        return { status: response.status, ok: response.ok, data: data || {} };
      });
    });
  }

  function showError(node, message, field) {
    text(node, message || '');
    if (field) {
      if (message) field.setAttribute('aria-invalid', 'true'); else field.removeAttribute('aria-invalid');
    }
  }
  function refusal(status) {
    if (status === 413) return t('error_too_long');
    if (status === 429) return t('error_rate');
    if (status === 403 || status === 415) return t('error_refused');
    return t('error_network');
  }

  // ---- messages ----
  var seen = {};
  var lastId = 0;
  var timeFormat = null;
  try {
    timeFormat = new Intl.DateTimeFormat(cfg.locale, { hour: '2-digit', minute: '2-digit' });
  } catch (e) { timeFormat = null; }

  function authorName(message) {
    if (message.author === 'shopper') return t('you');
    if (message.author === 'system') return cfg.shopName || t('store');
    return message.staff_name || cfg.shopName || t('store');
  }

  function textBody(message) {
    return text(el('p', 'rc-chat__body'), String(message.body == null ? '' : message.body));
  }

  // How a message's content shows, by its kind ("text", "product", "discount", "image"); a
  // kind without a renderer shows its `body` sentence. Text only through textContent.
  var BODY_RENDERERS = { text: textBody };

  // An image staff sent: the app's signed, expiring URL (fresh on every fetch of the
  // messages); a click opens it full size in a new tab.
  BODY_RENDERERS.image = function (message) {
    var url = String(message.image_url || '');
    if (!/^https?:/i.test(url)) return textBody(message);
    var link = el('a', 'rc-chat__image', { href: url, target: '_blank', rel: 'noopener noreferrer', title: t('image_open') });
    var img = el('img', '', { src: url, alt: t('image_alt', { name: authorName(message) }), loading: 'lazy' });
    var size = message.payload || {};
    if (size.width > 0 && size.height > 0) { img.width = size.width; img.height = size.height; }
    img.addEventListener('load', function () { log.scrollTop = log.scrollHeight; });
    link.appendChild(img);
    return link;
  };

  // ---- product and discount messages (F5) ----
  // The store's root path (the proxy path without /apps/<subpath>): a payload's URL becomes
  // a link only when it is http(s) on this page's origin, under that root.
  var storeRoot = cfg.proxy.replace(/\/apps\/[^\/]*$/, '');

  function storeUrl(value) {
    if (typeof value !== 'string') return null;
    try {
      var url = new URL(value, window.location.href);
      if (!/^https?:$/.test(url.protocol) || url.origin !== window.location.origin) return null;
      if (url.username || url.password) return null;
      return url.pathname.indexOf(storeRoot + '/') === 0 ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  // A product picture: only from the store itself or Shopify's CDN, as the app stores them
  // (no other host learns who looks at the chat).
  function imageUrl(value) {
    if (typeof value !== 'string') return null;
    try {
      var url = new URL(value);
      if (!/^https?:$/.test(url.protocol) || url.username || url.password) return null;
      return url.origin === window.location.origin || url.hostname === 'cdn.shopify.com' ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function priceText(amount, currency) {
    var value = Number(amount);
    if (!isFinite(value)) return '';
    try {
      return new Intl.NumberFormat(cfg.locale, { style: 'currency', currency: currency }).format(value);
    } catch (e) {
      return amount + ' ' + (currency || '');
    }
  }

  BODY_RENDERERS.product = function (message) {
    var p = message.payload || {};
    var href = storeUrl(p.url);
    if (!p.title || !href) return textBody(message);
    // Opens in the same tab: the chat continues on the product page.
    var card = el('a', 'rc-chat__product', { href: href });
    var image = imageUrl(p.image_url);
    if (image) card.appendChild(el('img', 'rc-chat__product-image', { src: image, alt: '', loading: 'lazy' }));
    var info = el('span', 'rc-chat__product-info');
    info.appendChild(text(el('span', 'rc-chat__product-title'), p.title));
    info.appendChild(text(el('span', 'rc-chat__product-price'), priceText(p.price, p.currency)));
    card.appendChild(info);
    return card;
  };

  BODY_RENDERERS.discount = function (message) {
    var d = message.payload || {};
    var href = storeUrl(d.apply_url);
    if (!d.code || !href) return textBody(message);
    var box = el('div', 'rc-chat__discount');
    box.appendChild(text(el('span', 'rc-chat__code'), d.code));
    if (d.summary) box.appendChild(text(el('span', 'rc-chat__summary'), d.summary));
    var ends = d.ends_at ? new Date(d.ends_at) : null;
    if (ends && !isNaN(ends)) {
      var day = ends.toLocaleDateString(cfg.locale, { day: 'numeric', month: 'long', year: 'numeric' });
      box.appendChild(text(el('span', 'rc-chat__ends'), t('discount_ends', { date: day })));
    }
    box.appendChild(text(el('a', 'rc-chat__button rc-chat__apply', { href: href }), t('discount_apply', { code: d.code })));
    return box;
  };

  function renderBody(message) {
    var render = BODY_RENDERERS[message.kind] || textBody;
    try { return render(message); } catch (e) { return textBody(message); }
  }

  // Adds the message unless it is already shown; true when it was new.
  function addMessage(message) {
    if (!message || typeof message.id !== 'number' || seen[message.id]) return false;
    if (message.author === 'note') return false; // private staff notes never reach a shopper
    seen[message.id] = true;
    lastId = Math.max(lastId, message.id);
    var mine = message.author === 'shopper';
    var item = el('li', 'rc-chat__message rc-chat__message--' + (mine ? 'mine' : message.author === 'system' ? 'system' : 'theirs'));
    item.setAttribute('data-id', String(message.id));
    var who = text(el('span', 'rc-chat__who'), authorName(message));
    item.className += ' rc-chat__message--kind-' + (message.kind || 'text');
    var bubble = renderBody(message);
    item.appendChild(who);
    item.appendChild(bubble);
    if (message.created_at) {
      var when = el('time', 'rc-chat__time', { datetime: message.created_at });
      var date = new Date(message.created_at);
      text(when, timeFormat && !isNaN(date) ? timeFormat.format(date) : '');
      item.appendChild(when);
    }
    // In id order: a catch-up may bring an earlier message after a later, live one.
    var next = null;
    for (var i = log.children.length - 1; i >= 0; i--) {
      if (Number(log.children[i].getAttribute('data-id')) > message.id) next = log.children[i]; else break;
    }
    log.insertBefore(item, next);
    empty.hidden = true;
    if (!mine) hideTyping();
    log.scrollTop = log.scrollHeight;
    return true;
  }

  function addAll(messages, live) {
    (messages || []).forEach(function (message) {
      if (addMessage(message) && live && message.author !== 'shopper') arrived(message);
    });
    if (isOpen()) markSeen();
  }

  function arrived() {
    if (isOpen() && !document.hidden) markSeen(); else updateBadge();
  }

  function unreadCount() {
    var count = 0;
    for (var i = 0; i < log.children.length; i++) {
      var item = log.children[i];
      if (Number(item.getAttribute('data-id')) > (stored.seenId || 0) && !/--mine/.test(item.className)) count++;
    }
    return count;
  }
  function visible() {
    return document.visibilityState ? document.visibilityState === 'visible' : !document.hidden;
  }
  // Seen = the chat open on a visible page. The server hears of it too (debounced): a staff
  // reply it never hears was seen goes to the shopper's email after a few minutes.
  function markSeen() {
    if (!isOpen() || !visible()) { updateBadge(); return; }
    if (lastId > (stored.seenId || 0)) {
      stored.seenId = lastId;
      save();
    }
    updateBadge();
    reportSeen();
  }
  var seenTimer = null;
  function reportSeen() {
    clearTimeout(seenTimer);
    seenTimer = setTimeout(function () {
      var upTo = stored.seenId || 0;
      if (!stored.token || upTo <= (stored.reportedId || 0) || !isOpen() || !visible()) return;
      api('POST', '/chat/seen', { token: stored.token, message_id: upTo }).then(function (result) {
        if (!result.ok) return; // an expired chat is handled by the next catch-up
        stored.reportedId = Math.max(stored.reportedId || 0, upTo);
        save();
      }, function () { /* offline: the next sighting tries again */ });
    }, SEEN_DEBOUNCE);
  }
  function updateBadge() {
    var count = isOpen() ? 0 : unreadCount();
    badge.hidden = count === 0;
    text(badge, count > 9 ? '9+' : String(count));
    launcher.setAttribute('aria-label', count ? t('launcher_unread', { count: count }) : t('launcher'));
  }
  document.addEventListener('visibilitychange', function () {
    if (visible() && isOpen()) markSeen();
  });

  var typingTimer = null;
  function showTyping(name) {
    text(typing, t('typing', { name: name || cfg.shopName || t('store') }));
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_SHOWN);
  }
  function hideTyping() {
    clearTimeout(typingTimer);
    text(typing, '');
  }

  // ---- the chat: start, history, send ----
  function showThread() {
    startForm.hidden = true;
    thread.hidden = false;
    var email = stored.email || cfg.customerEmail;
    text(note, email ? t('reply_by_email', { email: email }) : '');
  }
  function showStart(message) {
    disconnect();
    stored = { open: stored.open };
    save();
    seen = {};
    lastId = 0;
    log.textContent = '';
    empty.hidden = false;
    thread.hidden = true;
    startForm.hidden = false;
    showError(startError, message || '');
    updateBadge();
  }

  startForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var email = fields.hidden ? '' : emailInput.value.trim();
    if (!fields.hidden && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
      showError(startError, t('error_email'), emailInput);
      emailInput.focus();
      return;
    }
    showError(startError, '', emailInput);
    startButton.disabled = true;
    text(startButton, t('starting'));
    var body = { locale: cfg.locale };
    if (email) body.email = email;
    if (!fields.hidden && nameInput.value.trim()) body.name = nameInput.value.trim();
    api('POST', '/chat/start', body).then(function (result) {
      if (!result.ok || !result.data.chat_token) {
        var invalid = result.status === 400 || result.status === 422;
        if (invalid && fields.hidden) {
          fields.hidden = false;
          emailInput.focus();
        }
        showError(startError, invalid ? t('error_email') : refusal(result.status), invalid ? emailInput : null);
        return;
      }
      stored.token = result.data.chat_token;
      stored.email = email.toLowerCase() || cfg.customerEmail;
      stored.customerId = cfg.customerId;
      save();
      takeRealtime(result.data);
      showThread();
      addAll(result.data.messages, false);
      connect();
      messageInput.focus();
    }, function () {
      showError(startError, t('error_network'));
    }).then(function () {
      startButton.disabled = false;
      text(startButton, t('start'));
    });
  });

  var pending = null; // {text, clientId}: a retry of the same text reuses its idempotency key
  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return String(Date.now()) + '-' + Math.random().toString(36).slice(2);
  }

  composer.addEventListener('submit', function (event) {
    event.preventDefault();
    var body = messageInput.value;
    if (!body.trim()) {
      showError(sendError, t('error_empty'), messageInput);
      messageInput.focus();
      return;
    }
    if (body.length > MAX_BODY) {
      showError(sendError, t('error_too_long'), messageInput);
      return;
    }
    if (!pending || pending.text !== body) pending = { text: body, clientId: newClientId() };
    showError(sendError, '', messageInput);
    sendButton.disabled = true;
    text(sendButton, t('sending'));
    api('POST', '/chat/messages', { token: stored.token, body: body, client_id: pending.clientId }).then(function (result) {
      if (result.status === 401) return showStart(t('error_expired'));
      if (!result.ok) return showError(sendError, refusal(result.status), messageInput);
      addMessage(result.data.message);
      markSeen();
      pending = null;
      // The message ended "typing" on the staff's side: the next keystroke says so again.
      typingSentAt = 0;
      if (messageInput.value === body) messageInput.value = '';
    }, function () {
      showError(sendError, t('error_network'));
    }).then(function () {
      sendButton.disabled = false;
      text(sendButton, t('send'));
      if (!thread.hidden) messageInput.focus();
    });
  });

  messageInput.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (!sendButton.disabled) composer.requestSubmit ? composer.requestSubmit() : sendButton.click();
    }
  });
  var typingSentAt = 0;
  messageInput.addEventListener('input', function () {
    var now = Date.now();
    if (!stored.token || !messageInput.value.trim() || now - typingSentAt < TYPING_EVERY) return;
    typingSentAt = now;
    api('POST', '/chat/typing', { token: stored.token }).catch(function () {});
  });

  function catchUp(first) {
    if (!stored.token) return Promise.resolve();
    var path = '/chat/messages?token=' + encodeURIComponent(stored.token) + '&after=' + lastId;
    return api('GET', path).then(function (result) {
      if (result.status === 401 || result.status === 404) {
        showStart(first ? '' : t('error_expired'));
        return;
      }
      if (!result.ok) return;
      takeRealtime(result.data);
      addAll(result.data.messages, !first);
      if (first) updateBadge();
    }, function () { /* offline: the next (re)connect catches up */ });
  }

  // ---- realtime (SSE from the realtime process; it only notifies) ----
  var realtime = { url: '', token: '' };
  var source = null;
  var retries = 0;
  var retryTimer = null;

  function takeRealtime(data) {
    if (data && data.realtime_token) realtime.token = data.realtime_token;
    if (data && data.realtime_url) realtime.url = String(data.realtime_url).replace(/\/+$/, '');
  }
  function parse(raw) {
    try { return JSON.parse(raw); } catch (e) { return null; }
  }
  function disconnect() {
    clearTimeout(retryTimer);
    if (source) source.close();
    source = null;
  }
  function connect() {
    disconnect();
    if (!stored.token) return;
    if (!realtime.url || !realtime.token || !window.EventSource) return;
    var stream = new window.EventSource(realtime.url + '/events/shopper?token=' + encodeURIComponent(realtime.token));
    source = stream;
    // `ready`: the stream is subscribed, so what was sent before it is in the catch-up.
    stream.addEventListener('ready', function () {
      retries = 0;
      text(status, '');
      catchUp(false);
    });
    stream.addEventListener('message', function (event) {
      var data = parse(event.data);
      if (data) addAll([data.message || data], true);
    });
    stream.addEventListener('typing', function (event) {
      var data = parse(event.data) || {};
      if (data.author !== 'shopper') showTyping(data.staff_name);
    });
    // The token has expired (the stream ends after this): fetch a new one and reconnect.
    stream.addEventListener('token_expired', function () {
      if (source === stream) refreshRealtime();
    });
    stream.addEventListener('error', function () {
      if (source !== stream) return;
      text(status, t('reconnecting'));
      // CLOSED: the server refused the stream (an expired token) or the browser gave up.
      if (stream.readyState === window.EventSource.CLOSED) retryLater();
    });
  }
  function retryLater() {
    disconnect();
    var delay = Math.min(30000, 1000 * Math.pow(2, retries)) + Math.floor(Math.random() * 500);
    retries += 1;
    retryTimer = setTimeout(refreshRealtime, delay);
  }
  function refreshRealtime() {
    disconnect();
    if (!stored.token) return;
    api('POST', '/chat/realtime-token', { token: stored.token }).then(function (result) {
      if (result.status === 401 || result.status === 404) return showStart(t('error_expired'));
      if (!result.ok) return retryLater();
      takeRealtime(result.data);
      connect();
    }, retryLater);
  }
  window.addEventListener('pagehide', disconnect);
  window.addEventListener('pageshow', function (event) {
    if (event.persisted && stored.token) refreshRealtime(); // back from the back/forward cache
  });
  // A chat started (or ended) in another tab of this store.
  window.addEventListener('storage', function (event) {
    if (event.key !== storageKey) return;
    var now = load();
    if (now.token && now.token !== stored.token) {
      stored = now;
      showThread();
      catchUp(true).then(connect);
    } else if (!now.token && stored.token) {
      showStart('');
    }
  });

  // A shopper who chatted, then logged in: the app links the thread to their account (and
  // answers with a new chat token; a thread of someone else's is not theirs: a new one).
  function linkCustomer() {
    return api('POST', '/chat/start', { token: stored.token, locale: cfg.locale }).then(function (result) {
      if (!result.ok || !result.data.chat_token) return;
      stored.token = result.data.chat_token;
      stored.customerId = cfg.customerId;
      stored.email = stored.email || cfg.customerEmail;
      save();
      takeRealtime(result.data);
    }, function () { /* offline: linked on a later page */ });
  }

  // ---- start ----
  if (stored.token) {
    showThread();
    (cfg.customerId && !stored.customerId ? linkCustomer() : Promise.resolve())
      .then(function () { return catchUp(true); })
      .then(connect);
  }
  if (stored.open) openPanel(false); else updateBadge();

  function applyAccent(colour) {
    var match = /^#?([0-9a-f]{6})$/i.exec(colour || '');
    if (!match) return;
    var value = parseInt(match[1], 16);
    var channels = [value >> 16, (value >> 8) & 255, value & 255].map(function (c) {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
    // Text on the accent: white or near-black (#1a1a1a), whichever contrasts more.
    var onWhite = 1.05 / (luminance + 0.05);
    var onDark = (luminance + 0.05) / 0.0603;
    var onAccent = onWhite >= onDark ? '#ffffff' : '#1a1a1a';
    root.style.setProperty('--rc-accent', '#' + match[1]);
    root.style.setProperty('--rc-on-accent', onAccent);
  }
})();
