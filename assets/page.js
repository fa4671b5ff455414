// Ray Studio's browser-side helpers. None of these send anything to the server.
window.rayStudio = {
  keySlot: "ray-studio-segmind-key",

  count(text, max) {
    return `${(text || "").trim().length} / ${max} characters`;
  },

  shape(ratio) {
    const [w, h] = String(ratio).split(":");
    return `<div class='ratio-shape' style='aspect-ratio:${w}/${h}'>${w}:${h}</div>`;
  },

  latest: {},

  // A preview of a keyframe URL, flagged at once when it does not load as an image in this browser.
  // Only the latest URL of a slot may flag it: a probe of an earlier, half-typed URL that fails late
  // must not mark the good one typed since.
  preview(url, slot) {
    url = (url || "").trim();
    this.latest[slot] = url;
    // A flag written by an earlier probe goes with the URL it was about (Gradio may not redraw it).
    document.getElementById(slot)?.querySelector(".keyframe-bad")?.remove();
    if (!url) return "";
    if (!/^https?:\/\/\S+$/i.test(url)) return "<p class='keyframe-hint'>Not an http(s) image URL yet.</p>";
    const probe = new Image();
    probe.referrerPolicy = "no-referrer";
    probe.onerror = () => {
      const box = document.getElementById(slot);
      if (box && this.latest[slot] === url) {
        box.innerHTML =
          "<p class='keyframe-bad' role='alert'>⚠️ This address did not load as an image in your browser. " +
          "Check it before you press Generate: Segmind would fail to use it, or use something else.</p>";
      }
    };
    probe.src = url;
    const img = document.createElement("img");
    img.src = url;
    img.alt = "keyframe preview";
    img.className = "keyframe-preview";
    img.referrerPolicy = "no-referrer";
    return img.outerHTML;
  },

  append(prompt, phrase) {
    const text = (prompt || "").trim().replace(/[,.;]+$/, "");
    return text ? `${text}, ${phrase}` : phrase;
  },

  rememberKey(key, remember) {
    if (remember && key) localStorage.setItem(this.keySlot, key);
    else localStorage.removeItem(this.keySlot);
    return [];
  },

  restoreKey() {
    const key = localStorage.getItem(this.keySlot) || "";
    return [key, key !== ""];
  },

  // After Generate, keyboard and screen-reader focus goes where the result will appear.
  focusResult() {
    const box = document.getElementById("clip-status");
    if (box) {
      box.setAttribute("tabindex", "-1");
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "polite");
      box.focus();
    }
    window.rayStudio.firstLook?.reveal(); // on a phone, the result under the form scrolls into view
  },

  // The list the cards or the tiles are drawn in, made once inside the Gradio block ``hostId``.
  listIn(hostId, className, label = "") {
    const host = document.getElementById(hostId);
    if (!host) return null;
    let list = host.querySelector(`:scope > .${className}`);
    if (!list) {
      list = document.createElement("div");
      list.className = className;
      list.setAttribute("role", "list");
      if (label) list.setAttribute("aria-label", label);
      host.appendChild(list);
    }
    return list;
  },

  clickGenerate() {
    setTimeout(() => document.getElementById("generate")?.click(), 100);
  },
};

// --------------------------------------------------------------------------- a clip being made
// The server sends the placeholder (ray_studio/web/waiting.py) on each change of phase, with the clock
// as it was then; here the clock and the bar move on each second until the next one arrives.
window.rayStudio.waiting = {
  NEAR_FULL: 97, // percent: past the usual time the bar waits here (waiting.py's NEAR_FULL)
  arrived: new WeakMap(),
  clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  },
  // When each clock the server sent arrived (Gradio may patch the same element with the next one).
  stamp() {
    const now = Date.now();
    for (const box of document.querySelectorAll(".ray-wait[data-elapsed]")) {
      const sent = `${box.dataset.phase} ${box.dataset.elapsed}`;
      if (this.arrived.get(box)?.sent !== sent) this.arrived.set(box, { sent, at: now });
    }
  },
  tick() {
    this.stamp();
    for (const box of document.querySelectorAll(".ray-wait[data-elapsed]")) {
      this.show(box, Number(box.dataset.elapsed) + (Date.now() - this.arrived.get(box).at) / 1000);
    }
  },
  show(box, t) {
    const usual = Number(box.dataset.usual) || 0;
    const template = usual && t > usual ? box.dataset.over : box.dataset.within;
    const clock = (template || "").replace("{t}", this.clock(t));
    const words = box.querySelector(".wait-words")?.textContent || "";
    const shown = box.querySelector(".wait-clock");
    if (shown && clock) shown.textContent = clock;
    const bar = box.querySelector(".wait-bar");
    if (!bar) return;
    bar.setAttribute("aria-valuetext", [words, clock].filter(Boolean).join(" "));
    if (!usual) return; // an indeterminate bar: its words only
    const done = box.dataset.phase === "downloading";
    bar.setAttribute("aria-valuenow", String(Math.round(done ? usual : Math.min(t, usual))));
    const percent = done ? 100 : Math.min(this.NEAR_FULL, (100 * t) / usual);
    bar.querySelector(".wait-fill")?.style.setProperty("width", `${percent.toFixed(1)}%`);
  },
};
setInterval(() => window.rayStudio.waiting.tick(), 1000);
// Stamped as it arrives, not at the next tick (this only reads: its own writes do not wake it).
const watchProgress = new MutationObserver(() => {
  const box = document.getElementById("clip-progress");
  if (!box) return;
  watchProgress.disconnect();
  new MutationObserver(() => window.rayStudio.waiting.stamp()).observe(box, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["data-phase", "data-elapsed"],
  });
});
watchProgress.observe(document.documentElement, { childList: true, subtree: true });

