// Copies of the draft in localStorage, one per tab, so nothing typed is lost: every change is
// copied at once and a copy is removed only after the server confirmed a save of exactly that
// content.
import { content, read } from "./form.js";

export function openStore(assignment) {
  // One local copy per tab (the id survives a reload of the tab), so a save in one tab never
  // removes another tab's unsaved words.
  const prefix = "codearena:draft:" + assignment + ":";
  let tabId = sessionStorage.getItem(prefix + "tab");
  if (!tabId) {
    tabId = Math.random().toString(36).slice(2);
    sessionStorage.setItem(prefix + "tab", tabId);
  }
  return { prefix: prefix, key: prefix + tabId };
}

export function keepLocally(page, draft, base) {
  if (page.conflict) return; // the form is frozen; the stored copy holds "mine"
  try {
    localStorage.setItem(
      page.store.key,
      JSON.stringify({
        draft: draft || read(page),
        base: base === undefined ? page.version : base,
        at: Date.now(),
      }),
    );
  } catch (err) {
    /* storage full or disabled: the server copy is all we have */
  }
}

function localCopies(page) {
  const out = [];
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (!key || !key.startsWith(page.store.prefix)) continue;
    try {
      out.push({ key: key, value: JSON.parse(localStorage.getItem(key)) });
    } catch (err) {
      /* not ours */
    }
  }
  return out;
}

export function forgetLocally(page) {
  // This tab's copy, and any other copy that holds exactly what the server now has.
  try {
    localStorage.removeItem(page.store.key);
    localCopies(page).forEach(function (copy) {
      if (copy.value && copy.value.draft && content(page, copy.value.draft) === page.lastSaved) {
        localStorage.removeItem(copy.key);
      }
    });
  } catch (err) {
    /* ignore */
  }
}

// The copy to resume from when the page opens (null if none): this tab's own, else the newest
// unsaved one another tab left behind.
export function storedCopy(page) {
  try {
    const stored = JSON.parse(localStorage.getItem(page.store.key) || "null");
    if (stored) return stored;
    // No copy of this tab's own: recover the newest unsaved copy another (closed) tab left.
    const others = localCopies(page)
      .map((copy) => copy.value)
      .filter((v) => v && v.draft && content(page, v.draft) !== page.lastSaved)
      .sort((a, b) => (b.at || 0) - (a.at || 0));
    // Marked as undecided (base -1): it was never saved against any version this tab knows.
    return others.length ? Object.assign({}, others[0], { base: -1 }) : null;
  } catch (err) {
    return null;
  }
}
