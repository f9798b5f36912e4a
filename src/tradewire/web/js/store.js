// What the dashboard shows, in one place: loaded over REST once the live channel is subscribed (so no
// event between the two is lost), then changed by each event. Views re-render on `changed`.
import { api } from "./api.js";

const KEEP = 300; // feed items kept per kind

export const data = {
  accounts: new Map(),
  subscriptions: new Map(),
  positions: new Map(), // open positions, marked (REST) and moved by events
  signals: new Map(),
  intents: new Map(),
  orders: new Map(),
  fills: new Map(),
  portfolio: null,
  fillsSeen: 0,
  backtests: new Map(), // started here, or heard of on the live channel
  bots: null, // your bots (null until loaded), moved by `bots` events
  provider: new Map(), // your strategies' subscriber counts heard live: strategy id -> {active, subscriptions}
  // Confirm before trade: the entries waiting for your answer (any channel's), each with what became
  // of it once answered, shown a while before it leaves; `settled`: intents known to wait no more.
  waiting: new Map(),
  settled: new Set(),
};

const listeners = new Set();
let scheduled = false;
export function onChange(listener) { listeners.add(listener); }
export function changed() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    for (const listener of listeners) listener();
  });
}

function trim(map) {
  if (map.size <= KEEP) return;
  const ids = [...map.keys()].sort((a, b) => a - b);
  for (const id of ids.slice(0, map.size - KEEP)) map.delete(id);
}

function upsert(map, id, fields) {
  if (id === null || id === undefined) return;
  map.set(id, { ...(map.get(id) || {}), ...fields });
  trim(map);
}

export async function loadMembership() {
  const [accounts, subscriptions] = await Promise.all([
    api("GET", "/api/v1/accounts"),
    api("GET", "/api/v1/subscriptions"),
  ]);
  data.accounts = new Map(accounts.map((a) => [a.id, a]));
  data.subscriptions = new Map(subscriptions.map((s) => [s.id, s]));
  changed();
}

export async function loadPositions() {
  const rows = await api("GET", "/api/v1/positions?status=open&limit=200");
  data.positions = new Map(rows.map((p) => [p.id, p]));
  changed();
}

export async function loadPortfolio() {
  data.portfolio = await api("GET", "/api/v1/portfolio");
  changed();
}

/** The entries waiting for an answer, however old (the newest intents may not hold them all). */
export async function loadWaiting() {
  const rows = await api("GET", "/api/v1/intents?status=awaiting_confirmation&limit=1000");
  for (const i of rows) {
    // An answer heard on the live channel while this was asked for is newer than the list.
    if (i.status === "awaiting_confirmation" && !data.settled.has(i.id) && !data.waiting.has(i.id)) {
      data.waiting.set(i.id, { ...i, stage: 0, outcome: null });
    }
  }
  changed();
}

export async function loadBots() {
  const rows = await api("GET", "/api/v1/bots");
  data.bots = new Map(rows.map((b) => [b.id, b]));
  changed();
}

/** Signals with their details (a bot's temperature): the live event carries the facts only. */
export async function loadSignals() {
  for (const s of await api("GET", "/api/v1/signals?limit=100")) upsert(data.signals, s.id, { ...s, signal_id: s.id });
  changed();
}

export async function loadAll() {
  const [intents, orders, signals] = await Promise.all([
    api("GET", "/api/v1/intents?limit=200"),
    api("GET", "/api/v1/orders?limit=200"),
    api("GET", "/api/v1/signals?limit=100"),
    loadWaiting(),
  ]);
  for (const i of intents) upsert(data.intents, i.id, i);
  for (const o of orders) upsert(data.orders, o.id, o);
  for (const s of signals) upsert(data.signals, s.id, { ...s, signal_id: s.id });
  await Promise.all([loadMembership(), loadPositions(), loadPortfolio()]);
}

// Marks and the portfolio's figures are computed by the server: fetch them again after a change,
// at most once per second (events drive it; nothing is polled).
const later = new Map();
function soon(name, load) {
  if (later.has(name)) return;
  later.set(name, setTimeout(() => { later.delete(name); load().catch(() => {}); }, 300));
}

