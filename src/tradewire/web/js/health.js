// Health: the database and the bus, the exit monitor's lag, the live channel's clients, each exchange
// account's circuit breaker, last latency and rate-limit headroom, and (admins) the last errors.
// Loaded when the page opens and on Refresh (GET /api/v1/health/details); nothing is polled.
import { api } from "./api.js";
import { clear, h } from "./dom.js";
import { time } from "./format.js";

const CIRCUIT = { closed: "closed (calls go out)", open: "open (no calls)", half_open: "half open (one trial call)" };

function card(label, value, cls = "") {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: `value ${cls}` }, value));
}

const ms = (value) => (value === null || value === undefined ? "—" : `${Math.round(value)} ms`);

/** One account's exchange health in a line (the Accounts page shows it too). */
export function exchangeLine(a) {
  if (!a.health) return a.note;
  const x = a.health;
  const parts = [`circuit ${CIRCUIT[x.circuit] || x.circuit}`, `last call ${ms(x.last_latency_ms)}`,
    `rate limit headroom ${Math.round(x.headroom_pct)} %`];
  if (x.circuit !== "closed") parts.push(`retry in ${Math.ceil(x.retry_in_s)} s`);
  if (x.blocked_s > 0) parts.push(`held back ${Math.ceil(x.blocked_s)} s by the exchange`);
  if (x.last_error) parts.push(`last failure: ${x.last_error} ${time(x.last_error_at)}`);
  return parts.join(" · ");
}

export const loadHealth = () => api("GET", "/api/v1/health/details");

export class HealthPage {
  title = "Health";

  mount(root) {
    this.body = h("div", { "aria-live": "polite" });
    this.message = h("p", { class: "error", role: "alert" });
    this.stamp = h("span", { class: "muted" });
    this.button = h("button", { type: "button", class: "ghost", onclick: () => this.load() }, "Refresh");
    root.append(h("h1", {}, "Health"), h("div", { class: "filters" }, this.button, this.stamp), this.message, this.body);
    this.load();
  }

  unmount() {}

  update() {}

  async load() {
    this.button.disabled = true;
    try {
      this.render(await loadHealth());
      this.message.textContent = "";
    } catch (error) {
      this.message.textContent = `Could not load the health details: ${error.message}`;
    } finally {
      this.button.disabled = false;
    }
  }

  render(d) {
    this.stamp.textContent = `as of ${time(d.as_of)}`;
    const check = (name) => d.checks[name]
      ? (d.checks[name].ok ? `ok (${ms(d.checks[name].ms)})` : `failing: ${d.checks[name].error || "no answer"}`)
      : "—";
    const bad = (name) => (d.checks[name] && !d.checks[name].ok ? "down" : "up");
    const lag = d.monitor_lag_s === null ? "not run yet" : `${d.monitor_lag_s.toFixed(1)} s`;
    clear(this.body).append(...[
      h("section", { "aria-label": "Platform" }, h("div", { class: "cards" },
        card("Database", check("database"), bad("database")),
        card("Bus", check("bus"), bad("bus")),
        card("Exit monitor lag", lag, d.monitor_lag_s !== null && d.monitor_lag_s > 30 ? "down" : ""),
        card("WebSocket clients", String(d.ws_clients)))),
      this.exchanges(d.accounts),
      d.errors ? this.errors(d.errors) : null,
    ].filter(Boolean));
  }

  exchanges(accounts) {
    const panel = h("section", { class: "panel", "aria-labelledby": "exchanges-title" }, h("h2", { id: "exchanges-title" }, "Exchanges"));
    if (!accounts.length) return panel.append(h("p", { class: "empty" }, "No accounts.")), panel;
    const head = ["Account", "Exchange", "Circuit breaker", "Last latency", "Rate-limit headroom", "Last failure"];
    panel.append(h("table", { class: "health" },
      h("thead", {}, h("tr", {}, head.map((t, i) => h("th", { scope: "col", class: i === 3 || i === 4 ? "num" : "" }, t)))),
      h("tbody", {}, accounts.map((a) => {
        const x = a.health;
        const cell = (label, value, cls = "") => h("td", { "data-label": label, class: cls }, value);
        return h("tr", { "data-account": a.account_id },
          cell("Account", a.name ?? `#${a.account_id}`),
          cell("Exchange", `${a.exchange} (${a.mode})`),
          x ? cell("Circuit breaker", CIRCUIT[x.circuit] || x.circuit, x.circuit === "closed" ? "up" : "down")
            : h("td", { "data-label": "Circuit breaker", colspan: 4, class: "muted" }, a.note),
          x ? cell("Last latency", ms(x.last_latency_ms), "num") : null,
          x ? cell("Rate-limit headroom", `${Math.round(x.headroom_pct)} % of ${x.rate_per_s}/s${x.blocked_s > 0 ? `, held ${Math.ceil(x.blocked_s)} s` : ""}`, "num") : null,
          x ? cell("Last failure", x.last_error ? `${x.last_error} ${time(x.last_error_at)}` : "none") : null);
      }))));
    return panel;
  }

  errors(list) {
    const panel = h("section", { class: "panel", "aria-labelledby": "errors-title" }, h("h2", { id: "errors-title" }, "Last errors"));
    if (!list.length) return panel.append(h("p", { class: "empty" }, "No warnings or errors since the server started.")), panel;
    panel.append(h("ul", { class: "feed", "aria-label": "Last errors, newest first" }, list.map((e) =>
      h("li", {}, h("span", { class: "time" }, time(e.at)), h("span", { class: `kind ${e.level === "WARNING" ? "" : "down"}` }, e.level),
        h("span", {}, h("span", { class: "muted" }, `${e.logger}: `), e.message)))));
    return panel;
  }
}
