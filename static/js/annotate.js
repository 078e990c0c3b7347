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
  const csrf = (document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/) || [])[1] || "";
  const storeKey = "codearena:draft:" + config.assignment;
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
  let again = false;
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

  function keepLocally() {
    try {
      localStorage.setItem(storeKey, JSON.stringify({ draft: read(), base: version }));
    } catch (err) {
      /* storage full or disabled: the server copy is all we have */
    }
  }

  function forgetLocally() {
    try {
      localStorage.removeItem(storeKey);
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
    schedulePreview();
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

  async function save(options) {
    clearTimeout(saveTimer);
    if (!config.editable || conflict) return false;
    const draft = read();
    if (content(draft) === lastSaved) return true;
    if (saving) {
      again = true;
      return false;
    }
    saving = true;
    setState("saving", "Saving…");
    try {
      const res = await fetch(config.urls.draft, {
        method: "PUT",
        credentials: "same-origin",
        keepalive: Boolean(options && options.keepalive),
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrf,
        },
        body: JSON.stringify(Object.assign({}, draft, { version: version })),
      });
      const body = await res.json().catch(() => ({}));
      offline = false;
      clearInterval(retryTimer);
      if (res.status === 409 && body.current) {
        showConflict(draft, body.current);
        return false;
      }
      if (!res.ok) {
        setState("error", "Not saved: " + (body.detail || "error " + res.status));
        return false;
      }
      version = body.version;
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
      goOffline();
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
  function showConflict(mine, theirs) {
    conflict = { mine: mine, theirs: theirs };
    keepLocally();
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
    $("conflict").hidden = true;
    fill(Object.assign({}, read(), { text: mine.text }));
    lastSaved = null;
    save();
  });
  $("keep-theirs").addEventListener("click", function () {
    const theirs = conflict.theirs;
    version = theirs.version;
    conflict = null;
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
    try {
      const res = await fetch(config.urls.preview, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ text: text.value }),
      });
      if (!res.ok) return;
      const body = await res.json();
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
    token.value = csrf;
    form.appendChild(token);
    document.body.appendChild(form);
    form.submit();
  }

  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
    });
    return { res: res, body: await res.json().catch(() => ({})) };
  }

  async function submit() {
    if (submitButton.disabled) {
      errorEl.textContent = "Not yet: " + missing().join(", ") + ".";
      return;
    }
    errorEl.textContent = "";
    submitButton.disabled = true;
    try {
      if (!(await save()) && content(read()) !== lastSaved) {
        errorEl.textContent = "Save the draft first (see the state at the top).";
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
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.key.toLowerCase() === "s") {
      event.preventDefault();
      save();
    } else if (mod && event.key === "Enter") {
      event.preventDefault();
      submit();
    } else if (event.altKey && event.key.toLowerCase() === "r") {
      event.preventDefault();
      openReject();
    } else if (event.altKey && event.key.toLowerCase() === "g") {
      event.preventDefault();
      $("guidelines-dialog").showModal();
    } else if (event.altKey && ["1", "2", "3"].includes(event.key) && config.editable) {
      event.preventDefault();
      const radios = document.querySelectorAll("input[name=difficulty]");
      radios[Number(event.key) - 1].checked = true;
      changed();
    }
  });

  ["input", "change"].forEach(function (type) {
    document.querySelector(".tags").addEventListener(type, function (event) {
      if (event.target !== languageInput) changed();
    });
  });
  text.addEventListener("input", changed);

  // --- start: the server's draft, unless this device holds newer unsaved work --------------------
  fill(config.draft);
  lastSaved = content(read());
  let stored = null;
  try {
    stored = JSON.parse(localStorage.getItem(storeKey) || "null");
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
