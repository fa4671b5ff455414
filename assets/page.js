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
  },

  clickGenerate() {
    setTimeout(() => document.getElementById("generate")?.click(), 100);
  },
};

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