// The phrase chips: a click adds the phrase to the prompt, as if typed (Gradio hears the input).
document.addEventListener("click", (event) => {
  const chip = event.target.closest && event.target.closest("button[data-phrase]");
  if (!chip) return;
  const box = document.querySelector("#prompt textarea");
  if (!box) return;
  box.value = window.rayStudio.append(box.value, chip.dataset.phrase);
  box.dispatchEvent(new Event("input", { bubbles: true }));
  if (event.detail > 0) box.focus(); // a mouse click goes on typing; Enter or Space stays on the chips
});

// --------------------------------------------------------------------------- the history cards
// Drawn here from the history the server signed (a BrowserState): a change adds, replaces or removes
// only the cards whose entry changed, so a new clip never reloads the players of the others. Their
// buttons go to the server through hidden Gradio buttons that take the entry's id (#card-id).
window.rayStudio.cards = {
  pending: "",
  removed: null,
  config() {
    const box = document.querySelector("#history-cards .cards-config");
    return box ? JSON.parse(box.dataset.config) : { clips: "", prices: {}, limit: 50 };
  },
  clipUrl(cfg, file) {
    const root = (window.gradio_config?.root || "").replace(/\/$/, "");
    return `${root}/gradio_api/file=${cfg.clips}/${file}`;
  },
  key(e) {
    return [e.id, e.state, e.file, e.gone, e.error, e.line].join("|");
  },
  list() {
    return window.rayStudio.listIn("history-cards", "cards");
  },
  render(history) {
    this.renders = (this.renders || 0) + 1;
    const list = this.list();
    if (!list) return [];
    const cfg = this.config();
    const entries = (Array.isArray(history) ? history : []).filter((e) => e && e.id).slice(0, cfg.limit);
    this.entries = new Map(entries.map((e) => [e.id, e]));
    const old = new Map([...list.children].map((n) => [n.dataset.id, n]));
    let before = list.firstChild;
    for (const entry of entries) {
      let node = old.get(entry.id);
      old.delete(entry.id);
      if (node && node.dataset.key !== this.key(entry)) {
        const fresh = this.card(entry, cfg);
        node.replaceWith(fresh);
        node = fresh;
      } else if (!node) {
        node = this.card(entry, cfg);
      }
      if (node !== before) list.insertBefore(node, before);
      before = node.nextSibling;
    }
    for (const node of old.values()) node.remove();
    document.getElementById("history")?.classList.toggle("no-cards", entries.length === 0);
    return [];
  },
  el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  },
  media(entry, cfg) {
    const [w, h] = String(entry.aspect_ratio || "16:9").split(":");
    const box = this.el("div", "card-media");
    box.style.aspectRatio = `${w} / ${h}`;
    if (entry.state === "done" && entry.file && !entry.gone) {
      const video = document.createElement("video");
      video.controls = true;
      video.playsInline = true;
      video.loop = !!entry.loop;
      video.preload = "none"; // a still appears once the card is in view; the clip loads when played
      video.src = this.clipUrl(cfg, entry.file);
      box.appendChild(video);
      this.seen.observe(video);
    } else if (entry.state === "running") {
      box.appendChild(this.el("p", "card-note", "⏳ Being made at Segmind…"));
    } else if (entry.state === "failed") {
      box.appendChild(this.el("p", "card-note card-failed", `⚠️ ${entry.error || "This clip failed."}`));
    } else {
      box.appendChild(
        this.el("p", "card-note card-gone",
          "This server no longer has this clip (files are kept a day): Make again to remake it from its settings."),
      );
    }
    return box;
  },
  card(entry, cfg) {
    const card = this.el("div", "history-card");
    card.setAttribute("role", "listitem");
    card.dataset.id = entry.id;
    card.dataset.key = this.key(entry);
    card.dataset.state = entry.gone ? "gone" : entry.state;
    card.appendChild(this.media(entry, cfg));
    const prompt = card.appendChild(this.el("p", "card-prompt", entry.prompt || ""));
    prompt.title = entry.prompt || "";
    const when = entry.created ? new Date(entry.created * 1000) : null;
    const date = when ? when.toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
    const line = entry.line || `${entry.aspect_ratio} · ${entry.duration} s`;
    card.appendChild(this.el("p", "card-meta", [date, line].filter(Boolean).join(" · ")));
    const row = this.el("div", "card-buttons");
    const playable = entry.state === "done" && entry.file && !entry.gone;
    const button = (label, action, cls) => {
      const b = this.el("button", `card-button ${cls}`, label);
      b.type = "button";
      b.dataset.action = action;
      row.appendChild(b);
    };
    button("Restore", "restore", "card-restore");
    if (entry.state !== "running") {
      const price = cfg.prices[String(entry.duration)];
      button(`${playable ? "Re-run" : "Make again"}${price ? ` · ${price}` : ""}`, "rerun", "card-rerun");
    }
    if (playable) button("Continue", "further", "card-continue");
    if (playable) button("Lead in", "leadin", "card-lead-in");
    if (playable) button("🔗 Share", "share", "card-share");
    button("Delete", "delete", "card-delete");
    card.appendChild(row);
    return card;
  },
  // A card's button: the entry's id is handed over, then the hidden Gradio button does the work.
  act(action, id) {
    this.pending = id;
    if (action === "restore") this.before = this.formValues();
    if (action === "delete") this.offerUndo(id);
    document.querySelector(`#card-${action}-do`)?.click();
  },
  take(value, history) {
    return [this.pending, history];
  },
  formValues() {
    const read = (sel) => document.querySelector(sel)?.value ?? "";
    return {
      prompt: read("#prompt textarea"),
      "aspect-ratio": document.querySelector("#aspect-ratio input:checked")?.value ?? "",
      duration: document.querySelector("#duration input:checked")?.value ?? "",
      loop: String(document.querySelector("#loop input")?.checked ?? ""),
      "start-image-url": read("#start-image-url textarea, #start-image-url input"),
      "end-image-url": read("#end-image-url textarea, #end-image-url input"),
    };
  },
  // After Restore: the form in sight, with what the card changed in it marked for a moment.
  restored() {
    setTimeout(() => {
      const now = this.formValues();
      for (const [id, value] of Object.entries(now)) {
        if (this.before && this.before[id] === value) continue;
        const block = document.getElementById(id);
        if (!block) continue;
        block.classList.remove("just-restored");
        void block.offsetWidth;
        block.classList.add("just-restored");
      }
      document.getElementById("prompt")?.scrollIntoView({ behavior: "smooth", block: "center" });
    }, 50);
    return [];
  },
  offerUndo(id) {
    const entry = this.entries && this.entries.get(id);
    if (!entry) return;
    let bar = document.getElementById("undo-bar");
    if (!bar) {
      bar = this.el("div", "undo-bar");
      bar.id = "undo-bar";
      bar.setAttribute("role", "status");
      document.body.appendChild(bar);
    }
    bar.replaceChildren(this.el("span", "", "Clip removed from your history."));
    const undo = this.el("button", "undo-button", "Undo");
    undo.type = "button";
    undo.addEventListener("click", () => {
      bar.hidden = true;
      this.pending = JSON.stringify(entry);
      document.querySelector("#card-undo-do")?.click();
    });
    bar.appendChild(undo);
    bar.hidden = false;
    clearTimeout(this.undoTimer);
    this.undoTimer = setTimeout(() => (bar.hidden = true), 6000);
  },
};

