// Bots: your personal strategies the server runs. Each with its strategy, its rules (temperature floor,
// confirmation period, cooldown and whether the cooldown holds a pair now), confirm before trade, its
// subscription's status and trading state, and its recent signals; start, stop, retune live (PATCH)
// and create one. Kept current by the live channel (`bots`, `signals`), never polled.
import { api } from "./api.js";
import { clear, field, h } from "./dom.js";
import { clearFieldErrors, showFieldErrors } from "./forms.js";
import { amount, time } from "./format.js";
import { data, loadBots, loadMembership } from "./store.js";

const BUILTINS = [
  ["ema_cross", "EMA cross"],
  ["rsi_mean_reversion", "RSI mean reversion"],
  ["macd", "MACD momentum"],
  ["bollinger_breakout", "Bollinger breakout"],
];
const TIMEFRAMES = ["1m", "5m", "15m", "1h", "4h", "1d"];
const RECENT = 5; // signals shown per bot

/** The definition and bot-rule fields of a create or edit form (ids from `id`), set to `d`. */
function definitionFields(id, d = {}) {
  const rules = d.bot || {};
  const timeframes = TIMEFRAMES.includes(d.timeframe || "5m") ? TIMEFRAMES : [d.timeframe, ...TIMEFRAMES];
  return [
    field("Strategy", h("select", { id: id("builtin"), name: "builtin" },
      BUILTINS.map(([v, label]) => h("option", { value: v, selected: v === d.builtin }, label)),
      d.builtin && !BUILTINS.some(([v]) => v === d.builtin) ? h("option", { value: d.builtin, selected: true }, d.builtin) : null)),
    field("Pairs", h("input", { id: id("symbols"), name: "symbols", required: true, maxlength: 1700, autocomplete: "off",
      placeholder: "BTC/USDT, ETH/USDT", value: (d.symbols || ["BTC/USDT"]).join(", ") })),
    field("Timeframe", h("select", { id: id("timeframe"), name: "timeframe" },
      timeframes.map((t) => h("option", { value: t, selected: t === (d.timeframe || "5m") }, t)))),
    field("Parameters (JSON)", h("input", { id: id("params"), name: "params", maxlength: 2000, autocomplete: "off",
      spellcheck: "false", value: JSON.stringify(d.params || {}) })),
    field("Minimum temperature (0–100)", h("input", { id: id("temperature"), name: "temperature", type: "number", step: 1,
      value: rules.min_temperature ?? 50 })),
    field("Confirmation period (minutes)", h("input", { id: id("confirm-minutes"), name: "confirm_minutes", type: "number", step: 1,
      value: rules.confirmation_minutes ?? 5 })),
    field("Cooldown (minutes)", h("input", { id: id("cooldown"), name: "cooldown", type: "number", step: 1,
      value: rules.cooldown_minutes ?? 15 })),
  ];
}

/** Where the API's complaints about a definition go, for a form whose ids come from `id`. */
function definitionErrorFields(id, prefix = "definition") {
  return {
    [prefix]: id("params"),
    [`${prefix}.builtin`]: id("builtin"),
    [`${prefix}.params`]: id("params"),
    [`${prefix}.symbols`]: id("symbols"),
    [`${prefix}.timeframe`]: id("timeframe"),
    [`${prefix}.bot.min_temperature`]: id("temperature"),
    [`${prefix}.bot.confirmation_minutes`]: id("confirm-minutes"),
    [`${prefix}.bot.cooldown_minutes`]: id("cooldown"),
  };
}

/** A number field as typed: the API judges it (an empty or odd value goes as text, to be refused). */
const numberOf = (text) => (text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text);

/** The definition a form describes; a parameter text that is not JSON throws, naming the field. */
function definitionOf(form, base = {}) {
  let params;
  try {
    params = JSON.parse(form.elements.params.value || "{}");
  } catch {
    throw new Error("Parameters must be JSON, e.g. {\"fast\": 12, \"slow\": 26}");
  }
  return {
    ...base,
    builtin: form.elements.builtin.value,
    params,
    timeframe: form.elements.timeframe.value,
    symbols: form.elements.symbols.value.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean),
    bot: {
      min_temperature: numberOf(form.elements.temperature.value),
      confirmation_minutes: numberOf(form.elements.confirm_minutes.value),
      cooldown_minutes: numberOf(form.elements.cooldown.value),
    },
  };
}

