// Settings: your Telegram chat (a one-time link code, unlinking, which notifications, the daily
// summary) and your outgoing webhooks (create one and see its signing secret once, change its address,
// kind and notifications, enable or disable, send a test, delete). Nothing here is on the live channel: linking happens in Telegram, so the page
// asks again when you press "Check again" or come back to this tab (no polling).
import { api } from "./api.js";
import { clear, copy, field, h } from "./dom.js";
import { clearFieldErrors, showFieldErrors } from "./forms.js";
import { time } from "./format.js";

// What each notification is (names come from the API; one it does not know is shown by its name).
const NOTICE_TEXT = {
  signal_received: "a signal arrived",
  entry_filled: "each buy fill",
  exit_filled: "a position closed: reason, realised PnL, fees",
  order_failed: "an order rejected or an intent failed",
  entry_refused: "a risk rule refused an entry",
  bot_changed: "a bot started or stopped",
  daily_loss: "an account's daily loss limit reached",
  drawdown: "a subscription's drawdown warning or pause",
  breaker_open: "an exchange account's circuit breaker opened",
};
const KINDS = [["discord", "Discord"], ["slack", "Slack"], ["json", "JSON (your server)"]];
const HOURS = Array.from({ length: 24 }, (_, n) => n);

const noticeLabel = (name) => name.charAt(0).toUpperCase() + name.slice(1).replaceAll("_", " ");
const browserZone = () => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch { return "UTC"; } };
const zones = () => { try { return Intl.supportedValuesOf("timeZone"); } catch { return []; } };

/** A 422 that is a use case's reason (text, no field list) shown next to `id`; the rest as usual. */
function showRefusal(form, error, fields, line, id) {
  if (error?.status === 422 && !error.errors) {
    showFieldErrors(form, { errors: [{ loc: ["here"], msg: error.message }] }, { here: id }, line);
  } else {
    showFieldErrors(form, error, fields, line);
  }
}

export class SettingsPage {
  title = "Settings";

  mount(root) {
    this.telegram = null; // GET /telegram
    this.code = null; // the link code just made (this page's memory only)
    this.hooks = null; // GET /webhooks/outgoing
    this.secret = null; // {id, secret} of the hook just made: shown once
    this.trials = new Map(); // hook id -> its last test's outcome
    this.deleting = new Set(); // hooks whose deletion waits for a second click
    this.editing = null; // {hook, form}: the webhook being changed and its form (kept across redraws)
    this.message = h("p", { class: "error", role: "alert" });
    this.status = h("p", { class: "muted", role: "status" });
    this.tg = h("section", { class: "panel settings", "aria-labelledby": "tg-title" }, h("p", { class: "empty" }, "Loading…"));
    this.wh = h("section", { class: "panel settings", "aria-labelledby": "wh-title" }, h("p", { class: "empty" }, "Loading…"));
    root.append(h("h1", {}, "Settings"), this.message, this.status, this.tg, this.wh);
    // Back from Telegram (another app or tab): has the chat been linked meanwhile?
    this.onBack = () => { if (document.visibilityState === "visible" && this.code && !this.telegram?.linked) this.check(); };
    document.addEventListener("visibilitychange", this.onBack);
    window.addEventListener("focus", this.onBack);
    this.loadTelegram().catch((error) => { this.message.textContent = `Could not load your Telegram settings: ${error.message}`; });
    this.loadHooks().catch((error) => { this.message.textContent = `Could not load your webhooks: ${error.message}`; });
  }

  unmount() {
    document.removeEventListener("visibilitychange", this.onBack);
    window.removeEventListener("focus", this.onBack);
    this.code = null;
    this.secret = null;
    this.editing = null;
  }

  update() { /* nothing of this page is on the live channel */ }

  async loadTelegram() {
    this.telegram = await api("GET", "/api/v1/telegram");
    if (this.telegram.linked) this.code = null;
    this.renderTelegram();
  }

  async loadHooks() {
    this.hooks = await api("GET", "/api/v1/webhooks/outgoing");
    this.renderHooks();
  }

  /** Re-render `section` with `build`, keeping the focus on the control of the same id. */
  redraw(section, build) {
    const focused = section.contains(document.activeElement) ? document.activeElement.id : null;
    clear(section).append(...build().filter(Boolean));
    if (focused) document.getElementById(focused)?.focus();
  }

  // -- Telegram ------------------------------------------------------------------------------------

