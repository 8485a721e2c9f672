// The staff inbox (templates/admin/conversations.html): switch conversations and views in
// place, send replies and private notes as JSON, saved replies, and live updates from the
// realtime stream. The stream only notifies: after every (re)connect and every `message`
// event the thread catches up through its JSON (`after=<last id>`), so nothing is lost
// while a connection is down. Message text is always set with textContent (HTML in a
// message shows as text).
(function () {
  'use strict';

  const TYPING_EVERY_MS = 3000;
  const TYPING_SHOWN_MS = 6000;

  const $ = (selector, root) => (root || document).querySelector(selector);
  const inbox = () => $('#inbox');
  const thread = () => $('#thread[data-conversation-id]');

  function currentId() {
    const t = thread();
    return t ? Number(t.dataset.conversationId) : null;
  }

  function timeText(iso) {
    const zone = inbox()?.dataset.timezone || undefined;
    try {
      return new Intl.DateTimeFormat(window.t.locale, {
        timeZone: zone, day: 'numeric', month: 'short', year: 'numeric',
        hour: '2-digit', minute: '2-digit', hour12: false,
      }).format(new Date(iso));
    } catch (error) {
      return new Date(iso).toLocaleString();
    }
  }

  async function json(url, options) {
    const response = await fetch(url, Object.assign({headers: {Accept: 'application/json'}}, options));
    let body = null;
    if (response.status !== 204) {
      try { body = await response.json(); } catch (error) { body = null; }
    }
    if (!response.ok) {
      const reason = (body && body.error) || window.t('the server answered %(status)s', {status: response.status});
      const failure = new Error(reason);
      failure.status = response.status;
      throw failure;
    }
    return body;
  }

  function postJson(url, data, method) {
    return json(url, {
      method: method || 'POST',
      headers: {'Content-Type': 'application/json', Accept: 'application/json'},
      body: JSON.stringify(data || {}),
    });
  }

  // ---- the thread ----------------------------------------------------------------------

  function authorLabel(m) {
    const t = thread();
    if (m.author === 'shopper') return t.dataset.shopper;
    if (m.author === 'staff') return m.staff_name || window.t('Staff');
    if (m.author === 'note') return m.staff_name ? window.t('Private note · %(name)s', {name: m.staff_name}) : window.t('Private note');
    return window.t('Notice');
  }

  function messageElement(m) {
    const li = document.createElement('li');
    li.className = 'message ' + m.author;
    li.id = 'message-' + m.id;
    li.dataset.id = m.id;
    const meta = document.createElement('p');
    meta.className = 'meta';
    const author = document.createElement('span');
    author.className = 'author';
    author.textContent = authorLabel(m);
    const time = document.createElement('time');
    time.dateTime = m.created_at;
    time.textContent = timeText(m.created_at);
    meta.append(author, ' · ', time);
    if (m.channel === 'email') meta.append(' · by email');
    li.classList.add('kind-' + (m.kind || 'text'));
    li.append(meta, renderBody(m));
    return li;
  }

  function textBody(m) {
    const body = document.createElement('p');
    body.className = 'body';
    body.textContent = m.body;
    return body;
  }

  // How a message's content shows, by its kind ("text", "cart", "product", "discount",
  // "image"); a kind without a renderer shows its `body` sentence. Text only through
  // textContent: payloads come from shoppers and other systems.
  const BODY_RENDERERS = {text: textBody};

  // An image staff sent: the signed URL the server gave with the message; a click opens it
  // full size in a new tab. Without a URL (signing failed) its sentence shows instead.
  BODY_RENDERERS.image = function imageBody(m) {
    if (!m.image_url) return textBody(m);
    const body = document.createElement('p');
    body.className = 'body image';
    const link = document.createElement('a');
    link.href = m.image_url;
    link.target = '_blank';
    link.rel = 'noopener noreferrer';
    link.title = window.t('Open the image in full size in a new tab');
    const img = document.createElement('img');
    img.src = m.image_url;
    img.alt = window.t('Image from %(name)s', {name: m.staff_name || window.t('Staff')});
    img.loading = 'lazy';
    if (m.payload?.width && m.payload?.height) { img.width = m.payload.width; img.height = m.payload.height; }
    link.append(img);
    body.append(link);
    return body;
  };

  // ---- product and discount messages (F5) ----

  // A payload's URL, only when it is http(s) under the storefront root the page was given
  // (`data-storefront`); anything else is never made a link.
  function storefrontUrl(value) {
    const root = thread()?.dataset.storefront || '';
    if (typeof value !== 'string' || !root) return null;
    try {
      const url = new URL(value);
      const base = new URL(root);
      if (!/^https?:$/.test(url.protocol) || url.protocol !== base.protocol) return null;
      if (url.host !== base.host || url.username || url.password) return null;
      const prefix = base.pathname.replace(/\/+$/, '') + '/';
      return url.pathname.startsWith(prefix) ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  // A product picture: only from the store's host or Shopify's CDN, as the app stores them.
  function imageUrl(value) {
    const root = thread()?.dataset.storefront || '';
    if (typeof value !== 'string') return null;
    try {
      const url = new URL(value);
      if (!/^https?:$/.test(url.protocol) || url.username || url.password) return null;
      const store = root ? new URL(root).host : null;
      return url.host === store || url.hostname === 'cdn.shopify.com' ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function linkOrText(href, className, text) {
    const node = document.createElement(href ? 'a' : 'span');
    node.className = className;
    if (href) { node.href = href; node.target = '_blank'; node.rel = 'noopener noreferrer'; }
    node.textContent = text;
    return node;
  }

  function productCard(p) {
    const card = document.createElement('div');
    card.className = 'product-card';
    const image = imageUrl(p.image_url);
    const figure = document.createElement(image ? 'img' : 'span');
    figure.className = 'product-image';
    if (image) { figure.src = image; figure.alt = ''; figure.loading = 'lazy'; }
    else { figure.setAttribute('aria-hidden', 'true'); figure.textContent = (p.title || '?').slice(0, 1); }
    const text = document.createElement('div');
    text.className = 'product-text';
    const title = linkOrText(storefrontUrl(p.url), 'product-title', p.title || '');
    const price = document.createElement('span');
    price.className = 'product-price';
    price.textContent = [p.price, p.currency].filter(Boolean).join(' ');
    text.append(title, price);
    card.append(figure, text);
    return card;
  }

  BODY_RENDERERS.product = function (m) {
    const p = m.payload || {};
    if (!p.title) return textBody(m);
    const body = document.createElement('div');
    body.className = 'body';
    const lead = document.createElement('p');
    lead.className = 'muted small';
    lead.textContent = window.t('Shared a product');
    body.append(lead, productCard(p));
    return body;
  };

  BODY_RENDERERS.discount = function (m) {
    const d = m.payload || {};
    if (!d.code) return textBody(m);
    const body = document.createElement('div');
    body.className = 'body discount-card';
    const chip = linkOrText(storefrontUrl(d.apply_url), 'code-chip', d.code);
    if (chip.href) chip.title = window.t('The link the shopper gets: applies %(code)s to their cart', {code: d.code});
    const summary = document.createElement('span');
    summary.className = 'discount-summary';
    summary.textContent = d.summary || '';
    body.append(chip, summary);
    if (d.ends_at) {
      const ends = document.createElement('span');
      ends.className = 'muted small';
      ends.textContent = window.t('Ends %(moment)s', {moment: timeText(d.ends_at)});
      body.append(ends);
    }
    return body;
  };

  // Messages rendered on the server carry their kind and payload: give them their renderer.
  function renderStoredKinds() {
    for (const li of document.querySelectorAll('#messages li[data-kind]')) {
      if (!BODY_RENDERERS[li.dataset.kind] || li.dataset.rendered) continue;
      let payload = null;
      try { payload = JSON.parse(li.dataset.payload || 'null'); } catch (error) { continue; }
      const old = li.querySelector('.body');
      if (!old) continue;
      old.replaceWith(renderBody({kind: li.dataset.kind, payload, body: old.textContent}));
      li.classList.add('kind-' + li.dataset.kind);
      li.dataset.rendered = '1';
    }
  }

  // A storefront cart event (the web pixel's, staff only): one compact line, "Added Teapot to
  // the cart" (a title of 41+ characters is left out: "Added a product to the cart"), then
  // the cart's subtotal and each product's quantity. The same markup as the thread template.
  BODY_RENDERERS.cart = function cartBody(m) {
    const p = m.payload || {};
    const title = typeof p.product_title === 'string' && p.product_title ? p.product_title : null;
    const what = title || window.t('a product');
    const change = p.event === 'added' ? window.t('Added %(product)s to the cart', {product: what})
      : p.event === 'removed' ? window.t('Removed %(product)s from the cart', {product: what}) : window.t('Viewed the cart');
    const signs = {EUR: '\u20ac', USD: '$', GBP: '\u00a3', JPY: '\u00a5'};
    const money = (amount) => (signs[p.currency] ? signs[p.currency] + amount : amount + ' ' + p.currency);
    const box = document.createElement('div');
    box.className = 'body cart-event';
    const line = document.createElement('p');
    line.className = 'cart-change';
    const strong = document.createElement('strong');
    strong.textContent = change;
    line.append(strong);
    if (p.event !== 'viewed' && Number(p.quantity) > 0) {
      const qty = document.createElement('span');
      qty.className = 'cart-delta';
      qty.textContent = (p.event === 'removed' ? '\u2212' : '+') + Number(p.quantity);
      line.append(' ', qty);
    }
    const facts = document.createElement('p');
    facts.className = 'cart-facts';
    const subtotal = document.createElement('span');
    subtotal.className = 'cart-subtotal';
    subtotal.textContent = window.t('Subtotal %(amount)s', {amount: money(String(p.subtotal))});
    facts.append(subtotal);
    const lines = Array.isArray(p.lines) ? p.lines : [];
    if (lines.length) {
      const list = document.createElement('span');
      list.className = 'cart-lines';
      list.textContent = lines.map((l) => String(l.title) + ' \u00d7 ' + Number(l.quantity)).join(', ');
      facts.append(' \u00b7 ', list);
    }
    box.append(line, facts);
    return box;
  };

  function renderBody(m) {
    const render = BODY_RENDERERS[m.kind] || textBody;
    try { return render(m); } catch (error) { return textBody(m); }
  }

  function scrollToEnd() {
    const list = $('#messages');
    if (list) list.scrollTop = list.scrollHeight;
  }

  function addMessages(messages) {
    const t = thread();
    const list = $('#messages');
    if (!t || !list) return [];
    const added = [];
    for (const m of messages) {
      if (m.conversation_id && Number(m.conversation_id) !== currentId()) continue;
      if (document.getElementById('message-' + m.id)) continue;
      list.appendChild(messageElement(m));
      added.push(m);
      if (m.id > Number(t.dataset.lastId || 0)) t.dataset.lastId = m.id;
    }
    if (added.length) scrollToEnd();
    if (added.some((m) => m.author === 'shopper')) hideTyping();
    return added;
  }

  let catching = null;
  let catchAgain = false;

  // Everything after the last message shown; a second call while one runs runs once more after it.
  async function catchUp() {
    if (catching) { catchAgain = true; return catching; }
    const t = thread();
    if (!t) return null;
    const id = currentId();
    catching = (async () => {
      try {
        do {
          catchAgain = false;
          const url = new URL(t.dataset.messagesUrl, location.href);
          url.searchParams.set('after', t.dataset.lastId || '0');
          const asked = performance.now();
          const data = await json(url);
          if (currentId() !== id) return;
          const added = addMessages(data.messages);
          snapshotPresence(id, data.conversation.online, asked);
          if (added.some((m) => m.author === 'shopper')) markRead();
        } while (catchAgain);
      } catch (error) {
        liveState(window.t('Could not load new messages: %(error)s.', {error: error.message}), true);
      } finally {
        catching = null;
      }
    })();
    return catching;
  }

  function markRead() {
    const t = thread();
    if (!t || document.visibilityState === 'hidden') return;
    json(t.dataset.readUrl, {method: 'POST'}).then(() => {
      const row = document.getElementById('conversation-' + t.dataset.conversationId);
      row?.classList.remove('unread');
      row?.querySelector('.unread-count')?.remove();
    }).catch(() => {});
  }

  // Presence from the stream, by conversation, with when it arrived: a snapshot (a catch-up
  // or a list refresh) asked for before that is older and must not undo it.
  const livePresence = {};

  function presenceEvent(conversationId, online) {
    livePresence[conversationId] = {online: !!online, at: performance.now()};
    showPresence(conversationId, online);
  }

  function snapshotPresence(conversationId, online, asked) {
    const live = livePresence[conversationId];
    showPresence(conversationId, live && live.at > asked ? live.online : online);
  }

  function showPresence(conversationId, online) {
    document.querySelectorAll('[data-presence-for="' + conversationId + '"]').forEach((el) => {
      el.classList.toggle('online', !!online);
      if (el.id === 'thread-presence') {
        el.textContent = online
          ? window.t('Online: your reply appears in their chat.')
          : window.t('Not in the store now: your reply will be emailed to %(email)s, the address given at the start of the chat.',
            {email: thread().dataset.email});
      } else {
        el.textContent = online ? window.t('Online') : window.t('Away: a reply goes by email');
      }
    });
  }

  let typingTimer = null;

  function hideTyping() {
    clearTimeout(typingTimer);
    const line = $('#typing');
    if (line) line.textContent = '';
  }

  function showTyping(conversationId) {
    const t = thread();
    const line = $('#typing');
    if (!t || !line || conversationId !== currentId()) return;
    line.textContent = window.t('%(name)s is typing…', {name: t.dataset.shopper});
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
  }

  // ---- composer ------------------------------------------------------------------------

  let lastTypingSent = 0;
  // A send keeps its client_id until it succeeds or the text changes: a retry after a lost
  // answer is the same message, not a second one.
  let pending = null;

  function clientId() {
    if (window.crypto?.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function composerError(text) {
    const box = $('#composer-error');
    if (!box) return;
    box.hidden = !text;
    box.textContent = text || '';
  }

  function countChars() {
    const t = thread();
    const area = $('#reply-body');
    const counter = $('#char-count');
    if (!t || !area || !counter) return;
    const max = Number(t.dataset.maxBody);
    const n = area.value.length;
    counter.textContent = n > max * 0.8 ? window.t('%(count)s / %(max)s characters', {count: n.toLocaleString(window.t.locale), max: max.toLocaleString(window.t.locale)}) : '';
    counter.classList.toggle('over', n > max);
  }

  async function send(kind) {
    const t = thread();
    const area = $('#reply-body');
    if (!t || !area) return;
    const body = area.value;
    if (!body.trim()) { composerError(kind === 'note' ? window.t('Write the note first.') : window.t('Write a reply first.')); return; }
    const key = kind + '\u0000' + body;
    if (!pending || pending.key !== key) pending = {key, id: clientId()};
    const buttons = [$('#send-reply'), $('#add-note')];
    if (buttons.some((b) => b && b.disabled)) return;
    buttons.forEach((b) => { if (b) b.disabled = true; });
    composerError('');
    try {
      const url = kind === 'note' ? t.dataset.noteUrl : t.dataset.replyUrl;
      const data = await postJson(url, {body, client_id: pending.id});
      pending = null;
      // A reply ends "typing" in the shopper's chat: the next keystroke says so again.
      if (kind !== 'note') lastTypingSent = 0;
      if (currentId() === Number(t.dataset.conversationId)) {
        // Only what was sent goes: text typed while the send was on its way stays.
        if (area.value === body) area.value = '';
        countChars();
        addMessages([data.message]);
        window.shopify?.toast?.show(kind === 'note' ? window.t('Note added') : window.t('Reply sent'));
      }
      scheduleListRefresh();
    } catch (error) {
      composerError(window.t(kind === 'note' ? 'Note not added: %(error)s' : 'Not sent: %(error)s', {error: error.message}));
    } finally {
      buttons.forEach((b) => { if (b) b.disabled = false; });
      area.focus();
    }
  }

  // ---- images ----------------------------------------------------------------------------

  const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];
  let imagePending = null; // {key, id}: the same file picked again after a failure reuses its client_id

  // POST the file as multipart with XHR (fetch reports no upload progress), carrying the
  // ID token App Bridge gives; the server's answer decides (type by content, size cap).
  function postImage(url, form, progress) {
    return new Promise((resolve, reject) => {
      const start = (token) => {
        const xhr = new XMLHttpRequest();
        xhr.open('POST', url);
        xhr.setRequestHeader('Accept', 'application/json');
        if (token) xhr.setRequestHeader('Authorization', 'Bearer ' + token);
        xhr.upload.onprogress = (event) => {
          if (event.lengthComputable) progress(Math.round(100 * event.loaded / event.total));
        };
        xhr.onload = () => {
          let body = null;
          try { body = JSON.parse(xhr.responseText); } catch (error) { body = null; }
          if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
          const failure = new Error((body && body.error) || window.t('the server answered %(status)s', {status: xhr.status}));
          failure.status = xhr.status;
          reject(failure);
        };
        xhr.onerror = () => reject(new Error(window.t('the upload did not reach the server')));
        xhr.send(form);
      };
      const bridge = window.shopify?.idToken;
      if (bridge) bridge().then(start, reject); else start(null);
    });
  }

  async function sendImage(file) {
    const t = thread();
    const button = $('#send-image');
    const bar = $('#image-progress');
    if (!t || !file || (button && button.disabled)) return;
    composerError('');
    if (file.type && !IMAGE_TYPES.includes(file.type)) {
      composerError(window.t('Image not sent: only PNG, JPEG, WebP or GIF images can be sent.'));
      return;
    }
    const max = Number(t.dataset.imageMaxBytes || 0);
    if (max && file.size > max) {
      composerError(window.t('Image not sent: images can be at most %(size)s MB.', {size: (max / 1048576).toLocaleString(window.t.locale)}));
      return;
    }
    const key = [file.name, file.size, file.lastModified].join('\u0000');
    if (!imagePending || imagePending.key !== key) imagePending = {key, id: clientId()};
    const form = new FormData();
    form.append('client_id', imagePending.id);
    form.append('image', file, file.name || 'image');
    if (button) button.disabled = true;
    if (bar) { bar.hidden = false; bar.value = 0; }
    try {
      const data = await postImage(t.dataset.imageUrl, form, (n) => { if (bar) bar.value = n; });
      imagePending = null;
      if (currentId() === Number(t.dataset.conversationId)) {
        addMessages([data.message]);
        window.shopify?.toast?.show(window.t('Image sent'));
      }
      scheduleListRefresh();
    } catch (error) {
      composerError(window.t('Image not sent: %(error)s', {error: error.message}));
    } finally {
      if (button) button.disabled = false;
      if (bar) bar.hidden = true;
      const input = $('#image-input');
      if (input) input.value = '';
    }
  }

  // ---- the product and discount pickers (F5) ----

  // One client_id per thing being sent, kept until it succeeds: a retry is the same message.
  const pickerPending = {};

  function pickerMessage(name, text, isError) {
    const error = $('#' + name + '-error');
    const status = $('#' + name + '-status');
    if (error) { error.hidden = !(isError && text); error.textContent = isError ? text : ''; }
    if (status) status.textContent = isError ? '' : (text || '');
  }

  function openPicker(name) {
    const picker = $('#' + name + '-picker');
    if (!picker) return;
    for (const other of ['product', 'discount']) {
      if (other !== name) closePicker(other, false);
    }
    picker.hidden = false;
    $('#open-' + name + '-picker')?.setAttribute('aria-expanded', 'true');
    (name === 'product' ? $('#product-q') : $('#discount-code'))?.focus();
    if (name === 'product') searchProducts();
    else loadCodes();
  }

  function closePicker(name, refocus) {
    const picker = $('#' + name + '-picker');
    if (!picker || picker.hidden) return;
    picker.hidden = true;
    const opener = $('#open-' + name + '-picker');
    opener?.setAttribute('aria-expanded', 'false');
    if (refocus) opener?.focus();
  }

  let searchTicket = 0;
  let searchTimer = null;

  async function searchProducts() {
    const t = thread();
    const list = $('#product-results');
    if (!t || !list) return;
    const ticket = ++searchTicket;
    const url = new URL(t.dataset.productsUrl, location.href);
    url.searchParams.set('q', $('#product-q')?.value || '');
    pickerMessage('product', window.t('Searching…'));
    try {
      const data = await json(url.toString());
      if (ticket !== searchTicket) return;
      if (data.storefront) t.dataset.storefront = data.storefront;
      list.replaceChildren(...data.products.map(productOption));
      pickerMessage('product', data.products.length
        ? window.t(data.products.length === 1 ? '%(count)s product' : '%(count)s products', {count: data.products.length})
        : window.t('No products on the Online Store match.'));
    } catch (error) {
      if (ticket === searchTicket) pickerMessage('product', window.t('Could not search: %(error)s', {error: error.message}), true);
    }
  }

  function productOption(p) {
    const li = document.createElement('li');
    li.className = 'picker-option';
    li.append(productCard(Object.assign({}, p, {url: null})));
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary';
    button.textContent = window.t('Send');
    button.setAttribute('aria-label', window.t('Send %(title)s, %(price)s %(currency)s', {title: p.title, price: p.price, currency: p.currency}));
    button.addEventListener('click', () => sendPicked('product', {product_id: p.product_id}, button));
    li.append(button);
    return li;
  }

  async function loadCodes() {
    const t = thread();
    const list = $('#discount-results');
    const options = $('#discount-code-options');
    if (!t || !list) return;
    pickerMessage('discount', window.t('Loading active codes…'));
    try {
      const data = await json(t.dataset.discountsUrl);
      list.replaceChildren(...data.discounts.map(codeOption));
      options?.replaceChildren(...data.discounts.map((d) => {
        const option = document.createElement('option');
        option.value = d.code;
        option.label = d.summary || d.code;
        return option;
      }));
      pickerMessage('discount', data.discounts.length ? window.t('Active codes: choose one or type a code.') : window.t('No active codes; type one to send it.'));
    } catch (error) {
      pickerMessage('discount', window.t('Could not load the codes: %(error)s', {error: error.message}), true);
    }
  }

  function codeOption(d) {
    const li = document.createElement('li');
    li.className = 'picker-option';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'link code-option';
    const code = document.createElement('span');
    code.className = 'code-chip';
    code.textContent = d.code;
    const summary = document.createElement('span');
    summary.className = 'discount-summary';
    summary.textContent = d.summary || '';
    button.append(code, summary);
    button.setAttribute('aria-label', d.summary ? window.t('Use %(code)s, %(summary)s', {code: d.code, summary: d.summary}) : window.t('Use %(code)s', {code: d.code}));
    button.addEventListener('click', () => {
      const input = $('#discount-code');
      if (input) { input.value = d.code; input.focus(); }
    });
    li.append(button);
    return li;
  }

  async function sendPicked(name, data, button) {
    const t = thread();
    if (!t || (button && button.disabled)) return;
    const key = name + '\u0000' + JSON.stringify(data);
    if (!pickerPending[key]) pickerPending[key] = clientId();
    if (button) button.disabled = true;
    pickerMessage(name, window.t('Sending…'));
    try {
      const url = name === 'product' ? t.dataset.productUrl : t.dataset.discountUrl;
      const answer = await postJson(url, Object.assign({client_id: pickerPending[key]}, data));
      delete pickerPending[key];
      if (answer.storefront) t.dataset.storefront = answer.storefront;
      if (currentId() === Number(t.dataset.conversationId)) addMessages([answer.message]);
      pickerMessage(name, '');
      closePicker(name, true);
      if (name === 'discount' && $('#discount-code')) $('#discount-code').value = '';
      window.shopify?.toast?.show(name === 'product' ? 'Product sent' : 'Discount code sent');
      scheduleListRefresh();
    } catch (error) {
      pickerMessage(name, window.t('Not sent: %(error)s', {error: error.message}), true);
      if (error.status && error.status < 500) delete pickerPending[key];
    } finally {
      if (button) button.disabled = false;
    }
  }

  function typed() {
    countChars();
    const t = thread();
    const now = Date.now();
    if (!t || now - lastTypingSent < TYPING_EVERY_MS || !$('#reply-body').value.trim()) return;
    lastTypingSent = now;
    json(t.dataset.typingUrl, {method: 'POST'}).catch(() => {});
  }

  function insertAtCursor(area, text) {
    const start = area.selectionStart ?? area.value.length;
    const end = area.selectionEnd ?? area.value.length;
    area.value = area.value.slice(0, start) + text + area.value.slice(end);
    area.selectionStart = area.selectionEnd = start + text.length;
    area.focus();
    countChars();
  }

  // ---- saved replies -------------------------------------------------------------------

  function savedItem(reply) {
    const li = document.createElement('li');
    li.dataset.id = reply.id;
    const insert = document.createElement('button');
    insert.type = 'button';
    insert.className = 'link insert';
    insert.dataset.body = reply.body;
    insert.textContent = reply.title;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'link delete';
    remove.dataset.delete = inbox().dataset.savedUrl + '/' + reply.id;
    remove.setAttribute('aria-label', window.t('Delete saved reply %(title)s', {title: reply.title}));
    remove.textContent = window.t('Delete');
    li.append(insert, ' ', remove);
    return li;
  }

  function savedEmpty() {
    const none = $('#no-saved-replies');
    if (none) none.hidden = !!$('#saved-reply-list li');
  }

  async function saveReply(form) {
    const error = $('#saved-error');
    const title = form.elements.title.value.trim();
    const body = form.elements.body.value;
    if (!title || !body.trim()) {
      error.hidden = false;
      error.textContent = window.t('Give the saved reply a title and a text.');
      return;
    }
    try {
      const data = await postJson(inbox().dataset.savedUrl, {title, body});
      $('#saved-reply-list').appendChild(savedItem(data.saved_reply));
      form.reset();
      error.hidden = true;
      savedEmpty();
      window.shopify?.toast?.show(window.t('Saved reply added'));
    } catch (failure) {
      error.hidden = false;
      error.textContent = window.t('Not saved: %(error)s', {error: failure.message});
    }
  }

  // ---- the support action beside the thread --------------------------------------------

  // "Resend reward email" posts to the Support portal's own action (same endpoint, same
  // guard) and shows its answer's result line here instead of leaving the inbox.
  async function resend(form) {
    const result = form.parentElement.querySelector('.resend-result');
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const response = await fetch(form.action, {method: 'POST', body: new FormData(form), headers: {Accept: 'text/html'}});
      const page = new DOMParser().parseFromString(await response.text(), 'text/html');
      const line = page.querySelector('#result');
      result.textContent = line ? line.textContent.trim() : window.t('The server answered %(status)s.', {status: response.status});
      result.classList.toggle('error', !response.ok);
    } catch (error) {
      result.textContent = window.t('Not sent: %(error)s.', {error: error.message});
      result.classList.add('error');
    } finally {
      result.hidden = false;
      button.disabled = false;
    }
  }

  // ---- the conversation's details: assignee, status, archive (issue 20) ---------------

  const detailsForm = () => $('#conversation-details');

  function detailsResult(text, isError) {
    const line = $('#details-result');
    if (!line) return;
    line.hidden = !text;
    line.textContent = text || '';
    line.classList.toggle('error', !!isError);
    line.classList.toggle('muted', !isError);
    line.setAttribute('role', isError ? 'alert' : 'status');
  }

  // The header as the server says the conversation now is (an answer, or a "conversation"
  // event from another staff member's inbox).
  function applyDetails(d, chatStaff) {
    const form = detailsForm();
    if (!form || !d) return;
    const select = $('#assignee');
    select.querySelectorAll('option[data-no-permission]').forEach((o) => o.remove());
    if (chatStaff) {
      // Who may chat now (a permission may have changed since the page was rendered).
      [...select.options].slice(1).forEach((o) => o.remove());
      for (const member of chatStaff) {
        const option = document.createElement('option');
        option.value = String(member.id);
        option.textContent = member.name;
        select.appendChild(option);
      }
    }
    const wanted = d.assigned_staff_id == null ? '' : String(d.assigned_staff_id);
    if (wanted && ![...select.options].some((o) => o.value === wanted)) {
      const extra = document.createElement('option');
      extra.value = wanted;
      extra.dataset.noPermission = '1';
      extra.textContent = window.t('%(name)s (no chat permission)', {name: d.assigned_staff_name || window.t('A staff member')});
      select.appendChild(extra);
    }
    select.value = wanted;
    $('#conversation-status').value = d.status;
    const toggle = $('#archive-toggle');
    toggle.dataset.archived = d.archived ? '1' : '';
    toggle.textContent = d.archived ? window.t('Restore') : window.t('Archive');
    const badge = $('#thread-badge');
    if (badge) {
      badge.textContent = d.archived ? window.t('Archived') : d.status === 'inactive' ? window.t('Inactive') : '';
      badge.hidden = !badge.textContent;
    }
  }

  async function changeDetails(what, url, data, done) {
    const form = detailsForm();
    const controls = [$('#assignee'), $('#conversation-status'), $('#archive-toggle')];
    controls.forEach((c) => { c.disabled = true; });
    detailsResult('');
    try {
      const answer = await postJson(url, data);
      applyDetails(answer.conversation);
      detailsResult(done(answer.conversation));
      scheduleListRefresh();
    } catch (error) {
      detailsResult(window.t('%(what)s not changed: %(error)s', {what: what, error: error.message}), true);
      // Back to what the server has.
      try {
        const now = await json(thread().dataset.messagesUrl + '?after=' + (thread().dataset.lastId || 0));
        applyDetails(now.details, now.chat_staff);
      } catch (ignored) { /* the error stays shown */ }
    } finally {
      if (detailsForm() === form) controls.forEach((c) => { c.disabled = false; });
    }
  }

  function assignChosen() {
    const select = $('#assignee');
    const value = select.value;
    changeDetails(window.t('Assignment'), detailsForm().dataset.assignUrl, {staff_id: value ? Number(value) : null},
      (d) => d.assigned_staff_id == null ? window.t('Unassigned.') : window.t('Assigned to %(name)s.', {name: d.assigned_staff_name}));
  }

  function statusChosen() {
    changeDetails(window.t('Status'), detailsForm().dataset.statusUrl, {status: $('#conversation-status').value},
      (d) => d.status === 'inactive' ? window.t('Marked inactive.') : window.t('Marked active.'));
  }

  function archiveToggled() {
    const archived = !!$('#archive-toggle').dataset.archived;
    const form = detailsForm();
    changeDetails(window.t('Archive'), archived ? form.dataset.restoreUrl : form.dataset.archiveUrl, {},
      (d) => d.archived
        ? window.t('Archived: it shows only under Archived and in search, until the shopper writes again.')
        : window.t('Restored to the inbox.'));
  }

  function detailsEvent(data) {
    // A read mark announces only {conversation_id, unread}: no details to show.
    if (data && 'status' in data && Number(data.conversation_id) === currentId()) applyDetails(data);
  }

  // ---- navigation inside the inbox ----------------------------------------------------

  let navigation = 0;

  // The page for `url` in place of this one. Only the latest navigation shows: a search
  // typed while the previous one loads must not be overwritten by the older answer.
  async function navigate(url, push) {
    const ticket = ++navigation;
    const main = $('main');
    main.setAttribute('aria-busy', 'true');
    try {
      const response = await fetch(url, {headers: {Accept: 'text/html'}});
      if (!response.ok) throw new Error(window.t('the server answered %(status)s', {status: response.status}));
      const html = await response.text();
      if (ticket !== navigation) return;
      const fresh = window.showPage(html);
      if (!fresh) throw new Error(window.t('unexpected answer'));
      if (push) history.pushState({}, '', window.pageAddress(url));
      opened();
    } catch (error) {
      if (ticket === navigation) liveState(window.t('Could not open this view: %(error)s.', {error: error.message}), true);
    } finally {
      if (ticket === navigation) $('main')?.removeAttribute('aria-busy');
    }
  }

  let listTimer = null;
  let listLoading = false;

  function scheduleListRefresh() {
    clearTimeout(listTimer);
    listTimer = setTimeout(refreshList, 250);
  }

  async function refreshList() {
    const box = $('#conversation-list');
    if (!box || listLoading) return;
    listLoading = true;
    try {
      const asked = performance.now();
      const response = await fetch(inbox().dataset.listUrl, {headers: {Accept: 'text/html'}});
      if (response.ok) {
        box.innerHTML = await response.text();
        for (const [id, live] of Object.entries(livePresence)) {
          if (live.at > asked) showPresence(id, live.online);
        }
      }
    } catch (error) {
      liveState(window.t('Could not refresh the list: %(error)s.', {error: error.message}), true);
    } finally {
      listLoading = false;
    }
  }

  // A thread was shown (first load or after navigating): read it, start at its end.
  function opened() {
    pending = null;
    for (const key of Object.keys(pickerPending)) delete pickerPending[key];
    renderStoredKinds();
    scrollToEnd();
    countChars();
    if (thread()) markRead();
    liveState(liveText);
  }

  // ---- the realtime stream -------------------------------------------------------------
  // The page's one stream is notify.js's (`window.staffStream`, loaded on every app page):
  // the inbox follows it rather than opening a second connection.

  let liveText = window.t('Connecting for live updates…');

  function liveState(text, isError) {
    if (!isError) liveText = text;
    const line = $('#live-state');
    if (!line) return;
    line.textContent = text;
    line.classList.toggle('error', !!isError);
  }

  function conversationOf(data) {
    if (!data) return null;
    const id = data.conversation_id ?? data.message?.conversation_id;
    return id == null ? null : Number(id);
  }

  function follow(stream) {
    stream.onState((state) => liveState(state.text, state.name === 'error'));
    stream.on('open', () => {
      if (!inbox()) return;
      catchUp();
      scheduleListRefresh();
    });
    stream.on('message', (data) => {
      if (!inbox()) return;
      const id = conversationOf(data);
      if (id !== null && id === currentId()) catchUp();
      scheduleListRefresh();
    });
    stream.on('conversation', (data) => {
      detailsEvent(data);
      if (inbox()) scheduleListRefresh();
    });
    stream.on('presence', (data) => {
      const id = conversationOf(data);
      if (id !== null) presenceEvent(id, data.online);
    });
    stream.on('typing', (data) => {
      const id = conversationOf(data);
      if (id !== null && (data.author || 'shopper') === 'shopper') showTyping(id);
    });
  }

  // ---- events --------------------------------------------------------------------------

  document.addEventListener('click', (event) => {
    const target = event.target;
    if (!(target instanceof Element) || !inbox()) return;
    const link = target.closest('a[data-inbox-nav]');
    if (link && !event.metaKey && !event.ctrlKey && !event.shiftKey && event.button === 0) {
      event.preventDefault();
      navigate(link.href, true);
      return;
    }
    if (target.closest('#add-note')) { send('note'); return; }
    if (target.closest('#send-image')) { $('#image-input')?.click(); return; }
    if (target.closest('#archive-toggle')) { archiveToggled(); return; }
    const opener = target.closest('#open-product-picker, #open-discount-picker');
    if (opener) {
      const name = opener.id === 'open-product-picker' ? 'product' : 'discount';
      if (opener.getAttribute('aria-expanded') === 'true') closePicker(name, true);
      else openPicker(name);
      return;
    }
    const closer = target.closest('[data-close-picker]');
    if (closer) { closePicker(closer.dataset.closePicker.replace('-picker', ''), true); return; }
    const insert = target.closest('button.insert');
    if (insert && $('#reply-body')) { insertAtCursor($('#reply-body'), insert.dataset.body); return; }
    const remove = target.closest('button.delete[data-delete]');
    if (remove) {
      json(remove.dataset.delete, {method: 'DELETE'}).then(() => {
        remove.closest('li').remove();
        savedEmpty();
      }).catch((error) => {
        const box = $('#saved-error');
        box.hidden = false;
        box.textContent = window.t('Not deleted: %(error)s', {error: error.message});
      });
    }
  });

  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !inbox()) return;
    if (form.id === 'composer') { event.preventDefault(); send('reply'); }
    else if (form.id === 'product-search') { event.preventDefault(); searchProducts(); }
    else if (form.id === 'discount-form') {
      event.preventDefault();
      const code = ($('#discount-code')?.value || '').trim();
      if (!code) pickerMessage('discount', 'Enter the discount code to send.', true);
      else sendPicked('discount', {code}, $('#send-discount'));
    }
    else if (form.id === 'saved-reply-form') { event.preventDefault(); saveReply(form); }
    else if (form.matches('form[data-resend]')) { event.preventDefault(); resend(form); }
    else if (form.id === 'inbox-search') {
      event.preventDefault();
      const url = new URL(form.getAttribute('action') || '', location.href);
      for (const [k, v] of new FormData(form)) if (v !== '') url.searchParams.set(k, v);
      navigate(url.toString(), true);
    }
  }, true);

  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && event.target instanceof Element) {
      const picker = event.target.closest('.picker');
      if (picker) { event.preventDefault(); closePicker(picker.id.replace('-picker', ''), true); return; }
    }
    if (event.target.id !== 'reply-body' || event.key !== 'Enter') return;
    if (event.shiftKey || event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    send('reply');
  });

  document.addEventListener('change', (event) => {
    if (event.target.id === 'assignee') assignChosen();
    else if (event.target.id === 'conversation-status') statusChosen();
  });

  document.addEventListener('input', (event) => {
    if (event.target.id === 'product-q') {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(searchProducts, 300);
    }
    if (event.target.id === 'reply-body') typed();
  });

  // An image in the thread takes its height once loaded: keep the newest message in view.
  document.addEventListener('load', (event) => {
    if (event.target instanceof HTMLImageElement && event.target.closest('#messages')) scrollToEnd();
  }, true);

  document.addEventListener('change', (event) => {
    if (event.target.id === 'image-input') sendImage(event.target.files?.[0]);
  });

  // An image dropped on the composer is sent as if chosen with the Image button.
  ['dragover', 'drop'].forEach((type) => document.addEventListener(type, (event) => {
    const composer = event.target instanceof Element && event.target.closest('#composer');
    if (!composer || !event.dataTransfer || !Array.from(event.dataTransfer.types || []).includes('Files')) return;
    event.preventDefault();
    if (type === 'drop') sendImage(event.dataTransfer.files[0]);
  }));

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && thread()) catchUp();
  });

  window.addEventListener('popstate', () => { if (inbox()) navigate(location.href, false); });

  if (inbox()) {
    opened();
    if (window.staffStream) follow(window.staffStream);
    else liveState('Live updates are off: reload the page to see new messages.', true);
  }
})();
