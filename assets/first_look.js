// The first look (loaded after page.js): the example cards, the form's draft kept in this browser, and
// the result brought into view on a phone. None of these send anything to the server.
(() => {
  const DRAFT = "ray-studio-draft";
  const shared = new URLSearchParams(location.search).has("clip");
  // A shared link's page: on a phone its clip comes before the form (first_look.css).
  if (shared) document.documentElement.classList.add("ray-shared-link");

  const choice = (group, value) =>
    [...document.querySelectorAll(`#${group} input[type=radio]`)].some((input) => input.value === String(value));

  window.rayStudio.firstLook = {
    picked: null,

    // The example card clicked (first_look.PICK_JS), as the form's values; what it changes is marked
    // afterwards (rayStudio.cards.restored).
    take() {
      const values = this.picked;
      this.picked = null;
      window.rayStudio.cards.before = window.rayStudio.cards.formValues();
      return values;
    },

    // The prompt, shape, length and loop, as the visitor left them (never the key, never keyframes).
    saveDraft([prompt, ratio, duration, loop]) {
      const draft = { prompt: prompt || "", aspect_ratio: ratio, duration, loop: !!loop };
      try {
        localStorage.setItem(DRAFT, JSON.stringify(draft));
      } catch (err) {
        // Storage full or refused: the draft is a convenience, the form works without it.
      }
      return [];
    },

    // The form as it is now: the load event that restores the draft may run after the visitor (or a
    // test) has already typed, and its inputs are the values from before.
    current(form) {
      const checked = (group) => document.querySelector(`#${group} input[type=radio]:checked`)?.value;
      const loop = document.querySelector("#loop input");
      return [
        document.querySelector("#prompt textarea")?.value ?? form[0],
        checked("aspect-ratio") ?? form[1],
        checked("duration") !== undefined ? Number(checked("duration")) : form[2],
        loop ? loop.checked : form[3],
      ];
    },

    // On load, the draft back in the form, unless the page opened a shared link (its clip's settings
    // are one Remix away), the visitor has typed a prompt already, or the draft names a shape or length
    // the form does not offer.
    restoreDraft(form) {
      const now = this.current(form);
      if (shared || now[0].trim()) return now;
      let draft = null;
      try {
        draft = JSON.parse(localStorage.getItem(DRAFT) || "null");
      } catch (err) {
        return now;
      }
      if (!draft || typeof draft !== "object") return now;
      const [prompt, ratio, duration, loop] = now;
      return [
        typeof draft.prompt === "string" ? draft.prompt : prompt,
        choice("aspect-ratio", draft.aspect_ratio) ? draft.aspect_ratio : ratio,
        choice("duration", draft.duration) ? Number(draft.duration) : duration,
        typeof draft.loop === "boolean" ? draft.loop : loop,
      ];
    },

    // When a clip starts or arrives: where the result sits under the form (a phone), it is scrolled
    // into view, unless the visitor is typing.
    reveal() {
      const result = document.getElementById("result");
      const form = document.getElementById("form-column");
      if (!result || !form) return [];
      const top = result.getBoundingClientRect().top;
      const stacked = top >= form.getBoundingClientRect().bottom - 1;
      const typing = document.activeElement?.matches?.("textarea, input[type=text], input[type=password]");
      if (stacked && !typing && (top < 0 || top > innerHeight / 3)) {
        result.scrollIntoView({ block: "start", behavior: "smooth" });
      }
      return [];
    },

    // The player's value changed: a clip arrived (its element may be drawn a moment later), or it was cleared.
    arrived(clip) {
      if (clip) requestAnimationFrame(() => this.reveal());
      return [];
    },
  };
})();