// Only cards in view load their still (the first frame); a clip loads when it is played.
window.rayStudio.cards.seen = new IntersectionObserver(
  (seen) => {
    for (const item of seen) {
      if (!item.isIntersecting) continue;
      if (item.target.preload === "none") item.target.preload = "metadata";
      window.rayStudio.cards.seen.unobserve(item.target);
    }
  },
  { rootMargin: "200px" },
);

document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("#history-cards button[data-action]");
  if (!button) return;
  const card = button.closest(".history-card");
  if (card) window.rayStudio.cards.act(button.dataset.action, card.dataset.id);
});

// --------------------------------------------------------------------------- the variants' tiles
// A set of variants in the result area, drawn from the data the server streams (#variant-tiles-data):
// a tile per clip, named by what differs, its clip shown as soon as it is made; a tile that changed is
// redrawn alone, so one clip arriving never restarts the others. Use this one and Continue go to the
// server as a card's buttons do (the entry's id, then a hidden Gradio button; Continue is the cards').
window.rayStudio.tiles = {
  key(t) {
    return [t.id, t.state, t.file, t.why, t.label].join("|");
  },
  list() {
    return window.rayStudio.listIn("variant-tiles", "tiles", "Variants");
  },
  render(tiles) {
    const list = this.list();
    if (!list) return [];
    const cfg = window.rayStudio.cards.config();
    const items = (Array.isArray(tiles) ? tiles : []).filter((t) => t && t.id);
    const nodes = [...list.children];
    const same = nodes.length === items.length && items.every((t, i) => nodes[i].dataset.id === t.id);
    if (!same) list.replaceChildren(...items.map((t) => this.tile(t, cfg)));
    else items.forEach((t, i) => nodes[i].dataset.key !== this.key(t) && nodes[i].replaceWith(this.tile(t, cfg)));
    return [];
  },
  tile(t, cfg) {
    const cards = window.rayStudio.cards;
    const el = cards.el.bind(cards);
    const tile = el("div", `variant-tile tile-${t.state}`);
    tile.setAttribute("role", "listitem");
    tile.dataset.id = t.id;
    tile.dataset.key = this.key(t);
    const media = el("div", "tile-media");
    const url = t.file ? cards.clipUrl(cfg, t.file) : "";
    if (t.state === "done" && url) {
      const video = document.createElement("video");
      Object.assign(video, { controls: true, playsInline: true, muted: true, autoplay: true, loop: true, src: url });
      video.setAttribute("aria-label", t.label);
      media.appendChild(video);
    } else if (t.state === "failed") {
      media.appendChild(el("p", "tile-note", "⚠️ Not made"));
    } else {
      media.appendChild(el("p", "tile-note", "⏳ Being made…"));
    }
    tile.appendChild(media);
    tile.appendChild(el("p", "tile-label", t.state === "failed" ? `${t.label} · ⚠️ ${t.why}` : t.label));
    if (t.state === "done" && url) {
      const row = el("div", "tile-buttons");
      for (const [text, action] of [["Use this one", "use"], ["Continue", "further"]]) {
        const b = el("button", `tile-button tile-${action}`, text);
        b.type = "button";
        b.dataset.action = action;
        b.setAttribute("aria-label", `${text}: ${t.label}`);
        row.appendChild(b);
      }
      const save = el("a", "tile-button tile-download", "Download");
      Object.assign(save, { href: url, download: t.file.split("/").pop() });
      row.appendChild(save);
      tile.appendChild(row);
    }
    return tile;
  },
  act(action, id) {
    window.rayStudio.cards.pending = id;
    document.querySelector(action === "use" ? "#tile-use-do" : "#card-further-do")?.click();
  },
  // After Use this one: the main player in sight.
  used() {
    document.getElementById("video")?.scrollIntoView({ behavior: "smooth", block: "nearest" });
    return [];
  },
  // After Stop waiting: the tiles still being made say where their clips will be.
  stopped() {
    for (const note of document.querySelectorAll("#variant-tiles .tile-running .tile-note")) {
      note.textContent = "Stopped waiting: if Segmind has it, it will be in your clips below.";
    }
    return [];
  },
};

