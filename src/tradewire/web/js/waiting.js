// "Waiting for you": the entries proposed to you (confirm before trade, whichever channel asks:
// dashboard, API or Telegram), on every page, with the order, its levels, the risk rules' verdicts
// and a countdown to the deadline; Confirm and Decline answer through the API. Kept current by the
// live channel (a proposal appears at once; one answered elsewhere shows what became of it), never
// polled. Each row is rebuilt only when what it shows changed, so the focus stays where it was.
import { api } from "./api.js";
import { byId, clear, h } from "./dom.js";
import { amount, time } from "./format.js";
import { accountName, answered, data, strategyOf } from "./store.js";

const URGENT_S = 30;
const VIA = { dashboard: "the dashboard", api: "the API", telegram: "Telegram" };

/** "4:05", "1:02:03": the time left, from seconds. */
export function left(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${mm.padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

const quoteOf = (symbol) => String(symbol || "").split(":")[0].split("/")[1] || "";
const secondsTo = (iso) => (Date.parse(iso) - Date.now()) / 1000;

function order(row) {
  const p = row.proposal || {};
  return `${p.side || "buy"} ${amount(p.amount)} ${p.symbol || row.symbol || ""}`;
}

export class WaitingPanel {
  constructor(root, announcer, badge) {
    this.root = root;
    this.announcer = announcer;
    this.badge = badge;
    this.rows = new Map(); // intent id -> { el, sig }
    this.pending = new Map(); // intent id -> "confirm" | "decline": sent, no answer yet
    this.errors = new Map(); // intent id -> why the last answer could not be sent
    this.list = h("ul", { class: "proposals", "aria-label": "Entries waiting for your answer" });
    this.heading = h("h2", { id: "waiting-title", tabindex: "-1" }, "Waiting for you");
    clear(root).append(this.heading,
      h("p", { class: "muted" }, "Each entry trades only if you confirm it before its deadline (risk and price are checked again then); unanswered, nothing trades."),
      this.list);
    this.badge.addEventListener("click", this.reveal);
    this.timer = setInterval(() => this.tick(), 1000);
    this.update();
  }

  stop() {
    clearInterval(this.timer);
    this.badge.removeEventListener("click", this.reveal);
    this.badge.hidden = true;
    this.root.hidden = true;
    clear(this.root);
  }

  reveal = () => {
    this.root.scrollIntoView({ block: "start" });
    this.heading.focus();
  };

  /** How many entries still wait for an answer (not those showing their outcome). */
  get count() {
    let n = 0;
    for (const row of data.waiting.values()) if (!row.outcome) n += 1;
    return n;
  }

  update() {
    const rows = [...data.waiting.values()].sort((a, b) => (Date.parse(a.confirm_by) || 0) - (Date.parse(b.confirm_by) || 0) || a.id - b.id);
    for (const [id, shown] of this.rows) {
      if (!data.waiting.has(id)) {
        const focused = shown.el.contains(document.activeElement);
        shown.el.remove();
        if (focused) (this.list.querySelector("li.proposal") || byId("main")).focus(); // not lost to the body
        this.rows.delete(id);
        this.pending.delete(id);
        this.errors.delete(id);
      }
    }
    rows.forEach((row, index) => {
      const sig = this.signature(row);
      const shown = this.rows.get(row.id);
      if (shown?.sig === sig) return;
      const focused = shown?.el.contains(document.activeElement);
      const el = this.build(row);
      if (shown) shown.el.replaceWith(el);
      else this.list.insertBefore(el, this.list.children[index] || null);
      this.rows.set(row.id, { el, sig });
      if (focused) el.focus(); // the answered row keeps the focus its button had
      if (row.fresh) {
        row.fresh = false;
        this.say(`New entry waiting for your answer: ${order(row)}, ${left(secondsTo(row.confirm_by))} to answer.`);
      } else if (shown && row.outcome && shown.sig.split("|")[0] !== row.outcome.kind) {
        this.say(`Intent #${row.id}, ${order(row)}: ${row.outcome.text}`);
      }
    });
    const n = this.count;
    this.root.hidden = rows.length === 0;
    this.heading.textContent = n ? `Waiting for you (${n})` : "Waiting for you";
    this.badge.hidden = n === 0;
    this.badge.textContent = `${n} waiting`;
    this.badge.setAttribute("aria-label", `${n} ${n === 1 ? "entry waits" : "entries wait"} for your answer`);
    this.tick();
  }

  signature(row) {
    const o = row.outcome;
    const orderRecord = o?.order_id ? data.orders.get(o.order_id) : null;
    return [o?.kind || "", o?.text || "", this.pending.get(row.id) || "", this.errors.get(row.id) || "",
      orderRecord ? `${orderRecord.state} ${orderRecord.filled} ${orderRecord.average}` : "", accountName(this.accountOf(row))].join("|");
  }

  accountOf(row) {
    return row.account_id ?? data.subscriptions.get(row.subscription_id)?.account_id;
  }

  build(row) {
    const p = row.proposal || {};
    const quote = quoteOf(p.symbol || row.symbol);
    const money = (v) => (v === null || v === undefined ? "none" : `${amount(v)} ${quote}`.trim());
    const strategy = row.strategy_slug || strategyOf(row.subscription_id);
    const account = this.accountOf(row);
    const via = row.via || data.subscriptions.get(row.subscription_id)?.confirmation;
    const term = (label, value, cls) => h("div", { class: cls }, h("dt", {}, label), h("dd", {}, value));
    const verdicts = (Array.isArray(p.risk) ? p.risk : []).filter((v) => v && typeof v === "object");
    const passed = verdicts.filter((v) => v.passed).length;
    const el = h("li", { class: `proposal${row.outcome ? " answered" : ""}`, "data-intent": row.id, tabindex: "-1",
      "aria-labelledby": `intent-${row.id}-title` },
      h("h3", { id: `intent-${row.id}-title` },
        `${String(p.side || "buy").replace(/^./, (c) => c.toUpperCase())} ${amount(p.amount)} ${p.symbol || row.symbol || ""}`,
        h("span", { class: "muted" }, ` · intent #${row.id}`)),
      h("p", { class: "muted" }, [strategy, account ? accountName(account) : "", via && via !== "none" ? `asked on ${VIA[via] || via}` : ""].filter(Boolean).join(" · ")),
      h("dl", { class: "terms" },
        term("Order type", p.limit_price ? `${p.order_type || "limit"} at ${money(p.limit_price)}` : (p.order_type || "—")),
        term("Price", money(p.price)),
        term("Notional", `about ${money(p.notional)}`),
        term("Stop loss", money(p.stop_loss)),
        term("Take profit", money(p.take_profit)),
        term("Signal confidence", p.confidence === null || p.confidence === undefined ? "not given" : String(p.confidence)),
        p.sizing_note ? term("Sizing", p.sizing_note, "wide") : null),
      verdicts.length
        ? h("details", { class: "risk", open: passed < verdicts.length },
          h("summary", {}, `Risk: ${passed} of ${verdicts.length} rules passed`),
          h("ul", {}, verdicts.map((v) => h("li", {},
            h("span", { class: `chip ${v.passed ? "passed" : "failed"}` }, v.passed ? "passed" : "failed"), " ",
            h("strong", {}, String(v.rule ?? "")), v.detail ? `: ${v.detail}` : ""))))
        : h("p", { class: "muted" }, "No risk verdicts with this proposal."),
      row.outcome ? this.outcome(row) : this.question(row, p));
    return el;
  }

  question(row, p) {
    const what = `intent #${row.id}: ${order(row)}`;
    const pending = this.pending.get(row.id);
    const confirm = h("button", { type: "button", "aria-label": `Confirm ${what}`, disabled: Boolean(pending) },
      pending === "confirm" ? "Confirming…" : "Confirm");
    const decline = h("button", { type: "button", class: "ghost", "aria-label": `Decline ${what}`, disabled: Boolean(pending) },
      pending === "decline" ? "Declining…" : "Decline");
    confirm.addEventListener("click", () => this.answer(row, "confirm"));
    decline.addEventListener("click", () => this.answer(row, "decline"));
    return h("div", { class: "answer" },
      h("p", { class: "countdown" },
        h("time", { datetime: row.confirm_by || "", "data-deadline": row.confirm_by || "" }, ""),
        h("span", { class: "muted" }, ` (answer by ${time(row.confirm_by) || "—"}${p.timeout_s ? `, ${p.timeout_s} s in all` : ""})`)),
      h("div", { class: "buttons" }, confirm, decline),
      this.errors.has(row.id) ? h("p", { class: "error" }, this.errors.get(row.id)) : null);
  }

  outcome(row) {
    const o = row.outcome;
    const orderRecord = o.order_id ? data.orders.get(o.order_id) : null;
    let text = o.text;
    if (orderRecord) {
      const filled = orderRecord.filled && !/^0*\.?0*$/.test(orderRecord.filled);
      text += filled ? `, ${orderRecord.state === "filled" ? "filled" : `${orderRecord.state}: filled`} ${amount(orderRecord.filled)}${orderRecord.average ? ` at ${amount(orderRecord.average, 4)}` : ""}`
        : ` (${orderRecord.state})`;
    }
    const tone = o.kind === "ordered" ? "ordered" : o.kind === "confirmed" ? "created" : "rejected";
    return h("p", { class: "outcome" }, h("span", { class: `chip ${tone}` }, o.kind === "gone" ? "ended" : o.kind), " ", text);
  }

  async answer(row, what) {
    if (row.outcome || this.pending.has(row.id)) return;
    this.pending.set(row.id, what);
    this.errors.delete(row.id);
    this.update();
    try {
      const result = await api("POST", `/api/v1/intents/${row.id}/${what}`);
      this.pending.delete(row.id);
      answered(what === "confirm" ? "confirmed" : "declined", { intent_id: row.id, reason: result?.reason });
    } catch (error) {
      this.pending.delete(row.id);
      // 404 / 409: it waits no more (answered elsewhere, expired): the server's words say how it ended.
      if (error.status === 404 || error.status === 409) answered("gone", { intent_id: row.id, reason: error.message });
      else this.errors.set(row.id, `Could not ${what}: ${error.message}`);
    }
    this.update();
  }

  /** The countdowns, each second; at the deadline the buttons go (the server expires it at once). */
  tick() {
    for (const [id, { el }] of this.rows) {
      const clock = el.querySelector("time[data-deadline]");
      if (!clock) continue;
      const seconds = secondsTo(clock.dataset.deadline);
      if (Number.isNaN(seconds)) {
        clock.textContent = "no deadline given";
        continue;
      }
      clock.textContent = seconds > 0 ? `${left(seconds)} left` : "deadline passed: nothing trades";
      el.classList.toggle("urgent", seconds <= URGENT_S);
      if (seconds <= 0) for (const button of el.querySelectorAll(".buttons button")) button.disabled = true;
      else if (!this.pending.has(id)) for (const button of el.querySelectorAll(".buttons button")) button.disabled = false;
    }
  }

  say(text) {
    this.announcer.textContent = text;
  }
}

export const waitingElements = () => [byId("waiting"), byId("announce"), byId("waiting-count")];
