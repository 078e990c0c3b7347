// The annotate page: autosave with a truthful state indicator, offline safety, conflict
// resolution, live preview and token count from the server, tag helpers, submit / reject and
// keyboard shortcuts. No framework: the page is server-rendered and this enhances it.
//
// Nothing typed is lost: every change is copied to localStorage at once and removed only after
// the server confirmed a save of exactly that content. "Saved" is shown only then.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("annotate-config").textContent);
  const $ = (id) => document.getElementById(id);
  const csrf = () => (document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/) || [])[1] || "";
  // One local copy per tab (the id survives a reload of the tab), so a save in one tab never
  // removes another tab's unsaved words.
  const storePrefix = "codearena:draft:" + config.assignment + ":";
  let tabId = sessionStorage.getItem(storePrefix + "tab");
  if (!tabId) {
    tabId = Math.random().toString(36).slice(2);
    sessionStorage.setItem(storePrefix + "tab", tabId);
  }
  const storeKey = storePrefix + tabId;
  const KEEPALIVE_LIMIT = 60000; // Chromium refuses keepalive bodies over 64 KB
  const SAVE_DELAY = 1500;
  const PREVIEW_DELAY = 400;

  const text = $("rewrite-text");
  const stateEl = $("save-state");
  const chipsEl = $("language-chips");
  const languageInput = $("language-input");
  const naturalSelect = $("natural-language");
  const subcategorySelect = $("subcategory");
  const submitButton = $("submit");
  const missingEl = $("missing");
  const errorEl = $("action-error");

  const byKey = new Map(); // lower-case name or alias -> vocabulary name
  config.languages.forEach(function (lang) {
    byKey.set(lang.name.toLowerCase(), lang.name);
    (lang.aliases || []).forEach((alias) => byKey.set(String(alias).toLowerCase(), lang.name));
    const option = document.createElement("option");
    option.value = lang.name;
    $("language-options").appendChild(option);
  });

  let version = config.draft.version;
  let lastSaved = null; // JSON of the content the server holds at `version`
  let languages = [];
  let saving = false;
  let inflight = Promise.resolve(true);
  let again = false;
  let previewSeq = 0;
  let conflict = null;
  let offline = false;
  let saveTimer = null;
  let previewTimer = null;
  let retryTimer = null;

  // --- the form <-> a draft ---------------------------------------------------------------
  function read() {
    const checklist = {};
    document.querySelectorAll(".checklist input").forEach(function (box) {
      checklist[box.dataset.item] = box.checked;
    });
    const difficulty = document.querySelector("input[name=difficulty]:checked");
    return {
      text: text.value,
      difficulty: difficulty ? difficulty.value : "",
      programming_languages: languages.slice(),
      natural_language: naturalSelect.value,
      subcategory: subcategorySelect.value,
      checklist: checklist,
    };
  }

  function fill(draft) {
    text.value = draft.text || "";
    document.querySelectorAll("input[name=difficulty]").forEach(function (radio) {
      radio.checked = radio.value === draft.difficulty;
    });
    languages = (draft.programming_languages || []).map((n) => byKey.get(n.toLowerCase()) || n);
    renderChips();
    naturalSelect.value = draft.natural_language || "";
    subcategorySelect.value = draft.subcategory || "";
    document.querySelectorAll(".checklist input").forEach(function (box) {
      box.checked = Boolean((draft.checklist || {})[box.dataset.item]);
    });
  }

  const content = (draft) =>
    JSON.stringify([
      draft.text,
      draft.difficulty,
      draft.programming_languages,
      draft.natural_language,
      draft.subcategory,
      config.checklist.map((item) => Boolean((draft.checklist || {})[item])),
    ]);

  // --- state indicator and local copy --------------------------------------------------------
  function setState(state, label) {
    stateEl.dataset.state = state;
    stateEl.textContent = label;
  }

  function keepLocally(draft, base) {
    if (conflict) return; // the form is frozen; the stored copy holds "mine"
    try {
      localStorage.setItem(
        storeKey,
        JSON.stringify({
          draft: draft || read(),
          base: base === undefined ? version : base,
          at: Date.now(),
        }),
      );
    } catch (err) {
      /* storage full or disabled: the server copy is all we have */
    }
  }

  function localCopies() {
    const out = [];
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key || !key.startsWith(storePrefix)) continue;
      try {
        out.push({ key: key, value: JSON.parse(localStorage.getItem(key)) });
      } catch (err) {
        /* not ours */
      }
    }
    return out;
  }

  function forgetLocally() {
    // This tab's copy, and any other copy that holds exactly what the server now has.
    try {
      localStorage.removeItem(storeKey);
      localCopies().forEach(function (copy) {
        if (copy.value && copy.value.draft && content(copy.value.draft) === lastSaved) {
          localStorage.removeItem(copy.key);
        }
      });
    } catch (err) {
      /* ignore */
    }
  }

  function showUnsaved() {
    if (conflict) return;
    if (offline) setState("offline", "Offline · changes kept on this device");
    else setState("dirty", "Unsaved changes");
  }

  // --- saving --------------------------------------------------------------------------------
  function changed() {
    if (!config.editable) return;
    keepLocally();
    updateMissing();
    if (content(read()) === lastSaved) {
      if (!saving && !conflict && !offline) {
        setState("saved", "Saved");
        forgetLocally();
      }
      return;
    }
    showUnsaved();
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, SAVE_DELAY);
  }

  function save(options) {
    clearTimeout(saveTimer);
    if (!config.editable || conflict) return Promise.resolve(false);
    if (content(read()) === lastSaved) return Promise.resolve(true);
    if (saving) {
      again = true;
      return inflight;
    }
    inflight = send(options);
    return inflight;
  }

  async function send(options) {
    const draft = read();
    const body = JSON.stringify(Object.assign({}, draft, { version: version }));
    const keepalive = Boolean(options && options.keepalive) && body.length < KEEPALIVE_LIMIT;
    saving = true;
    setState("saving", "Saving…");
    try {
      const res = await fetch(config.urls.draft, {
        method: "PUT",
        credentials: "same-origin",
        keepalive: keepalive,
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrf(),
        },
        body: body,
      });
      const reply = await res.json().catch(() => ({}));
      offline = false;
      clearInterval(retryTimer);
      if (res.status === 409 && reply.current && content(reply.current) === content(draft)) {
        // The newer version holds exactly this content (a save from before a reload, say):
        // nothing to choose between.
        reply.version = reply.current.version;
      } else if (res.status === 409 && reply.current) {
        showConflict(read(), reply.current); // everything typed so far, not just what was sent
        return false;
      } else if (!res.ok) {
        setState("error", "Not saved: " + (reply.detail || "error " + res.status));
        return false;
      }
      version = reply.version;
      lastSaved = content(draft);
      if (content(read()) === lastSaved) {
        setState("saved", "Saved");
        forgetLocally();
      } else {
        showUnsaved();
        saveTimer = setTimeout(save, SAVE_DELAY);
      }
      return true;
    } catch (err) {
      if (keepalive) keepLocally(); // the page is going away; the local copy is what remains
      else goOffline();
      return false;
    } finally {
      saving = false;
      if (again) {
        again = false;
        setTimeout(save, 0);
      }
    }
  }

  function goOffline() {
    offline = true;
    keepLocally();
    setState("offline", "Offline · changes kept on this device");
    clearInterval(retryTimer);
    retryTimer = setInterval(function () {
      if (navigator.onLine) save();
    }, 5000);
  }

  window.addEventListener("offline", function () {
    if (!config.editable) return;
    offline = true;
    keepLocally();
    if (!conflict) setState("offline", "Offline · changes kept on this device");
  });
  window.addEventListener("online", function () {
    if (!config.editable) return;
    offline = false;
    if (content(read()) !== lastSaved) {
      showUnsaved();
      save();
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") save({ keepalive: true });
  });
  window.addEventListener("pagehide", () => save({ keepalive: true }));

  // --- conflicts -----------------------------------------------------------------------------
  function freeze(frozen) {
    text.readOnly = frozen || !config.editable;
    document.querySelector(".tags").disabled = frozen || !config.editable;
  }

  function showConflict(mine, theirs) {
    // The whole of "mine", marked as undecided (base -1), so that a reload asks again
    // instead of quietly saving it over the other version.
    keepLocally(mine, -1);
    conflict = { mine: mine, theirs: theirs };
    freeze(true);
    setState("conflict", "Conflict · choose a version");
    $("conflict-version").textContent = theirs.version;
    $("conflict-mine").textContent = mine.text;
    $("conflict-theirs").textContent = theirs.text;
    $("conflict").hidden = false;
    $("conflict").scrollIntoView({ block: "center" });
  }

  $("keep-mine").addEventListener("click", function () {
    const mine = conflict.mine;
    version = conflict.theirs.version; // a deliberate overwrite of the newer version
    conflict = null;
    freeze(false);
    $("conflict").hidden = true;
    fill(mine); // the whole draft: text and tags
    lastSaved = null;
    keepLocally();
    updateMissing();
    schedulePreview();
    save();
  });
  $("keep-theirs").addEventListener("click", function () {
    const theirs = conflict.theirs;
    version = theirs.version;
    conflict = null;
    freeze(false);
    $("conflict").hidden = true;
    fill(theirs);
    lastSaved = content(read());
    forgetLocally();
    setState("saved", "Saved");
    updateMissing();
    schedulePreview();
  });

  // --- preview, token count and suggestions (all from the server) -----------------------------
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, PREVIEW_DELAY);
  }

  async function preview() {
    const seq = ++previewSeq;
    try {
      const res = await fetch(config.urls.preview, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify({ text: text.value }),
      });
      if (!res.ok || seq !== previewSeq) return;
      const body = await res.json();
      if (seq !== previewSeq) return; // a newer preview is on its way
      $("preview").innerHTML = body.html; // sanitized by the server (nh3)
      $("token-count").textContent = body.question_tokens;
      suggestLanguages(body.suggested_languages || []);
      suggestNatural(body.suggested_natural_language);
    } catch (err) {
      $("token-count").textContent = "–";
    }
  }

  function suggestionButton(label, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "suggestion";
    button.textContent = label;
    button.addEventListener("click", onClick);
    return button;
  }

  function suggestLanguages(names) {
    const box = $("language-suggestions");
    box.replaceChildren();
    names
      .filter((name) => !languages.includes(name))
      .forEach((name) => box.appendChild(suggestionButton("+ " + name, () => addLanguage(name))));
  }

  function suggestNatural(code) {
    const box = $("natural-suggestion");
    box.replaceChildren();
    if (code && naturalSelect.value !== code && naturalSelect.querySelector(`option[value="${code}"]`)) {
      box.appendChild(
        suggestionButton("detected: " + code, function () {
          naturalSelect.value = code;
          box.replaceChildren();
          changed();
        }),
      );
    }
  }

  // --- programming languages -------------------------------------------------------------
  function renderChips() {
    chipsEl.replaceChildren();
    languages.forEach(function (name) {
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.textContent = name;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.setAttribute("aria-label", "remove " + name);
      remove.textContent = "×";
      remove.disabled = !config.editable;
      remove.addEventListener("click", function () {
        languages = languages.filter((n) => n !== name);
        renderChips();
        changed();
      });
      chip.appendChild(remove);
      chipsEl.appendChild(chip);
    });
  }

  function addLanguage(raw) {
    const name = byKey.get(String(raw).trim().toLowerCase());
    if (!name) {
      errorEl.textContent = `"${raw}" is not in this campaign's language list.`;
      return;
    }
    errorEl.textContent = "";
    if (!languages.includes(name)) languages.push(name);
    languageInput.value = "";
    renderChips();
    suggestLanguages(
      Array.from($("language-suggestions").children).map((b) => b.textContent.slice(2)),
    );
    changed();
  }

  languageInput.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      if (languageInput.value.trim()) addLanguage(languageInput.value);
    }
  });
  languageInput.addEventListener("change", function () {
    if (byKey.has(languageInput.value.trim().toLowerCase())) addLanguage(languageInput.value);
  });

  // --- what is missing before submit ---------------------------------------------------------
  function missing() {
    const draft = read();
    const out = [];
    if (!draft.text.trim()) out.push("write the rewrite");
    if (!draft.difficulty) out.push("choose a difficulty");
    if (!draft.programming_languages.length) out.push("add at least one programming language");
    if (!draft.natural_language) out.push("choose the natural language");
    if (!draft.subcategory) out.push("choose a subcategory");
    config.checklist.forEach(function (item) {
      if (!draft.checklist[item]) out.push(`confirm "${item}"`);
    });
    return out;
  }

  function updateMissing() {
    const items = missing();
    missingEl.replaceChildren();
    items.forEach(function (item) {
      const li = document.createElement("li");
      li.textContent = item;
      missingEl.appendChild(li);
    });
    submitButton.disabled = !config.editable || items.length > 0;
    submitButton.title = items.length ? "Still missing: " + items.join(", ") : "Submit for review";
  }

  // --- submit, reject, next ------------------------------------------------------------------
  function goNext() {
    const form = document.createElement("form");
    form.method = "post";
    form.action = config.urls.next;
    const token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrfmiddlewaretoken";
    token.value = csrf();
    form.appendChild(token);
    document.body.appendChild(form);
    form.submit();
  }

  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body || {}),
    });
    return { res: res, body: await res.json().catch(() => ({})) };
  }

  async function submit() {
    if (!config.editable || conflict) return;
    if (submitButton.disabled) {
      errorEl.textContent = "Not yet: " + missing().join(", ") + ".";
      return;
    }
    errorEl.textContent = "";
    submitButton.disabled = true;
    try {
      // Wait for a save in flight, then save whatever was typed since.
      await inflight;
      await save();
      if (content(read()) !== lastSaved) {
        errorEl.textContent = "The draft is not saved yet (see the state at the top); try again.";
        return;
      }
      const { res, body } = await post(config.urls.submit);
      if (res.ok) {
        forgetLocally();
        config.editable = false;
        setState("saved", "Submitted");
        goNext();
        return;
      }
      const errors = body.errors ? Object.values(body.errors).flat().join("; ") : "";
      errorEl.textContent = (body.detail || "Submit failed.") + (errors ? " " + errors : "");
    } catch (err) {
      errorEl.textContent = "Cannot reach the server; your draft is kept. Try again when online.";
    } finally {
      updateMissing();
    }
  }

  const rejectDialog = $("reject-dialog");
  function openReject() {
    if (config.editable) rejectDialog.showModal();
  }
  $("reject-cancel").addEventListener("click", () => rejectDialog.close());
  $("reject-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    const reason = $("reject-reason").value;
    if (!reason) {
      $("reject-reason").focus();
      return;
    }
    try {
      const { res, body } = await post(config.urls.reject, {
        reason: reason,
        note: $("reject-note").value,
      });
      if (res.ok) {
        forgetLocally();
        config.editable = false;
        rejectDialog.close();
        goNext();
        return;
      }
      errorEl.textContent = body.detail || "Reject failed.";
      rejectDialog.close();
    } catch (err) {
      errorEl.textContent = "Cannot reach the server. Try again when online.";
    }
  });

  submitButton.addEventListener("click", submit);
  $("reject").addEventListener("click", openReject);
  $("open-guidelines").addEventListener("click", () => $("guidelines-dialog").showModal());

  document.addEventListener("keydown", function (event) {
    // A dialog handles its own keys (Esc closes it); page shortcuts wait until it is closed.
    if (document.querySelector("dialog[open]")) return;
    const mod = event.ctrlKey || event.metaKey;
    // event.code, not event.key: on macOS, Option+R types "®".
    if (mod && event.code === "KeyS") {
      event.preventDefault();
      save();
    } else if (mod && event.key === "Enter") {
      event.preventDefault();
      submit();
    } else if (event.altKey && event.code === "KeyR") {
      event.preventDefault();
      openReject();
    } else if (event.altKey && event.code === "KeyG") {
      event.preventDefault();
      $("guidelines-dialog").showModal();
    } else if (event.altKey && ["Digit1", "Digit2", "Digit3"].includes(event.code)) {
      if (!config.editable || conflict) return;
      event.preventDefault();
      const radios = document.querySelectorAll("input[name=difficulty]");
      radios[Number(event.code.slice(-1)) - 1].checked = true;
      changed();
    }
  });

  ["input", "change"].forEach(function (type) {
    document.querySelector(".tags").addEventListener(type, function (event) {
      if (event.target !== languageInput) changed();
    });
  });
  text.addEventListener("input", function () {
    changed();
    schedulePreview();
  });

  // --- start: the server's draft, unless this device holds newer unsaved work --------------------
  fill(config.draft);
  lastSaved = content(read());
  let stored = null;
  try {
    stored = JSON.parse(localStorage.getItem(storeKey) || "null");
    if (!stored) {
      // No copy of this tab's own: recover the newest unsaved copy another (closed) tab left.
      const others = localCopies()
        .map((copy) => copy.value)
        .filter((v) => v && v.draft && content(v.draft) !== lastSaved)
        .sort((a, b) => (b.at || 0) - (a.at || 0));
      if (others.length) stored = Object.assign({}, others[0], { base: -1 });
    }
  } catch (err) {
    stored = null;
  }
  if (config.editable && stored && stored.draft && content(stored.draft) !== lastSaved) {
    if (stored.base === version) {
      fill(stored.draft); // typed here but never saved (offline, closed tab): carry on
      showUnsaved();
      saveTimer = setTimeout(save, 200);
    } else {
      showConflict(stored.draft, Object.assign({}, config.draft));
    }
  } else if (config.editable) {
    forgetLocally();
  }
  updateMissing();
  preview();
})();