/** The bot's last signal per pair, newest first: what its cooldown counts from. */
function signalsOf(botId) {
  return [...data.signals.values()].filter((s) => s.strategy_id === botId)
    .sort((a, b) => (b.signal_id ?? b.id) - (a.signal_id ?? a.id));
}

/** Which pairs the cooldown holds now, and until when; `ends` gets each hold's end (ms). */
function cooldownState(bot, signals, ends, now = Date.now()) {
  const minutes = bot.definition?.bot?.cooldown_minutes ?? 15;
  const seen = new Set();
  const held = [];
  for (const s of signals) {
    if (seen.has(s.symbol)) continue;
    seen.add(s.symbol);
    const until = new Date(s.received_at).getTime() + minutes * 60_000;
    if (until > now) {
      held.push(`${s.symbol} until ${time(new Date(until).toISOString())}`);
      ends.push(until);
    }
  }
  return held.length ? `cooling down: ${held.join(", ")}` : "ready";
}

const temperatureOf = (s) => s.details?.temperature ?? s.temperature;

export class BotsPage {
  title = "Bots";

  mount(root) {
    this.editing = new Map(); // bot id -> its open edit form (the same element across live re-renders)
    this.message = h("p", { class: "error", role: "alert" });
    this.status = h("p", { class: "muted", role: "status" });
    this.list = h("section", { "aria-label": "Your bots" }, h("p", { class: "empty" }, "Loading bots…"));
    this.creator = h("section", { class: "panel", "aria-labelledby": "bot-new-title" });
    root.append(h("h1", {}, "Bots"), this.message, this.status, this.list, this.creator);
    this.renderCreator();
    loadBots().catch((error) => { this.message.textContent = `Could not load your bots: ${error.message}`; });
    this.update();
  }

  unmount() { clearTimeout(this.cooled); }

  update() {
    if (this.accountsShown !== data.accounts.size) this.showAccounts();
    if (data.bots === null) return;
    // A form being typed in is not rebuilt: only the rest of the list is.
    const typing = this.list.contains(document.activeElement) && document.activeElement.closest("form");
    if (typing) return;
    this.renderList();
  }

  renderList() {
    // The focused control keeps the focus across the re-render (keyboard users lose no place).
    const focused = this.list.contains(document.activeElement) ? document.activeElement : null;
    const bot = focused?.closest("[data-bot]")?.dataset.bot;
    const which = focused?.dataset.action ? "[data-action]" : focused?.getAttribute("aria-controls")
      ? `[aria-controls="${focused.getAttribute("aria-controls")}"]` : null;
    clear(this.list);
    const bots = [...data.bots.values()].sort((a, b) => a.id - b.id);
    if (!bots.length) this.list.append(h("p", { class: "empty" }, "No bots yet: create one below."));
    this.ends = [];
    for (const b of bots) this.list.append(this.botPanel(b));
    // A cooldown ending changes what the page says, with no event: show it then (a local timer only).
    clearTimeout(this.cooled);
    if (this.ends.length) this.cooled = setTimeout(() => this.update(), Math.min(...this.ends) - Date.now() + 500);
    if (bot && which) this.list.querySelector(`[data-bot="${bot}"] ${which}`)?.focus();
  }

