/**
 * The devstore's stand-in for `@shopify/web-pixels-extension` inside the pixel's worker (the
 * strict sandbox: no DOM). `register(fn)` keeps the extension's function; once the top page
 * sends `init` and the settings, it is called with `{analytics, browser, init, settings,
 * customerPrivacy}`. `analytics.subscribe(name, callback)` hears the standard events the page
 * publishes (and "all_events" / "all_standard_events"); `browser.localStorage`,
 * `sessionStorage` and `cookie` are async proxies answered by the top page over postMessage,
 * as Shopify's are.
 */
const subscribers = new Map();
const pending = new Map();
let registered = null;
let started = false;
let queued = [];
let nextRequest = 1;

function ask(area, method, args) {
  const id = nextRequest++;
  return new Promise((resolve, reject) => {
    pending.set(id, {resolve, reject});
    self.postMessage({type: 'browser', id, area, method, args});
  });
}

function storage(area) {
  return {
    getItem: (key) => ask(area, 'getItem', [String(key)]),
    setItem: (key, value) => ask(area, 'setItem', [String(key), String(value)]),
    removeItem: (key) => ask(area, 'removeItem', [String(key)]),
    key: (index) => ask(area, 'key', [Number(index)]),
    length: () => ask(area, 'length', []),
  };
}

const browser = {
  localStorage: storage('localStorage'),
  sessionStorage: storage('sessionStorage'),
  cookie: {get: (name) => ask('cookie', 'get', [String(name || '')]), set: () => Promise.resolve('')},
};

const analytics = {
  subscribe(name, callback) {
    if (!subscribers.has(name)) subscribers.set(name, []);
    subscribers.get(name).push(callback);
    return () => subscribers.set(name, subscribers.get(name).filter((c) => c !== callback));
  },
  publish() {
    return false; // custom events: not needed by this app
  },
};

function deliver(event) {
  const names = [event.name, 'all_events'];
  if (event.type === 'standard') names.push('all_standard_events');
  for (const name of names) {
    for (const callback of subscribers.get(name) || []) {
      try {
        const result = callback(event);
        if (result && typeof result.catch === 'function') result.catch(() => {});
      } catch (error) {
        /* one subscriber's error does not stop the others */
      }
    }
  }
}

function start(message) {
  if (started || !registered) return;
  started = true;
  registered({
    analytics,
    browser,
    init: message.init,
    settings: message.settings,
    customerPrivacy: {subscribe: () => () => {}},
  });
  for (const event of queued) deliver(event);
  queued = [];
}

let initMessage = null;
self.addEventListener('message', (message) => {
  const data = message.data || {};
  if (data.type === 'init') {
    initMessage = data;
    start(data);
  } else if (data.type === 'event') {
    if (started) deliver(data.event);
    else queued.push(data.event);
  } else if (data.type === 'browser-result') {
    const waiting = pending.get(data.id);
    pending.delete(data.id);
    if (waiting) waiting.resolve(data.value);
  }
});

export function register(fn) {
  registered = fn;
  if (initMessage) start(initMessage);
}