  renderTelegram() {
    const t = this.telegram;
    if (!t) return;
    this.redraw(this.tg, () => [
      h("h2", { id: "tg-title" }, "Telegram"),
      h("p", { "data-field": "telegram-state" }, !t.enabled
        ? "This server runs no Telegram bot (TRADEWIRE_TELEGRAM_TOKEN is not set): no chat can be linked."
        : t.linked ? `A chat is linked${t.linked_at ? ` (since ${time(t.linked_at)})` : ""}: notifications and commands go there.`
          : "No chat is linked."),
      this.linking(t),
      this.notices(t),
      this.summary(t),
    ]);
  }

  linking(t) {
    if (t.linked) {
      const unlink = h("button", { type: "button", class: "ghost", id: "tg-unlink" }, "Unlink the chat");
      unlink.addEventListener("click", () => this.unlink(unlink));
      return h("div", { class: "actions" }, unlink);
    }
    const get = h("button", { type: "button", id: "tg-get-code", disabled: !t.enabled || undefined },
      this.code ? "Get a new code" : "Get a link code");
    get.addEventListener("click", () => this.newCode(get));
    const parts = [h("div", { class: "actions" }, get)];
    if (this.code) {
      const { code, expires_at: expires, bot_username: bot } = this.code;
      const box = h("input", { id: "tg-code", class: "url", readonly: true, value: code, spellcheck: "false" });
      const copyIt = h("button", { type: "button", class: "ghost", id: "tg-copy-code" }, "Copy the code");
      copyIt.addEventListener("click", () => copy(`/start ${code}`, box, (text) => { this.status.textContent = text; }));
      const check = h("button", { type: "button", id: "tg-check" }, "Check again");
      check.addEventListener("click", () => this.check());
      const where = bot
        ? [" to ", h("a", { href: `https://t.me/${encodeURIComponent(bot)}?start=${encodeURIComponent(code)}`, rel: "noopener noreferrer", target: "_blank", id: "tg-open" }, `@${bot}`),
          " in a private chat (the link opens it with the code filled in)"]
        : [" to this server's bot in a private chat"];
      parts.push(h("div", { class: "secret", role: "group", "aria-label": "Link code" },
        field("One-time link code", box),
        h("p", { "data-field": "instruction" }, "Send ", h("code", {}, `/start ${code}`), ...where,
          `. It works once, until ${time(expires)}.`),
        h("div", { class: "actions" }, copyIt, check),
        h("p", { class: "muted" }, "Then press “Check again” (or come back to this tab): the page shows the chat linked.")));
    }
    return h("div", {}, ...parts);
  }

  async newCode(button) {
    button.disabled = true;
    try {
      this.code = await api("POST", "/api/v1/telegram/link");
      this.message.textContent = "";
      this.status.textContent = "A new link code: send it to the bot.";
    } catch (error) {
      this.message.textContent = `Could not make a link code: ${error.message}`;
    }
    this.renderTelegram();
    document.getElementById("tg-code")?.focus();
  }

  async check() {
    try {
      await this.loadTelegram();
      this.status.textContent = this.telegram.linked ? "The chat is linked." : "Not linked yet.";
      if (this.telegram.linked) document.getElementById("tg-unlink")?.focus();
    } catch (error) {
      this.message.textContent = `Could not check: ${error.message}`;
    }
  }

  async unlink(button) {
    button.disabled = true;
    try {
      await api("DELETE", "/api/v1/telegram/link");
      this.status.textContent = "The chat is unlinked: nothing more is sent there.";
      this.message.textContent = "";
    } catch (error) {
      this.message.textContent = `Could not unlink: ${error.message}`;
    }
    await this.loadTelegram().catch(() => {});
    document.getElementById("tg-get-code")?.focus();
  }

  notices(t) {
    const boxes = Object.entries(t.notifications).map(([name, on]) => {
      const box = h("input", { type: "checkbox", id: `tg-notice-${name}`, name, checked: on || undefined });
      box.addEventListener("change", () => this.setNotice(name, box));
      return h("div", { class: "check" }, box,
        h("label", { for: box.id }, noticeLabel(name), NOTICE_TEXT[name] ? h("span", { class: "muted" }, ` — ${NOTICE_TEXT[name]}`) : null));
    });
    return h("fieldset", { class: "notices" }, h("legend", {}, "Notifications sent to the chat"), ...boxes);
  }

  async setNotice(name, box) {
    const on = box.checked;
    box.disabled = true;
    try {
      this.telegram = await api("PATCH", "/api/v1/telegram/notifications", { [name]: on });
      this.status.textContent = `${noticeLabel(name)}: ${on ? "on" : "off"}.`;
      this.message.textContent = "";
    } catch (error) {
      box.checked = !on;
      this.message.textContent = `Could not change ${noticeLabel(name)}: ${error.message}`;
    }
    this.renderTelegram();
    document.getElementById(box.id)?.focus();
  }

