// Provider: the strategies you publish. Each with its webhook URL (and a Copy button), passphrase
// rotation (the new one shown once), subscriber counts, its recent signals and how many subscriptions
// each reached, per-pair performance and the blacklist overrides. Signals and counts arrive on the
// live channel (`signals`, `provider`); nothing is polled. Never a subscriber's account or orders.
import { api } from "./api.js";
import { clear, copy, field, h } from "./dom.js";
import { clearFieldErrors, showFieldErrors } from "./forms.js";
import { amount, time } from "./format.js";
import { data } from "./store.js";

const RECENT = 10; // signals shown per strategy
const STATUSES = [["NORMAL", "Automatic (normal)"], ["BLACKLISTED", "Blacklisted"], ["WHITELISTED", "Whitelisted (30 days)"]];

const webhookUrl = (slug) => `${location.origin}/api/v1/webhooks/tradingview/${encodeURIComponent(slug)}`;

export class ProviderPage {
  title = "Provider";

  mount(root) {
    this.pairs = new Map(); // strategy id -> its per-pair records
    this.shown = new Map(); // strategy id -> the passphrase just rotated (this page's memory only)
    this.asking = new Set(); // strategies whose rotation waits for a second click
    this.counted = new Map(); // strategy id -> signals seen, to reload its pairs when one arrives
    this.message = h("p", { class: "error", role: "alert" });
    this.status = h("p", { class: "muted", role: "status" });
    this.list = h("section", { "aria-label": "Your strategies" }, h("p", { class: "empty" }, "Loading your strategies…"));
    root.append(h("h1", {}, "Provider"), this.message, this.status, this.list);
    this.load().catch((error) => { this.message.textContent = `Could not load your strategies: ${error.message}`; });
  }

  unmount() { this.shown.clear(); }

  async load() {
    const all = await api("GET", "/api/v1/strategies");
    this.strategies = all.filter((s) => s.is_owner && s.source !== "bot");
    await Promise.all(this.strategies.map((s) => this.loadPairs(s.id)));
    this.render();
  }

  async loadPairs(id) {
    try {
      this.pairs.set(id, await api("GET", `/api/v1/strategies/${id}/pairs`));
    } catch (error) {
      this.pairs.set(id, error);
    }
  }

  update() {
    if (!this.strategies) return;
    // A new signal may close a trade of its track record: ask for the pairs again (event-driven).
    for (const s of this.strategies) {
      const n = [...data.signals.values()].filter((x) => x.strategy_id === s.id).length;
      if (this.counted.has(s.id) && this.counted.get(s.id) !== n) this.loadPairs(s.id).then(() => this.render());
      this.counted.set(s.id, n);
    }
    if (this.list.contains(document.activeElement) && document.activeElement.closest("form")) return; // typing
    this.render();
  }

  render() {
    const focused = this.list.contains(document.activeElement) ? document.activeElement.id : null;
    clear(this.list);
    if (!this.strategies.length) {
      this.list.append(h("p", { class: "empty" }, "You publish no strategies yet (POST /api/v1/strategies)."));
    }
    for (const s of this.strategies) this.list.append(this.panel(s));
    if (focused) document.getElementById(focused)?.focus();
  }