document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("#variant-tiles button[data-action]");
  const tile = button && button.closest(".variant-tile");
  if (tile) window.rayStudio.tiles.act(button.dataset.action, tile.dataset.id);
});

// Generate refuses, in the browser and before any round trip, an empty prompt and a keyframe URL this
// browser could not load as an image (it would be paid for and fail) until it is changed or cleared
// (a capturing listener runs before Gradio's own on the button).
function generateRefusal() {
  const box = document.querySelector("#prompt textarea");
  if (box && !box.value.trim()) return [box, "#prompt", "Write a prompt first: what the clip should show."];
  const bad = document.querySelector("#start-preview .keyframe-bad, #end-preview .keyframe-bad");
  if (bad) {
    const which = bad.closest("#end-preview") ? "end" : "start";
    const field = document.querySelector(`#${which}-image-url textarea, #${which}-image-url input`);
    return [field, `#${which}-preview`,
      `The ${which} image's address did not load as an image: change or clear it before you generate.`];
  }
  return null;
}

document.addEventListener(
  "click",
  (event) => {
    const button = event.target.closest && event.target.closest("#generate");
    if (!button) return;
    document.getElementById("prompt-empty")?.remove();
    const refusal = generateRefusal();
    if (!refusal) return;
    event.stopImmediatePropagation();
    event.preventDefault();
    const [field, after, text] = refusal;
    const hint = document.createElement("p");
    hint.id = "prompt-empty";
    hint.setAttribute("role", "alert");
    hint.textContent = text;
    document.querySelector(after)?.after(hint);
    field?.focus();
  },
  true,
);

