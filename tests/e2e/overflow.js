// What overflows in an app page (test_admin_layout.py): the page's sideways scroll, every
// element whose right edge passes its card (s-section) unless a scrolling or clipping box
// holds it, and the tables that scroll inside their card.
() => {
  const doc = document.documentElement;
  const problems = [];
  if (doc.scrollWidth > doc.clientWidth) {
    problems.push(`the page scrolls sideways: ${doc.scrollWidth} > ${doc.clientWidth}`);
  }
  const clips = (el, card) => {
    for (let p = el.parentElement; p && p !== card; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o !== 'visible') return p;
    }
    return null;
  };
  // Inside a closed <details> (not its summary): not shown until opened.
  const folded = (el) => {
    const d = el.parentElement && el.parentElement.closest('details:not([open])');
    return Boolean(d) && !el.closest('summary');
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.trim().replace(/\s+/g, '.') : '') +
    ` "${(el.innerText || el.value || '').trim().slice(0, 40)}"`;
  if (doc.scrollWidth > doc.clientWidth) {
    for (const el of document.body.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      if (box.width && box.right > doc.clientWidth + 1 && !clips(el, document.body) && !folded(el)) {
        problems.push(`${describe(el)} ends at ${Math.round(box.right)} px, the page at ${doc.clientWidth}`);
      }
    }
  }
  const scrolling = [];
  for (const card of document.querySelectorAll('s-section')) {
    const right = card.getBoundingClientRect().right;
    for (const el of card.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      if (!box.width || !box.height || el.closest('.visually-hidden') || folded(el)) continue;
      if (clips(el, card)) continue;
      if (box.right > right + 1) problems.push(`${describe(el)} ends at ${Math.round(box.right)} px, its card at ${Math.round(right)}`);
    }
    for (const box of card.querySelectorAll('.table-scroll')) {
      if (box.scrollWidth > box.clientWidth + 1) scrolling.push(box.querySelector('table')?.id || 'a table');
    }
  }
  return {problems: problems.slice(0, 12), scrolling};
}
