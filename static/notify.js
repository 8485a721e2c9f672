// Staff notifications on every app page (templates/base.html loads this on a shop's pages):
// the one realtime stream of the page (`window.staffStream`, which the inbox follows too:
// never a second connection), the unread count in the app's navigation, a toast for each
// new shopper message, and a desktop notification while the app is in a background tab
// when the staff member turned them on. Text reaches the page only as textContent.
(function () {
  'use strict';

  const script = document.getElementById('staff-notify');
  if (!script || window.staffStream) return;

  const RECONNECT_MAX_MS = 30000;
  const EVENTS = ['message', 'typing', 'presence', 'conversation'];
  const PREVIEW_CHARS = 60;
  const TOAST_MS = 10000;

  async function json(url, options) {
    const response = await fetch(url, Object.assign({headers: {Accept: 'application/json'}}, options));
    let body = null;
    try { body = await response.json(); } catch (error) { body = null; }
    if (!response.ok) throw new Error((body && body.error) || 'the server answered ' + response.status);
    return body;
  }

  function parse(event) {
    try { return JSON.parse(event.data); } catch (error) { return null; }
  }

  // ---- the shared realtime stream ------------------------------------------------------
  // Subscribers: staffStream.on(event, fn(data, event)) for message, typing, presence,
  // conversation and open (every (re)connect: catch up then); onState(fn({name, text}))
  // for the connection's state (name: connecting, open, error).

  const listeners = new Map();
  const stateListeners = new Set();
  let state = {name: 'connecting', text: window.t('Connecting for live updates…')};
  let source = null;
  let retryMs = 1000;
  let retryTimer = null;

  function emit(name, data, event) {
    for (const fn of listeners.get(name) || []) {
      try { fn(data, event); } catch (error) { console.error(error); }
    }
  }

  function setState(name, text) {
    state = {name, text};
    script.dataset.state = name;  // what a test (or a curious developer) can wait on
    for (const fn of stateListeners) {
      try { fn(state); } catch (error) { console.error(error); }
    }
  }

  async function connect() {
    clearTimeout(retryTimer);
    if (source) { source.close(); source = null; }
    let grant;
    try {
      grant = await json(script.dataset.tokenUrl, {method: 'POST'});
    } catch (error) {
      return reconnectLater(window.t('Live updates are off: %(error)s.', {error: error.message}));
    }
    if (!grant.url) return setState('error', window.t('Live updates are not configured; reload to see new messages.'));
    const stream = new EventSource(grant.url + '/events/staff?token=' + encodeURIComponent(grant.token));
    source = stream;
    stream.addEventListener('open', () => {
      retryMs = 1000;
      setState('open', window.t('Live: new messages appear as they arrive.'));
      emit('open', null, null);
    });
    for (const name of EVENTS) {
      stream.addEventListener(name, (event) => emit(name, parse(event), event));
    }
    // A dropped connection, or a token that expired: a new token, then catch up on open.
    stream.addEventListener('error', () => {
      if (source !== stream) return;
      stream.close();
      source = null;
      reconnectLater(window.t('Reconnecting for live updates…'));
    });
  }

  function reconnectLater(text) {
    setState('error', text);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, RECONNECT_MAX_MS);
  }

  window.staffStream = {
    on(name, fn) {
      if (!listeners.has(name)) listeners.set(name, new Set());
      listeners.get(name).add(fn);
    },
    onState(fn) {
      stateListeners.add(fn);
      fn(state);
    },
  };

  // ---- the unread count in the navigation ----------------------------------------------

  const navLink = () => document.querySelector('s-app-nav [data-nav="conversations"], ui-nav-menu [data-nav="conversations"]');
  let countTimer = null;

  function showCount(count) {
    const link = navLink();
    if (!link) return;
    const label = link.dataset.label || window.t('Conversations');
    const text = count > 0 ? label + ' (' + count + ')' : label;
    link.dataset.unread = String(count);
    // Only a change is written: App Bridge re-reads the menu when its text changes.
    if (link.textContent !== text) link.textContent = text;
  }

  async function refreshCount() {
    try {
      const data = await json(script.dataset.countUrl);
      showCount(Number(data.unread_conversations) || 0);
    } catch (error) {
      // The number stays as it was; the next event or reconnect asks again.
    }
  }

  function refreshCountSoon() {
    clearTimeout(countTimer);
    countTimer = setTimeout(refreshCount, 300);
  }

  // ---- toasts ----------------------------------------------------------------------------

  function conversationUrl(id) {
    const url = new URL(script.dataset.inboxUrl, location.href);
    url.searchParams.set('c', String(id));
    return url.toString();
  }

  function openConversation(id) {
    window.location.assign(conversationUrl(id));
  }

  // The conversation the inbox shows now (its reader needs no toast while the page is seen).
  function openInInbox() {
    const thread = document.querySelector('#inbox #thread[data-conversation-id]');
    return thread ? Number(thread.dataset.conversationId) : null;
  }

  function preview(body) {
    const text = String(body || '').replace(/\s+/g, ' ').trim();
    return text.length > PREVIEW_CHARS ? text.slice(0, PREVIEW_CHARS - 1).trimEnd() + '…' : text;
  }

  function toastRegion() {
    let region = document.getElementById('staff-toasts');
    if (!region) {
      region = document.createElement('div');
      region.id = 'staff-toasts';
      region.className = 'staff-toasts';
      region.setAttribute('role', 'status');
      region.setAttribute('aria-live', 'polite');
      document.body.appendChild(region);
    }
    return region;
  }

  // Without App Bridge's toast (Shopify's script not loaded), the page's own: a link to the
  // conversation and a close button, styled by app.css.
  function pageToast(text, id) {
    const item = document.createElement('div');
    item.className = 'staff-toast';
    const link = document.createElement('a');
    link.href = conversationUrl(id);
    link.textContent = text;
    link.setAttribute('data-inbox-nav', '');
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'link';
    close.setAttribute('aria-label', window.t('Dismiss'));
    close.textContent = '×';
    close.addEventListener('click', () => item.remove());
    item.append(link, close);
    toastRegion().appendChild(item);
    // Gone after a while, but not from under the keyboard: then when focus leaves it.
    let expired = false;
    setTimeout(() => {
      expired = true;
      if (!item.contains(document.activeElement)) item.remove();
    }, TOAST_MS);
    item.addEventListener('focusout', (event) => {
      if (expired && !item.contains(event.relatedTarget)) item.remove();
    });
  }

  function toast(text, id) {
    if (window.shopify && window.shopify.toast && typeof window.shopify.toast.show === 'function') {
      window.shopify.toast.show(text, {duration: TOAST_MS, action: window.t('Open'), onAction: () => openConversation(id)});
    } else {
      pageToast(text, id);
    }
  }

  // ---- desktop notifications -------------------------------------------------------------

  const supported = () => typeof window.Notification === 'function';

  function desktop(title, body, id) {
    if (!supported() || window.Notification.permission !== 'granted') return;
    try {
      const note = new window.Notification(title, {body, tag: 'conversation-' + id});
      note.onclick = () => {
        window.focus();
        openConversation(id);
        note.close();
      };
    } catch (error) {
      // A browser that allows only service-worker notifications: the toast remains.
    }
  }

  function showDesktopState(answer) {
    const button = document.querySelector('[data-desktop-notifications]');
    const line = document.getElementById('desktop-notify-state');
    if (!button && !line) return;
    let text;
    let offer = false;
    if (!supported()) {
      text = window.t('This browser cannot show desktop notifications; new messages show in the app (the count and a toast).');
    } else if (window.Notification.permission === 'granted') {
      text = window.t('Desktop notifications are on in this browser: a new message shows one while the app is in a background tab.');
    } else if (window.Notification.permission === 'denied' || answer === 'denied') {
      text = window.t('The browser does not allow notifications here (blocked in its site settings, or refused to apps shown inside the Shopify admin). New messages still show in the app.');
    } else {
      text = window.t('Desktop notifications are off in this browser.');
      offer = true;
    }
    if (line) line.textContent = text;
    if (button) button.hidden = !offer;
  }

  document.addEventListener('click', (event) => {
    const button = event.target instanceof Element && event.target.closest('[data-desktop-notifications]');
    if (!button || !supported()) return;
    // Asked only here, on the staff member's click: never when a page loads.
    Promise.resolve(window.Notification.requestPermission()).then(showDesktopState, () => showDesktopState('denied'));
  });

  // ---- the notification settings (Settings > Notifications) ----------------------------

  document.addEventListener('submit', async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.id !== 'notify-settings') return;
    event.preventDefault();
    const note = document.getElementById('notify-settings-result');
    const input = form.elements.namedItem('unread_email_minutes');
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const data = await json(form.dataset.url, {
        method: 'POST',
        headers: {'Content-Type': 'application/json', Accept: 'application/json'},
        body: JSON.stringify({unread_email_minutes: input.value}),
      });
      input.value = data.unread_email_minutes;
      input.removeAttribute('aria-invalid');
      note.className = 'muted';
      note.setAttribute('role', 'status');
      note.textContent = data.unread_email_minutes
        ? window.t('Saved: the assignee is emailed about a message unread for %(minutes)s minutes.', {minutes: data.unread_email_minutes})
        : window.t('Saved: no emails about unread messages.');
      window.shopify?.toast?.show(window.t('Notification settings saved'));
    } catch (error) {
      input.setAttribute('aria-invalid', 'true');
      note.className = 'form-error';
      note.setAttribute('role', 'alert');
      note.textContent = window.t('Not saved: %(error)s', {error: error.message});
    } finally {
      button.disabled = false;
    }
  }, true);

  // ---- new messages ----------------------------------------------------------------------

  window.staffStream.on('open', refreshCountSoon);
  window.staffStream.on('conversation', refreshCountSoon);
  window.staffStream.on('message', (m) => {
    refreshCountSoon();
    if (!m || m.author !== 'shopper' || m.kind === 'cart') return;
    const id = Number(m.conversation_id);
    const hidden = document.visibilityState === 'hidden';
    if (!hidden && openInInbox() === id) return;
    const who = m.shopper || window.t('a shopper');
    const body = preview(m.body);
    toast(window.t('New message from %(name)s: %(text)s', {name: who, text: body}), id);
    if (hidden) desktop(window.t('New message from %(name)s', {name: who}), body, id);
  });

  showDesktopState();
  connect();
})();