// The refusal goes once the field it is about is changed.
document.addEventListener("input", (event) => {
  if (event.target.closest && event.target.closest("#prompt, #start-image-url, #end-image-url")) {
    document.getElementById("prompt-empty")?.remove();
  }
});

// Ctrl+Enter (Cmd+Enter on a Mac) in the prompt generates.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
  if (!event.target.closest || !event.target.closest("#prompt")) return;
  event.preventDefault();
  document.getElementById("generate")?.click();
});

// The shapes, and the lengths, are each one radio group: one Tab stop, arrows move between them
// (Gradio names each input apart).
const groupRatios = new MutationObserver(() => {
  const ratios = document.querySelectorAll("#aspect-ratio input[type=radio]");
  const lengths = document.querySelectorAll("#duration input[type=radio]");
  for (const input of ratios) input.name = "ray-ratio";
  for (const input of lengths) input.name = "ray-duration";
  if (ratios.length && lengths.length) groupRatios.disconnect();
});
groupRatios.observe(document.documentElement, { childList: true, subtree: true });

// --------------------------------------------------------------------------- failures
// A failure is said once, above the player (#clip-status .clip-error, written by failures.py). When that
// place is out of sight (on a phone, with the visitor back up at the form), a small notice at the top
// of the screen says so and brings the failure into view when tapped: the page itself never scrolls
// away from what the visitor is doing. A time to come back (<time class="utc-time">) is shown in the
// visitor's own zone as well as UTC.
window.rayStudio.failures = {
  shown: null,
  check() {
    for (const time of document.querySelectorAll("time.utc-time:not([data-local])")) this.localTime(time);
    const error = document.querySelector("#clip-status .clip-error");
    if (error === this.shown) return;
    this.shown = error;
    this.hideNotice();
    if (error && !this.inSight(error)) this.notice(error);
  },
  inSight(node) {
    const box = node.getBoundingClientRect();
    return box.bottom > 0 && box.top < window.innerHeight;
  },
  notice(error) {
    let bar = document.getElementById("error-notice");
    if (!bar) {
      bar = document.createElement("div");
      bar.id = "error-notice";
      document.body.appendChild(bar);
    }
    const title = (error.querySelector("strong")?.textContent || "Something went wrong.").trim();
    const below = error.getBoundingClientRect().top > 0;
    const show = document.createElement("button");
    show.type = "button";
    show.className = "error-notice-show";
    show.textContent = `⚠️ ${title} See why ${below ? "↓" : "↑"}`;
    show.addEventListener("click", () => {
      this.hideNotice();
      error.setAttribute("tabindex", "-1");
      error.scrollIntoView({ block: "center", behavior: "smooth" });
      error.focus({ preventScroll: true });
    });
    const close = document.createElement("button");
    close.type = "button";
    close.className = "error-notice-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", () => this.hideNotice());
    bar.replaceChildren(show, close);
    bar.hidden = false;
    this.watch = new IntersectionObserver((seen) => seen.some((s) => s.isIntersecting) && this.hideNotice());
    this.watch.observe(error);
  },
  hideNotice() {
    this.watch?.disconnect();
    this.watch = null;
    const bar = document.getElementById("error-notice");
    if (bar) bar.hidden = true;
  },
  // "14:05 UTC" → "15:05 your time (14:05 UTC)", in the browser's zone (left as it is where that is UTC).
  localTime(time) {
    time.dataset.local = "1";
    const at = new Date(time.dateTime);
    if (isNaN(at) || at.getTimezoneOffset() === 0) return;
    const clock = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    time.textContent = `${clock}${this.dayWords(at)} your time (${time.textContent})`;
  },
  dayWords(at) {
    const day = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    const days = Math.round((day(at) - day(new Date())) / 86_400_000);
    if (days === 0) return "";
    if (days === 1) return " tomorrow";
    return ` on ${at.toLocaleDateString([], { day: "numeric", month: "short" })}`;
  },
};

new MutationObserver(() => window.rayStudio.failures.check()).observe(document.documentElement, {
  childList: true,
  subtree: true,
});
