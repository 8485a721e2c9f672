// The Customers pages: in-app navigation (search, filters, sorting, paging) by fetch, so
// each view keeps App Bridge's ID token and the URL still holds the whole state; row
// selection; progress of invitations and exports; CSV download (Copy buttons: forms.js).
(function () {
  'use strict';

  function status(text, isError) {
    let box = document.getElementById('nav-status');
    if (!box) {
      box = document.createElement('div');
      box.id = 'nav-status';
      box.setAttribute('role', isError ? 'alert' : 'status');
      document.querySelector('main').prepend(box);
    }
    box.className = isError ? 'nav-status error' : 'nav-status';
    box.textContent = text;
    return box;
  }

  async function navigate(url, push) {
    const main = document.querySelector('main');
    main.setAttribute('aria-busy', 'true');
    const timer = setTimeout(() => status(t('Loading…')), 150);
    try {
      const response = await fetch(url, {headers: {Accept: 'text/html'}});
      if (!response.ok) throw new Error(t('the server answered %(status)s', {status: response.status}));
      const fresh = window.showPage(await response.text());
      if (!fresh) throw new Error(t('unexpected answer'));
      if (push) history.pushState({}, '', window.pageAddress(url));
      fresh.querySelector('h1, [data-focus], #summary')?.focus?.();
    } catch (error) {
      const box = status(t('Could not load this view: %(error)s.', {error: error.message}) + ' ', true);
      const retry = document.createElement('button');
      retry.type = 'button';
      retry.className = 'secondary';
      retry.textContent = t('Try again');
      retry.addEventListener('click', () => navigate(url, push));
      box.appendChild(retry);
    } finally {
      clearTimeout(timer);
      document.querySelector('main').removeAttribute('aria-busy');
      if (!document.querySelector('#nav-status.error')) document.getElementById('nav-status')?.remove();
    }
  }

  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a[data-nav]');
    if (link && !event.metaKey && !event.ctrlKey && !event.shiftKey && event.button === 0) {
      event.preventDefault();
      navigate(link.href, true);
      return;
    }
    const download = event.target.closest && event.target.closest('a[data-download]');
    if (download) {
      event.preventDefault();
      saveDownload(download);
      return;
    }
  });

  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches('form[data-fetch][method=get]')) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const url = new URL(form.getAttribute('action') || '', location.href);
    // A filter category is a group of checkboxes with one name: every checked value goes,
    // and an unchecked group takes its category out of the view.
    const names = new Set(Array.from(form.elements, (el) => el.name).filter(Boolean));
    names.forEach((name) => url.searchParams.delete(name));
    for (const [k, v] of new FormData(form)) if (v !== '') url.searchParams.append(k, v);
    navigate(url.toString(), true);
  }, true);

  // "All matching" sends to everyone who matches: ask first (forms.js reads data-confirm).
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.id !== 'bulk') return;
    const all = form.querySelector('input[name=scope][value=all]')?.checked;
    const invite = !event.submitter || !event.submitter.hasAttribute('formaction');
    if (all && invite) form.dataset.confirm = event.submitter?.dataset.confirmAll || '';
    else delete form.dataset.confirm;
    if (!all && !form.querySelector('input[name=ids]:checked')) {
      event.preventDefault();
      event.stopImmediatePropagation();
      status(t('Select customers first, or choose “All matching”.'), true);
    }
  }, true);

  // One filter category open at a time; a click elsewhere or Escape closes it.
  document.addEventListener('toggle', (event) => {
    const pop = event.target;
    if (!(pop instanceof HTMLDetailsElement) || !pop.matches('.filter-pop') || !pop.open) return;
    document.querySelectorAll('details.filter-pop[open]').forEach((other) => { if (other !== pop) other.open = false; });
  }, true);
  document.addEventListener('click', (event) => {
    if (event.target.closest && event.target.closest('details.filter-pop')) return;
    document.querySelectorAll('details.filter-pop[open]').forEach((pop) => { pop.open = false; });
  });
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    const pop = document.querySelector('details.filter-pop[open]');
    if (pop) { pop.open = false; pop.querySelector('summary').focus(); }
  });

  window.addEventListener('popstate', () => navigate(location.href, false));

  async function saveDownload(link) {
    const label = link.textContent;
    link.textContent = t('Downloading…');
    try {
      const response = await fetch(link.href);
      if (!response.ok) throw new Error(t('the server answered %(status)s', {status: response.status}));
      const blob = await response.blob();
      const name = /filename="?([^";]+)"?/.exec(response.headers.get('Content-Disposition') || '')?.[1] || 'customers.csv';
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = name;
      document.body.appendChild(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      link.textContent = label;
    } catch (error) {
      link.textContent = label;
      status(t('Could not download the export: %(error)s', {error: error.message}), true);
    }
  }

  function selection(root) {
    const table = root.querySelector('#customers');
    if (!table || table.dataset.ready) return;
    table.dataset.ready = '1';
    const all = table.querySelector('[data-select-all]');
    const boxes = () => table.querySelectorAll('input[name=ids]');
    const count = (changed = true) => {
      const n = table.querySelectorAll('input[name=ids]:checked').length;
      root.querySelectorAll('[data-selected-count]').forEach((el) => { el.textContent = n; });
      all.checked = n > 0 && n === boxes().length;
      all.indeterminate = n > 0 && n < boxes().length;
      // "All matching" is the default; ticking customers means "these".
      const scope = root.querySelector(`#bulk input[type=radio][name=scope][value=${n ? 'selected' : 'all'}]`);
      if (scope && changed) scope.checked = true;
    };
    all.addEventListener('change', () => { boxes().forEach((b) => { b.checked = all.checked; }); count(); });
    table.addEventListener('change', (e) => { if (e.target.name === 'ids') count(); });
    count(false);
  }

  function poll(root) {
    root.querySelectorAll('[data-poll]').forEach((el) => {
      if (el.dataset.polling) return;
      el.dataset.polling = '1';
      const tick = async () => {
        try {
          const response = await fetch(el.dataset.poll, {headers: {Accept: 'text/html'}});
          if (response.ok) {
            const holder = document.createElement('div');
            holder.innerHTML = await response.text();
            const fresh = holder.firstElementChild;
            el.replaceWith(fresh);
            if (fresh.dataset.poll) setTimeout(() => poll(fresh.parentElement), 1000);
            return;
          }
        } catch (error) { /* keep polling: the worker may be restarting */ }
        delete el.dataset.polling;
        setTimeout(() => poll(el.parentElement || document), 2000);
      };
      setTimeout(tick, 700);
    });
  }

  function start(root) { selection(root); poll(root); }

  // forms.js replaces <main> after a POST; pick the new content up.
  new MutationObserver(() => start(document.querySelector('main'))).observe(document.body, {childList: true});
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => start(document)); else start(document);
})();