export function apply(event) {
  const d = event.data || {};
  const at = { ts: event.ts };
  switch (event.topic) {
    case "signals":
      upsert(data.signals, d.signal_id, { ...d, received_at: d.received_at || event.ts, ...at });
      if (data.bots?.has(d.strategy_id)) soon("signals", loadSignals); // a bot's: its temperature
      break;
    case "bots": {
      const bot = data.bots?.get(d.bot_id);
      if (bot) {
        const definition = { ...bot.definition, enabled: d.enabled, ...(d.settings ? { bot: d.settings } : {}) };
        data.bots.set(d.bot_id, { ...bot, status: d.status, definition, running: Boolean(d.enabled) && d.status === "ACTIVE" });
      }
      soon("bots", loadBots); // a bot made elsewhere, or its whole definition
      soon("membership", loadMembership); // its subscription's status
      break;
    }
    case "provider":
      if (event.type === "signal") upsert(data.signals, d.signal_id, { ...d, intent_count: d.subscriptions, status: d.status });
      if (event.type === "subscribers") data.provider.set(d.strategy_id, d);
      break;
    case "intents":
      upsert(data.intents, d.intent_id, { ...d, id: d.intent_id, updated_at: event.ts, ...at,
        ...(event.type === "created" ? { created_at: event.ts } : {}) });
      answered(event.type, d);
      break;
    case "orders":
      upsert(data.orders, d.order_id, { ...d, id: d.order_id, updated_at: event.ts, ...at,
        ...(event.type === "new" ? { created_at: event.ts } : {}) });
      break;
    case "fills":
      upsert(data.fills, event.id, { ...d, ...at });
      data.fillsSeen += 1; // balances moved (the Accounts page asks the server again)
      break;
    case "positions":
      if (event.type === "marked") { marked(d.positions); return; }
      if (d.status === "closed") data.positions.delete(d.position_id);
      else upsert(data.positions, d.position_id, { ...d, id: d.position_id });
      soon("positions", loadPositions);
      soon("portfolio", loadPortfolio);
      break;
    case "backtests":
      upsert(data.backtests, d.backtest_id, { id: d.backtest_id, status: d.status, progress: d.progress ?? (d.status === "done" ? 1 : undefined), error: d.error });
      break;
    default:
      return;
  }
  changed();
}

/** Live marks (pushed every few seconds, not events): the open positions' price and unrealised PnL.
 * Only the views that show marks hear of them (onMarks): other pages are not re-rendered each time. */
const markListeners = new Set();
export function onMarks(listener) {
  markListeners.add(listener);
  return () => markListeners.delete(listener);
}
function marked(rows) {
  let moved = false;
  for (const m of rows || []) {
    const p = data.positions.get(m.position_id);
    if (!p || (p.mark_price === m.mark_price && p.unrealized_pnl === m.unrealized_pnl && p.mark_error === m.mark_error)) continue;
    Object.assign(p, { mark_price: m.mark_price, unrealized_pnl: m.unrealized_pnl, mark_source: m.mark_source, mark_error: m.mark_error });
    moved = true;
  }
  if (moved) for (const listener of markListeners) listener();
}

// -- confirm before trade: what became of a waiting entry -----------------------------------------

const LINGER_MS = 8000; // an answered entry shows its outcome this long, then leaves the list
const SETTLED_KEPT = 2000;
// What each intent event says of a proposal: its stage (never going back: the live channel and the
// answer's own response may arrive in either order) and the line shown.
const OUTCOMES = {
  confirmed: [1, () => "Confirmed: risk and price are checked again now, then it is ordered…"],
  declined: [2, (d) => d.reason ? `Declined: ${d.reason}` : "Declined: nothing traded."],
  expired: [2, (d) => d.reason ? `Expired: ${d.reason}` : "Expired: nothing traded."],
  ordered: [2, (d) => `Ordered: order #${d.order_id}`],
  rejected: [2, (d) => `Refused: ${d.reason || "nothing traded"}`],
  failed: [2, (d) => `Failed: ${d.reason || "nothing traded"}`],
  gone: [2, (d) => d.reason || "It no longer waits."],
};

/** An intent event (or an answer's response, as one): a new proposal joins the list; an answer, an
 * expiry or what the confirmed entry became is shown on its row, which leaves a while after the end. */
export function answered(type, d) {
  const id = d.intent_id;
  if (typeof id !== "number") return;
  if (type === "proposed") {
    if (!data.settled.has(id) && !data.waiting.has(id)) {
      data.waiting.set(id, { id, signal_id: d.signal_id, subscription_id: d.subscription_id, via: d.via,
        confirm_by: d.confirm_by, proposal: d.proposal, symbol: d.proposal?.symbol, stage: 0, outcome: null, fresh: true });
    }
    return;
  }
  if (!(type in OUTCOMES) || (type === "rejected" && d.status && d.status !== "rejected")) return;
  settle(id);
  const row = data.waiting.get(id);
  if (!row) return;
  const [stage, line] = OUTCOMES[type];
  if (stage <= row.stage) return;
  row.stage = stage;
  row.outcome = { kind: type, text: line(d), order_id: d.order_id };
  if (stage === 2) setTimeout(() => { if (data.waiting.get(id) === row) { data.waiting.delete(id); changed(); } }, LINGER_MS);
  changed();
}

function settle(id) {
  data.settled.add(id);
  if (data.settled.size > SETTLED_KEPT) data.settled.delete(data.settled.values().next().value);
}

export function reset() {
  for (const key of ["accounts", "subscriptions", "positions", "signals", "intents", "orders", "fills", "backtests", "waiting"]) {
    data[key] = new Map();
  }
  data.settled = new Set();
  data.portfolio = null;
  data.bots = null;
  data.provider = new Map();
}

export const accountName = (id) => data.accounts.get(id)?.name ?? (id ? `#${id}` : "");
export const strategyOf = (subscriptionId) => data.subscriptions.get(subscriptionId)?.strategy_slug ?? "";
