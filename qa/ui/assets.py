"""The page's CSS and the small script behind the ``[n]`` links.

``CARDS_CSS`` styles the source cards (the Sources panel, and with ``TIMELINE_CSS`` the Timeline tab).

``CITE_JS`` runs once when the Sources panel mounts (``gr.HTML(js_on_load=...)``): a click on a link to
``#src-<turn>-<n>`` (the ``[n]`` markers in the chat) scrolls card ``n`` into view and highlights it. If
the card is not shown yet (an earlier answer's link: the panel switches to that answer first), it is
highlighted as soon as it appears. Without JavaScript the links still jump to the card (``:target``).

Both strings go through Gradio's template evaluation, so they contain no backticks, backslashes or
``${``.
"""

from __future__ import annotations

CITE_JS = """
const panel = element;
const show = (id) => {
  const card = document.getElementById(id);
  if (!card) return false;
  document.querySelectorAll('.nq-card.nq-active').forEach((c) => c.classList.remove('nq-active'));
  void card.offsetWidth;
  card.classList.add('nq-active');
  card.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  return true;
};
if (!window.newsqaCites) {
  window.newsqaCites = { pending: null, until: 0 };
  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a[href^="#src-"]') : null;
    if (!link) return;
    event.preventDefault();
    const id = decodeURIComponent(link.getAttribute('href').slice(1));
    window.newsqaCites.pending = id;
    window.newsqaCites.until = Date.now() + 4000;
    show(id);
  }, true);
}
new MutationObserver(() => {
  const state = window.newsqaCites;
  if (state.pending && Date.now() < state.until) show(state.pending);
}).observe(panel, { childList: true, subtree: true });
"""

CARDS_CSS = """
.nq-sources { display: flex; flex-direction: column; gap: 10px; font-size: 0.95em; }
.nq-head { font-weight: 700; font-size: 1.1em; }
.nq-label { font-weight: 600; margin-right: 0.3em; }
.nq-search { font-size: 0.88em; color: var(--body-text-color-subdued); }
.nq-rewritten { font-style: italic; }
.nq-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px;
  background: var(--block-background-fill); transition: background-color 0.4s, box-shadow 0.4s;
  scroll-margin: 8px; }
.nq-card:target, .nq-card.nq-active { box-shadow: 0 0 0 3px #f0b400; background: rgba(240, 180, 0, 0.12); }
.nq-card.nq-reading { opacity: 0.75; border-style: dashed; }
.nq-reading-note { margin-bottom: 6px; }
.nq-card-head { display: flex; gap: 8px; align-items: baseline; font-weight: 600; }
.nq-num { flex: none; min-width: 1.6em; text-align: center; border-radius: 4px; padding: 0 4px;
  background: var(--color-accent-soft, #e0e7ff); }
.nq-num::before { content: "["; }
.nq-num::after { content: "]"; }
.nq-title { overflow-wrap: anywhere; }
.nq-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 2px 0 4px; }
.nq-also { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 4px 0 0; }
.nq-outlet { font-weight: 600; }
.nq-excerpt { margin: 4px 0 0; padding-left: 8px; border-left: 3px solid var(--border-color-primary);
  font-size: 0.9em; line-height: 1.45; }
.nq-excerpt mark { background: #ffe58a; color: #111; padding: 0 1px; }
.nq-abstain { margin: 0; }
.nq-why, .nq-score { color: var(--body-text-color-subdued); font-size: 0.9em; }
.nq-closest { margin: 0; padding-left: 1.3em; display: flex; flex-direction: column; gap: 6px; }
.nq-snippet { font-size: 0.85em; color: var(--body-text-color-subdued); }
.nq-none, .nq-note { color: var(--body-text-color-subdued); margin: 0; }
.nq-timings { font-size: 0.8em; color: var(--body-text-color-subdued); }
"""

TIMELINE_CSS = """
.nq-day { display: flex; flex-direction: column; gap: 8px; }
.nq-day-head { margin: 6px 0 0; font-size: 1.05em; padding-bottom: 2px;
  border-bottom: 1px solid var(--border-color-primary); }
.nq-summary { margin: 0; font-style: italic; }
"""

PAGE_CSS = """
#chat a[href^="#src-"] { text-decoration: none; font-weight: 600; }
#chat a[href^="#src-"]:hover { text-decoration: underline; }
.nq-asked { font-size: 0.85em; opacity: 0.8; }
#filters { align-items: end; }
"""