  panel(s) {
    const live = data.provider.get(s.id);
    const active = live ? live.active : s.subscriber_count;
    const signals = [...data.signals.values()].filter((x) => x.strategy_id === s.id)
      .sort((a, b) => (b.signal_id ?? b.id) - (a.signal_id ?? a.id));
    return h("article", { class: "panel", "data-strategy": s.slug, "aria-labelledby": `prov-${s.id}-title` },
      h("h2", { id: `prov-${s.id}-title` }, s.name, " ",
        h("span", { class: "muted" }, `${s.slug} · ${s.is_public ? "public" : "private"} · `),
        h("span", { "data-field": "subscribers" }, `${active} active subscriber${active === 1 ? "" : "s"}`),
        live ? h("span", { class: "muted" }, ` (${live.subscriptions} subscriptions in all)`) : null),
      s.source === "tradingview" ? this.webhook(s) : h("p", { class: "muted" }, `Built-in strategy (${s.definition?.builtin ?? ""}): the server emits its signals.`),
      h("h3", {}, "Recent signals"),
      signals.length ? h("table", { class: "positions signals" },
        h("thead", {}, h("tr", {}, ["Time", "Pair", "Action", "Size", "Price", "Status", "Subscriptions reached"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, signals.slice(0, RECENT).map((x) => h("tr", { "data-signal": x.signal_id ?? x.id },
          h("td", { "data-label": "Time" }, time(x.received_at)), h("td", { "data-label": "Pair" }, x.symbol || x.ticker),
          h("td", { "data-label": "Action" }, x.action), h("td", { "data-label": "Size" }, amount(x.contracts)),
          h("td", { "data-label": "Price" }, amount(x.price)),
          h("td", { "data-label": "Status" }, h("span", { class: `chip ${x.status || ""}` }, x.status || "received")),
          h("td", { "data-label": "Subscriptions reached" }, x.intent_count ?? "…")))))
        : h("p", { class: "empty" }, "No signals yet."),
      h("h3", {}, "Per-pair performance and blacklist"),
      this.pairsTable(s));
  }

  webhook(s) {
    const url = webhookUrl(s.slug);
    const input = h("input", { id: `prov-${s.id}-url`, class: "url", readonly: true, value: url, spellcheck: "false" });
    const copyUrl = h("button", { type: "button", class: "ghost", id: `prov-${s.id}-copy` }, "Copy webhook URL");
    copyUrl.addEventListener("click", () => copy(url, input, (t) => { this.status.textContent = t; }));
    const parts = [field("Webhook URL", input), h("div", { class: "actions" }, copyUrl, this.rotation(s))];
    const secret = this.shown.get(s.id);
    if (secret) {
      const box = h("input", { id: `prov-${s.id}-passphrase`, class: "url", readonly: true, value: secret, spellcheck: "false" });
      const copyIt = h("button", { type: "button", class: "ghost", id: `prov-${s.id}-copy-passphrase` }, "Copy passphrase");
      copyIt.addEventListener("click", () => copy(secret, box, (t) => { this.status.textContent = t; }));
      const hide = h("button", { type: "button", class: "ghost", id: `prov-${s.id}-hide` }, "Done, hide it");
      hide.addEventListener("click", () => { this.shown.delete(s.id); this.render(); document.getElementById(`prov-${s.id}-rotate`)?.focus(); });
      parts.push(h("div", { class: "secret", role: "group", "aria-label": "New passphrase" },
        field("New passphrase (shown once: put it in your TradingView alerts now)", box), h("div", { class: "actions" }, copyIt, hide)));
    }
    return h("div", { class: "webhook" }, ...parts);
  }

  rotation(s) {
    if (!this.asking.has(s.id)) {
      const rotate = h("button", { type: "button", class: "ghost", id: `prov-${s.id}-rotate` }, "Rotate passphrase");
      rotate.addEventListener("click", () => { this.asking.add(s.id); this.render(); document.getElementById(`prov-${s.id}-confirm`)?.focus(); });
      return rotate;
    }
    const yes = h("button", { type: "button", class: "danger", id: `prov-${s.id}-confirm` }, "Rotate now: the old passphrase stops working");
    const no = h("button", { type: "button", class: "ghost", id: `prov-${s.id}-cancel` }, "Keep the current one");
    no.addEventListener("click", () => { this.asking.delete(s.id); this.render(); document.getElementById(`prov-${s.id}-rotate`)?.focus(); });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        const { passphrase } = await api("POST", `/api/v1/strategies/${s.id}/passphrase`);
        this.shown.set(s.id, passphrase);
        this.message.textContent = "";
        this.status.textContent = `${s.name}: new passphrase; the old one is refused from now on.`;
      } catch (error) {
        this.message.textContent = `Could not rotate the passphrase: ${error.message}`;
      }
      this.asking.delete(s.id);
      this.render();
      document.getElementById(`prov-${s.id}-passphrase`)?.focus();
    });
    return h("span", { class: "actions" }, yes, no);
  }

  pairsTable(s) {
    const pairs = this.pairs.get(s.id);
    if (pairs === undefined) return h("p", { class: "empty" }, "Loading…");
    if (pairs instanceof Error) return h("p", { class: "error" }, `Per-pair performance unavailable: ${pairs.message}`);
    const rows = pairs.map((p, i) => {
      const select = h("select", { id: `prov-${s.id}-pair-${i}`, "aria-label": `Override for ${p.symbol}` },
        STATUSES.map(([v, label]) => h("option", { value: v, selected: v === p.status }, label)));
      select.addEventListener("change", () => this.override(s, p.symbol, select.value, this.status));
      return h("tr", { "data-pair": p.symbol },
        h("td", { "data-label": "Pair" }, p.symbol), h("td", { "data-label": "Trades", class: "num" }, p.trades),
        h("td", { "data-label": "Win rate", class: "num" }, `${amount(p.win_rate_pct, 1)} %`),
        h("td", { "data-label": "Return", class: "num" }, `${amount(p.return_pct, 2)} %`),
        h("td", { "data-label": "Losses in a row", class: "num" }, p.consecutive_losses),
        h("td", { "data-label": "Status" }, h("span", { class: `chip ${p.status.toLowerCase()}` }, p.status.toLowerCase()),
          p.manual ? " (yours)" : "", p.status_reason ? h("div", { class: "muted" }, p.status_reason) : null,
          p.status_until ? h("div", { class: "muted" }, `until ${time(p.status_until)}`) : null),
        h("td", { "data-label": "Override" }, select));
    });
    const id = (name) => `prov-${s.id}-new-${name}`;
    const line = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "filters", "aria-label": `Override a pair of ${s.name}`, novalidate: true },
      field("Pair", h("input", { id: id("symbol"), name: "symbol", required: true, maxlength: 32, placeholder: "ETH/USDT", autocomplete: "off" })),
      field("Status", h("select", { id: id("status"), name: "status" }, STATUSES.map(([v, label]) => h("option", { value: v }, label)))),
      h("button", { type: "submit" }, "Set override"), line);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      line.textContent = "";
      const ok = await this.override(s, form.elements.symbol.value.trim().toUpperCase(), form.elements.status.value, line,
        (error) => showFieldErrors(form, error, { symbol: id("symbol"), status: id("status") }, line));
      if (ok) { document.activeElement?.blur(); this.render(); }
    });
    return h("div", {},
      rows.length ? h("table", { class: "positions pairs" },
        h("thead", {}, h("tr", {}, ["Pair", "Trades", "Win rate", "Return", "Losses in a row", "Status", "Override"].map((t, i) =>
          h("th", { scope: "col", class: i && i < 5 ? "num" : "" }, t)))),
        h("tbody", {}, rows)) : h("p", { class: "empty" }, "No closed trades yet."),
      form);
  }

  async override(s, symbol, status, line, onError) {
    try {
      await api("PUT", `/api/v1/strategies/${s.id}/pairs`, { symbol, status });
      this.status.textContent = `${s.name}: ${symbol} set ${status.toLowerCase()}.`;
      await this.loadPairs(s.id);
      this.render();
      return true;
    } catch (error) {
      if (onError) onError(error);
      else line.textContent = `Could not change ${symbol}: ${error.message}`;
      return false;
    }
  }
}