  botPanel(bot) {
    const d = bot.definition || {};
    const rules = d.bot || {};
    const sub = data.subscriptions.get(bot.subscription_id) || {};
    const running = bot.running;
    const signals = signalsOf(bot.id);
    const last = signals.find((s) => temperatureOf(s) !== undefined);
    const confirm = !sub.confirmation || sub.confirmation === "none" ? "no"
      : `on ${sub.confirmation}, ${sub.confirmation_timeout_s} s, drift ${amount(sub.max_confirm_drift_pct)} %`;
    const toggle = h("button", { type: "button", class: running ? "danger" : "", "data-action": running ? "stop" : "start" },
      running ? `Stop ${bot.name}` : `Start ${bot.name}`);
    toggle.addEventListener("click", () => this.run(bot, !running, toggle));
    const edit = h("button", { type: "button", class: "ghost", "aria-expanded": String(this.editing.has(bot.id)),
      "aria-controls": `bot-edit-${bot.id}` }, "Edit configuration");
    edit.addEventListener("click", () => {
      if (this.editing.has(bot.id)) this.editing.delete(bot.id); else this.editing.set(bot.id, this.editForm(bot));
      this.renderList();
      if (this.editing.has(bot.id)) document.getElementById(`bot-${bot.id}-builtin`)?.focus();
    });
    return h("article", { class: "panel", "data-bot": bot.id, "aria-labelledby": `bot-${bot.id}-title` },
      h("h2", { id: `bot-${bot.id}-title` }, bot.name, " ",
        h("span", { class: `chip ${running ? "filled" : "canceled"}`, "data-field": "state" }, running ? "running" : "stopped")),
      h("dl", { class: "terms" },
        term("Strategy", `${d.builtin} · ${d.timeframe} · ${(d.symbols || []).join(", ")}`, "strategy", true),
        term("Parameters", Object.keys(d.params || {}).length ? JSON.stringify(d.params) : "defaults", "params", true),
        term("Temperature", `needs ${rules.min_temperature ?? 50}${last ? `, last ${temperatureOf(last)}` : ""}`, "temperature"),
        term("Confirmation period", `${rules.confirmation_minutes ?? 5} min`, "confirmation-minutes"),
        term("Cooldown", `${rules.cooldown_minutes ?? 15} min, ${cooldownState(bot, signals, this.ends)}`, "cooldown"),
        term("Confirm before trade", confirm, "confirm"),
        term("Subscription", String(bot.status || sub.status || "").toLowerCase(), "status"),
        term("Trading state", `${String(sub.trading_state || "ACTIVE").toLowerCase()}${sub.state_reason ? `: ${sub.state_reason}` : ""}`, "trading"),
        term("Account", `${sub.account_name || `#${bot.account_id}`} (${bot.mode})`, "account")),
      h("div", { class: "actions" }, toggle, edit),
      this.editing.get(bot.id) || null,
      h("h3", {}, "Recent signals"),
      signals.length ? h("table", { class: "positions" },
        h("thead", {}, h("tr", {}, ["Time", "Pair", "Action", "Temperature", "Status"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, signals.slice(0, RECENT).map((s) => h("tr", {},
          h("td", { "data-label": "Time" }, time(s.received_at)), h("td", { "data-label": "Pair" }, s.symbol),
          h("td", { "data-label": "Action" }, s.action), h("td", { "data-label": "Temperature" }, temperatureOf(s) ?? "—"),
          h("td", { "data-label": "Status" }, h("span", { class: `chip ${s.status || ""}` }, s.status || "received"))))))
        : h("p", { class: "empty" }, "No signals yet."));
  }

  editForm(bot) {
    const id = (name) => `bot-${bot.id}-${name}`;
    const line = h("p", { class: "error", role: "alert" });
    const form = h("form", { id: `bot-edit-${bot.id}`, class: "filters", "aria-label": `Configuration of ${bot.name}`, novalidate: true },
      ...definitionFields(id, bot.definition), h("button", { type: "submit" }, "Save configuration"), line);
    whenSubmitted(form, line, id, definitionErrorFields(id), async () => {
      // What the form does not show is kept as it is now (a stop heard since it opened included).
      const now = (data.bots.get(bot.id) || bot).definition || {};
      const definition = definitionOf(form, { candles_from: now.candles_from, confirmation: now.confirmation,
        enabled: now.enabled ?? true });
      const saved = await api("PATCH", `/api/v1/bots/${bot.id}`, { definition });
      data.bots.set(saved.id, saved);
      this.editing.delete(bot.id);
      this.status.textContent = `${bot.name}: configuration saved; it applies on the next round.`;
      document.activeElement?.blur();
      this.renderList();
    });
    return form;
  }

  async run(bot, start, button) {
    button.disabled = true;
    try {
      const saved = await api("POST", `/api/v1/bots/${bot.id}/${start ? "start" : "stop"}`);
      data.bots.set(saved.id, saved);
      this.message.textContent = "";
      this.status.textContent = `${bot.name} ${start ? "started" : "stopped"}.`;
      loadMembership().catch(() => {}); // its subscription's status
      this.renderList();
      // The button was disabled while asking (so it lost the focus): its successor takes it.
      this.list.querySelector(`[data-bot="${bot.id}"] [data-action]`)?.focus();
    } catch (error) {
      this.message.textContent = `Could not ${start ? "start" : "stop"} ${bot.name}: ${error.message}`;
      button.disabled = false;
    }
  }

  /** The account choices, as the accounts loaded since the page opened: only the list of options
   * changes (what is typed in the form, and the choice if its account is still there, stay). */
  showAccounts() {
    this.accountsShown = data.accounts.size;
    const select = this.accountSelect;
    const chosen = select.value;
    clear(select);
    select.append(h("option", { value: "" }, "My paper account"),
      ...[...data.accounts.values()].map((a) => h("option", { value: a.id }, `${a.name} (${a.mode})`)));
    select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "";
  }

  renderCreator() {
    clear(this.creator);
    const id = (name) => `bot-new-${name}`;
    const line = h("p", { class: "error", role: "alert" });
    this.accountSelect = h("select", { id: id("account"), name: "account" });
    this.showAccounts();
    const form = h("form", { class: "filters", "aria-label": "New bot", novalidate: true },
      field("Name", h("input", { id: id("name"), name: "name", required: true, maxlength: 200, autocomplete: "off" })),
      ...definitionFields(id),
      field("Account", this.accountSelect),
      field("Amount per entry (quote)", h("input", { id: id("size"), name: "size", inputmode: "decimal", value: "100", maxlength: 40, autocomplete: "off" })),
      h("button", { type: "submit" }, "Create bot"), line);
    const fields = { name: id("name"), account_id: id("account"), sizing_value: id("size"), ...definitionErrorFields(id) };
    whenSubmitted(form, line, id, fields, async () => {
      const body = { name: form.elements.name.value, definition: definitionOf(form), sizing_mode: "fixed_quote",
        sizing_value: form.elements.size.value.trim() };
      if (form.elements.account.value) body.account_id = Number(form.elements.account.value);
      const bot = await api("POST", "/api/v1/bots", body);
      data.bots.set(bot.id, bot);
      this.status.textContent = `Bot ${bot.name} created.`;
      form.reset();
      loadMembership().catch(() => {});
      this.renderList();
    });
    this.creator.append(h("h2", { id: "bot-new-title" }, "New bot"),
      h("p", { class: "muted" }, "A built-in strategy the server runs for you alone; it trades your paper account unless you choose another."),
      form);
  }
}

function term(label, value, name, wide = false) {
  return h("div", { class: wide ? "wide" : null }, h("dt", {}, label), h("dd", { "data-field": name }, value));
}

/** On submit, `save` with the form's button disabled meanwhile; a refusal shows on the control it
 * names (`fields`: an API field path to a control's id), or in `line`. */
function whenSubmitted(form, line, id, fields, save) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    clearFieldErrors(form);
    line.textContent = "";
    try {
      await save();
    } catch (error) {
      if (!error.errors && error.message.startsWith("Parameters")) markField(form, id("params"), error.message);
      else showFieldErrors(form, error, fields, line);
    } finally {
      button.disabled = false;
    }
  });
}

/** One message next to one control (a check made here, before the API is asked). */
function markField(form, id, message) {
  showFieldErrors(form, { errors: [{ loc: ["x"], msg: message }], message }, { x: id }, document.createElement("p"));
}
