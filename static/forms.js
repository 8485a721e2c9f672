// Forms inside the admin submit with fetch, which App Bridge signs with a fresh ID token
// (a plain form post would carry none). The answer is the same page, re-rendered: its
// <main> replaces ours. The submit button is disabled while a request is in flight, so a
// double click is one request.
// An answer's <main> in place of ours (also used by customers.js for in-app navigation):
// the new <main>, or null when the answer is not one of the app's pages.
window.showPage = function (html) {
  const page = new DOMParser().parseFromString(html, 'text/html');
  const fresh = page.querySelector('main');
  if (!fresh) return null;
  document.querySelector('main').replaceWith(fresh);
  if (page.title) document.title = page.title;
  return fresh;
};

// An address to show in the bar: this app's URL without the one-minute ID token.
window.pageAddress = function (url) {
  const target = new URL(url, location.href);
  target.searchParams.delete('id_token');
  return target;
};

document.addEventListener('submit', async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.matches('form[data-fetch]:not([method=get])')) return;
  event.preventDefault();
  if (form.dataset.busy) return;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
  form.dataset.busy = '1';
  // Read the form (with the pressed button's name=value) before disabling the buttons:
  // a disabled button is left out of FormData.
  const body = new FormData(form, event.submitter);
  const buttons = form.querySelectorAll('button[type=submit]');
  buttons.forEach((b) => { b.disabled = true; });
  // A button's formaction (e.g. Export beside Send invitation) decides where the form goes.
  const own = event.submitter && event.submitter.hasAttribute('formaction');
  // getAttribute: a control named "action" would shadow form.action.
  const url = new URL(own ? event.submitter.formAction : form.getAttribute('action') || '', location.href);
  for (const [k, v] of new URLSearchParams(location.search)) {
    if (k !== 'id_token' && !url.searchParams.has(k)) url.searchParams.set(k, v);
  }
  try {
    const response = await fetch(url, {method: 'POST', body, headers: {Accept: 'text/html'}});
    const fresh = window.showPage(await response.text());
    if (fresh) {
      // X-Location: the page's own address when the answer came from an action's URL.
      const target = window.pageAddress(response.headers.get('X-Location') || response.url);
      if (target.pathname !== location.pathname) history.pushState({}, '', target);
      fresh.querySelector('[data-focus]')?.focus();
      if (window.shopify?.toast && fresh.dataset.toast) window.shopify.toast.show(fresh.dataset.toast);
    } else {
      throw new Error('unexpected answer ' + response.status);
    }
  } catch (error) {
    const note = form.querySelector('.form-error') || form.appendChild(document.createElement('p'));
    note.className = 'form-error';
    note.setAttribute('role', 'alert');
    note.textContent = t('Could not save: %(error)s. Try again.', {error: error.message});
  } finally {
    delete form.dataset.busy;
    buttons.forEach((b) => { b.disabled = false; });
  }
});

// A Copy button (data-copy="text"), on every admin page: the referral link on Advocates and
// on the customer page.
document.addEventListener('click', (event) => {
  const copy = event.target.closest && event.target.closest('[data-copy]');
  if (!copy) return;
  navigator.clipboard?.writeText(copy.dataset.copy).then(
    () => { copy.textContent = t('Copied'); window.shopify?.toast?.show(t('Referral link copied')); },
    () => { copy.textContent = t('Select the link and copy it'); });
});
