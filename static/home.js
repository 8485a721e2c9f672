// Home: while the first import runs, ask the app for its progress (a small JSON answer;
// App Bridge's fetch carries the ID token) and show it in place; stop when it is done.
(function () {
  const status = document.getElementById('import-status');
  if (!status || !status.dataset.progressUrl) return;
  const url = status.dataset.progressUrl;
  let delay = 2000;

  async function refreshDashboard() {
    // The import may have brought referrals: redraw the numbers once, in place.
    try {
      const response = await fetch(location.pathname + location.search, {headers: {Accept: 'text/html'}});
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), 'text/html');
      const fresh = page.getElementById('dashboard');
      const current = document.getElementById('dashboard');
      if (fresh && current) current.replaceWith(fresh);
    } catch (error) { /* the numbers stay as they were; a reload shows them */ }
  }

  async function poll() {
    try {
      const response = await fetch(url, {headers: {Accept: 'application/json'}});
      const type = response.headers.get('Content-Type') || '';
      if (!response.ok || !type.includes('application/json')) throw new Error('status ' + response.status);
      const progress = await response.json();
      status.textContent = progress.text;
      delay = 2000;
      if (progress.done) {
        delete status.dataset.running;
        status.dataset.done = progress.status;
        document.getElementById('import-bar')?.remove();
        refreshDashboard();
        return;
      }
    } catch (error) {
      delay = Math.min(delay * 2, 30000);  // the app or the network is away: ask less often
    }
    setTimeout(poll, delay);
  }
  setTimeout(poll, delay);
})();