  summary(t) {
    const s = t.daily_summary;
    const line = h("p", { class: "error", role: "alert" });
    const zone = h("input", { id: "tg-zone", name: "time_zone", required: true, maxlength: 64, autocomplete: "off",
      spellcheck: "false", list: "tg-zones", value: s ? s.time_zone : browserZone() });
    const form = h("form", { class: "filters", "aria-label": "Daily summary", novalidate: true },
      field("Hour", h("select", { id: "tg-hour", name: "hour" },
        HOURS.map((n) => h("option", { value: n, selected: n === (s ? s.hour : 18) }, `${String(n).padStart(2, "0")}:00`)))),
      field("Time zone", zone),
      h("datalist", { id: "tg-zones" }, zones().map((z) => h("option", { value: z }))),
      h("button", { type: "submit", id: "tg-summary-save" }, s ? "Change the summary" : "Send a daily summary"),
      s ? h("button", { type: "button", class: "ghost", id: "tg-summary-remove", onclick: () => this.removeSummary() }, "Stop the summary") : null,
      line);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      line.textContent = "";
      try {
        this.telegram = await api("PUT", "/api/v1/telegram/summary",
          { hour: Number(form.elements.hour.value), time_zone: form.elements.time_zone.value.trim() });
        this.status.textContent = "Daily summary saved.";
        this.renderTelegram();
      } catch (error) {
        showRefusal(form, error, { hour: "tg-hour", time_zone: "tg-zone" }, line, "tg-zone");
      }
    });
    return h("div", {},
      h("h3", {}, "Daily summary"),
      h("p", { "data-field": "summary" }, s
        ? `Sent once a day from ${String(s.hour).padStart(2, "0")}:00 ${s.time_zone}${s.last_sent_on ? ` (last: ${s.last_sent_on})` : ""}.`
        : "None: choose an hour and a time zone to get one (closed positions of the last 24 hours and what is open)."),
      form);
  }

  async removeSummary() {
    try {
      await api("DELETE", "/api/v1/telegram/summary");
      this.status.textContent = "No daily summary any more.";
      this.message.textContent = "";
    } catch (error) {
      this.message.textContent = `Could not stop the summary: ${error.message}`;
    }
    await this.loadTelegram().catch(() => {});
    document.getElementById("tg-summary-save")?.focus();
  }

  // -- Outgoing webhooks ---------------------------------------------------------------------------

  renderHooks() {
    if (!this.hooks) return;
    this.redraw(this.wh, () => [
      h("h2", { id: "wh-title" }, "Outgoing webhooks"),
      h("p", { class: "muted" }, "The Telegram notifications, posted to your Discord or Slack channel or your own server; each request is signed with the webhook's secret (X-Tradewire-Signature)."),
      this.secretBox(),
      this.hooks.length ? h("table", { class: "positions hooks" },
        h("thead", {}, h("tr", {}, ["URL", "Kind", "State", "Notifications", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, this.hooks.map((hook) => this.row(hook))))
        : h("p", { class: "empty" }, "No webhooks yet."),
      this.editing?.form,
      this.createForm(),
    ]);
  }

  secretBox() {
    if (!this.secret) return null;
    const { secret, url } = this.secret;
    const box = h("input", { id: "wh-secret", class: "url", readonly: true, value: secret, spellcheck: "false" });
    const copyIt = h("button", { type: "button", class: "ghost", id: "wh-copy-secret" }, "Copy the secret");
    copyIt.addEventListener("click", () => copy(secret, box, (text) => { this.status.textContent = text; }));
    const hide = h("button", { type: "button", class: "ghost", id: "wh-hide-secret" }, "Done, hide it");
    hide.addEventListener("click", () => { this.secret = null; this.renderHooks(); document.getElementById("wh-url")?.focus(); });
    return h("div", { class: "secret", role: "group", "aria-label": "Signing secret" },
      field(`Signing secret of ${url}`, box),
      h("p", { class: "warn", "data-field": "secret-warning" }, "Shown this once: it will not be shown again. Keep it where your receiver checks signatures."),
      h("div", { class: "actions" }, copyIt, hide));
  }

  row(hook) {
    const off = Object.entries(hook.notices).filter(([, on]) => !on).map(([name]) => noticeLabel(name));
    const toggle = h("button", { type: "button", class: "ghost", id: `wh-${hook.id}-toggle` }, hook.enabled ? "Disable" : "Enable");
    toggle.addEventListener("click", () => this.toggle(hook, toggle));
    const open = this.editing?.hook.id === hook.id;
    const edit = h("button", { type: "button", class: "ghost", id: `wh-${hook.id}-edit`, "aria-expanded": String(open),
      "aria-controls": open ? "wh-edit" : null, "aria-label": `Edit ${hook.url}` }, "Edit");
    edit.addEventListener("click", () => (open ? this.stopEditing() : this.startEditing(hook)));
    const test = h("button", { type: "button", class: "ghost", id: `wh-${hook.id}-test` }, "Send a test");
    test.addEventListener("click", () => this.trial(hook, test));
    const trial = this.trials.get(hook.id);
    return h("tr", { "data-hook": hook.id },
      h("td", { "data-label": "URL", class: "wrap" }, hook.url),
      h("td", { "data-label": "Kind" }, hook.kind),
      h("td", { "data-label": "State", "data-field": "state" },
        h("span", { class: `chip ${hook.enabled ? "done" : "canceled"}` }, hook.enabled ? "enabled" : "disabled")),
      h("td", { "data-label": "Notifications" }, off.length ? `all but ${off.join(", ")}` : "all"),
      h("td", { "data-label": "Actions" },
        h("div", { class: "actions" }, edit, toggle, test, ...this.deletion(hook)),
        trial ? h("p", { "data-field": "outcome", class: trial.delivered ? "up" : "down", role: "status" }, trial.text) : null));
  }

  deletion(hook) {
    if (!this.deleting.has(hook.id)) {
      const remove = h("button", { type: "button", class: "danger", id: `wh-${hook.id}-delete` }, "Delete");
      remove.addEventListener("click", () => { this.deleting.add(hook.id); this.renderHooks(); document.getElementById(`wh-${hook.id}-confirm`)?.focus(); });
      return [remove];
    }
    const yes = h("button", { type: "button", class: "danger", id: `wh-${hook.id}-confirm` }, "Delete it: nothing more is sent there");
    const no = h("button", { type: "button", class: "ghost", id: `wh-${hook.id}-keep` }, "Keep it");
    no.addEventListener("click", () => { this.deleting.delete(hook.id); this.renderHooks(); document.getElementById(`wh-${hook.id}-delete`)?.focus(); });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await api("DELETE", `/api/v1/webhooks/outgoing/${hook.id}`);
        this.status.textContent = `Webhook ${hook.url} deleted.`;
        this.message.textContent = "";
        this.trials.delete(hook.id);
        if (this.editing?.hook.id === hook.id) this.editing = null;
      } catch (error) {
        this.message.textContent = `Could not delete the webhook: ${error.message}`;
      }
      this.deleting.delete(hook.id);
      await this.loadHooks().catch(() => {});
      document.getElementById("wh-url")?.focus();
    });
    return [yes, no];
  }

  async toggle(hook, button) {
    button.disabled = true;
    try {
      const changed = await api("PATCH", `/api/v1/webhooks/outgoing/${hook.id}`, { enabled: !hook.enabled });
      this.hooks = this.hooks.map((x) => (x.id === hook.id ? changed : x));
      if (this.editing?.hook.id === hook.id) this.editing.hook = changed;
      this.status.textContent = `Webhook ${hook.url} ${changed.enabled ? "enabled" : "disabled"}.`;
      this.message.textContent = "";
    } catch (error) {
      this.message.textContent = `Could not change the webhook: ${error.message}`;
    }
    this.renderHooks();
    document.getElementById(button.id)?.focus(); // disabled while asking, it had lost the focus
  }

  async trial(hook, button) {
    button.disabled = true;
    button.textContent = "Sending…";
    try {
      const r = await api("POST", `/api/v1/webhooks/outgoing/${hook.id}/test`);
      const answer = r.status_code === null ? "no answer" : `HTTP ${r.status_code}`;
      this.trials.set(hook.id, { delivered: r.delivered, text: `${r.delivered ? "Delivered" : "Not delivered"} (${answer})${r.detail && r.detail !== "delivered" ? `: ${r.detail}` : ""}` });
    } catch (error) {
      this.trials.set(hook.id, { delivered: false, text: `Could not send a test: ${error.message}` });
    }
    this.renderHooks();
    document.getElementById(button.id)?.focus();
  }

  startEditing(hook) {
    this.editing = { hook, form: this.editForm(hook) };
    this.renderHooks();
    document.getElementById("wh-edit-url")?.focus();
  }

  stopEditing(say = "") {
    const id = this.editing?.hook.id;
    this.editing = null;
    if (say) this.status.textContent = say;
    this.renderHooks();
    document.getElementById(`wh-${id}-edit`)?.focus();
  }

  /** The form that changes a webhook's address, kind and notifications: only what changed is sent;
   * the API's 422 is shown next to the field it names (a refused address next to the URL). */
  editForm(hook) {
    const line = h("p", { class: "error", role: "alert" });
    const boxes = Object.entries(hook.notices).map(([name, on]) => {
      const box = h("input", { type: "checkbox", id: `wh-edit-notice-${name}`, name, checked: on || undefined });
      return h("div", { class: "check" }, box,
        h("label", { for: box.id }, noticeLabel(name), NOTICE_TEXT[name] ? h("span", { class: "muted" }, ` — ${NOTICE_TEXT[name]}`) : null));
    });
    const save = h("button", { type: "submit", id: "wh-edit-save" }, "Save changes");
    const cancel = h("button", { type: "button", class: "ghost", id: "wh-edit-cancel" }, "Cancel");
    const form = h("form", { id: "wh-edit", class: "edit-hook", "aria-labelledby": "wh-edit-title", novalidate: true },
      h("h3", { id: "wh-edit-title" }, `Edit webhook ${hook.url}`),
      h("div", { class: "filters" },
        field("URL", h("input", { id: "wh-edit-url", name: "url", type: "url", class: "url", required: true, maxlength: 2048,
          autocomplete: "off", spellcheck: "false", value: hook.url })),
        field("Kind", h("select", { id: "wh-edit-kind", name: "kind" },
          KINDS.map(([v, label]) => h("option", { value: v, selected: v === hook.kind }, label))))),
      h("fieldset", { class: "notices", id: "wh-edit-notices" }, h("legend", {}, "Notifications sent to this webhook"), ...boxes),
      h("div", { class: "actions" }, save, cancel),
      line);
    cancel.addEventListener("click", () => this.stopEditing());
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.preventDefault(); this.stopEditing(); }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      line.textContent = "";
      const current = this.editing?.hook || hook;
      const body = {};
      const url = form.elements.url.value.trim();
      if (url !== current.url) body.url = url;
      if (form.elements.kind.value !== current.kind) body.kind = form.elements.kind.value;
      const notices = {};
      for (const box of form.querySelectorAll("fieldset.notices input[type=checkbox]")) {
        if (box.checked !== Boolean(current.notices[box.name])) notices[box.name] = box.checked;
      }
      if (Object.keys(notices).length) body.notices = notices;
      if (!Object.keys(body).length) {
        this.stopEditing("Nothing changed.");
        return;
      }
      save.disabled = true;
      try {
        const changed = await api("PATCH", `/api/v1/webhooks/outgoing/${current.id}`, body);
        this.hooks = this.hooks.map((x) => (x.id === changed.id ? changed : x));
        this.message.textContent = "";
        clearFieldErrors(form);
        this.stopEditing(`Webhook ${changed.url} changed.`);
      } catch (error) {
        save.disabled = false;
        const fields = { url: "wh-edit-url", kind: "wh-edit-kind", notices: "wh-edit-notices" };
        for (const name of Object.keys(current.notices)) fields[`notices.${name}`] = `wh-edit-notice-${name}`;
        showRefusal(form, error, fields, line, "wh-edit-url");
      }
    });
    return form;
  }

  createForm() {
    const line = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "filters", "aria-label": "New webhook", novalidate: true },
      field("Webhook URL", h("input", { id: "wh-url", name: "url", type: "url", class: "url", required: true, maxlength: 2048,
        autocomplete: "off", spellcheck: "false", placeholder: "https://discord.com/api/webhooks/…" })),
      field("Kind", h("select", { id: "wh-kind", name: "kind" }, KINDS.map(([v, label]) => h("option", { value: v }, label)))),
      h("button", { type: "submit", id: "wh-add" }, "Add webhook"),
      line);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      line.textContent = "";
      const button = form.querySelector("#wh-add");
      button.disabled = true;
      try {
        const made = await api("POST", "/api/v1/webhooks/outgoing", { url: form.elements.url.value.trim(), kind: form.elements.kind.value });
        const { secret, ...hook } = made;
        this.secret = { secret, url: hook.url };
        this.hooks = [...this.hooks, hook];
        this.status.textContent = `Webhook ${hook.url} added.`;
        this.message.textContent = "";
        this.renderHooks();
        document.getElementById("wh-secret")?.focus();
      } catch (error) {
        button.disabled = false;
        // 403 (no encryption key) and 409 (too many) are about the form; a refused address, the URL.
        showRefusal(form, error, { url: "wh-url", kind: "wh-kind" }, line, "wh-url");
      }
    });
    return h("div", {}, h("h3", {}, "Add a webhook"), form);
  }
}
