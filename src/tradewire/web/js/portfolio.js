// Portfolio: PnL today / 7 days / total, win rate and the realised PnL curve per mode (paper and live
// never mixed), the open positions with their marks, PnL and a Close button, and the risk usage.
import { api } from "./api.js";
import { CurveChart } from "./chart.js";
import { clear, h } from "./dom.js";
import { amount, money, tone } from "./format.js";
import { RiskPanel } from "./risk.js";
import { accountName, data, onMarks } from "./store.js";

const MODES = { paper: "Paper trading", live: "Live trading" };

function card(label, value, cls = "") {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: `value ${cls}` }, value));
}

/** The chart's points: the cumulative PnL per day, from zero the day before the first close. */
function curvePoints(curve) {
  const start = new Date(`${curve[0].day}T00:00:00Z`);
  start.setUTCDate(start.getUTCDate() - 1);
  return [{ time: start.toISOString().slice(0, 10), value: 0 },
    ...curve.map((p) => ({ time: p.day, value: Number(p.cumulative) }))];
}

export class PortfolioPage {
  title = "Portfolio";

  mount(root) {
    this.charts = [];
    this.armed = new Set(); // position ids: the Close button asks for confirmation
    this.closing = new Set(); // position ids: a close was sent
    this.summary = h("section", { "aria-label": "Results" });
    this.positions = h("section", { class: "panel", "aria-labelledby": "positions-title" });
    this.message = h("p", { class: "error", role: "alert" });
    this.risk = new RiskPanel();
    root.append(h("h1", {}, "Portfolio"), this.summary, this.positions, this.message, this.risk.root);
    this.offMarks = onMarks(() => this.renderPositions(this.openPositions()));
    this.shownSummary = null;
    this.update();
  }

  unmount() {
    this.offMarks?.();
    this.destroyCharts();
  }

  destroyCharts() {
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
  }

  update() {
    if (data.portfolio !== this.shownSummary) this.renderSummary(data.portfolio);
    this.renderPositions(this.openPositions());
    this.risk.update();
  }

  openPositions() {
    return [...data.positions.values()].sort((a, b) => b.id - a.id);
  }

  renderSummary(portfolio) {
    this.shownSummary = portfolio;
    this.destroyCharts();
    clear(this.summary);
    if (!portfolio) return;
    if (!portfolio.modes.length) {
      this.summary.append(h("p", { class: "empty" }, "No trades yet: results appear here as positions close."));
      return;
    }
    for (const m of portfolio.modes) {
      const rate = m.win_rate_pct === null ? "—" : `${amount(m.win_rate_pct, 1)} %`;
      const chartBox = h("div", { class: "chart", role: "img", "aria-label": `${MODES[m.mode] || m.mode}: realised PnL over time` });
      const chartPanel = m.curve.length
        ? h("div", { class: "panel" }, h("h2", {}, "Realised PnL, cumulative (net of fees)"), chartBox)
        : h("p", { class: "empty" }, "The PnL curve starts with the first closed position.");
      this.summary.append(
        h("h2", { class: "mode-title" }, MODES[m.mode] || m.mode, ` (${m.quote})`),
        h("div", { class: "cards" },
          card("PnL today", money(m.pnl_today), tone(m.pnl_today)),
          card("PnL 7 days", money(m.pnl_7d), tone(m.pnl_7d)),
          card("PnL total", money(m.pnl_total), tone(m.pnl_total)),
          card("Win rate", rate),
          card("Closed / open", `${m.closed_positions} / ${m.open_positions}`)),
        chartPanel,
      );
      if (!m.curve.length) continue;
      const chart = new CurveChart(chartBox);
      chart.show(curvePoints(m.curve));
      this.charts.push(chart);
    }
  }

  renderPositions(positions) {
    // Live marks re-render the table every few seconds: a focused Close button keeps the focus.
    const focused = this.positions.contains(document.activeElement) ? document.activeElement.closest("tr")?.dataset.position : undefined;
    this.renderRows(positions);
    if (focused !== undefined) this.positions.querySelector(`tr[data-position="${focused}"] button`)?.focus();
  }

  renderRows(positions) {
    clear(this.positions).append(h("h2", { id: "positions-title" }, "Open positions"));
    if (!positions.length) {
      this.positions.append(h("p", { class: "empty" }, "No open positions."));
      return;
    }
    const head = ["Symbol", "Account", "Mode", "Amount", "Entry", "Mark", "Unrealised PnL", "Realised PnL", ""];
    const rows = positions.map((p) => {
      const cell = (label, value, cls = "") => h("td", { "data-label": label, class: cls }, value);
      return h("tr", { "data-position": p.id },
        cell("Symbol", p.symbol),
        cell("Account", accountName(p.account_id)),
        cell("Mode", p.mode),
        cell("Amount", amount(p.amount), "num"),
        cell("Entry", amount(p.avg_entry, 4), "num"),
        cell("Mark", p.mark_price ? amount(p.mark_price, 4) : (p.mark_error ? "no price" : "…"), "num"),
        cell("Unrealised PnL", money(p.unrealized_pnl), `num ${tone(p.unrealized_pnl)}`),
        cell("Realised PnL", money(p.net_realized_pnl ?? p.realized_pnl), `num ${tone(p.net_realized_pnl ?? p.realized_pnl)}`),
        h("td", {}, this.closeButton(p)));
    });
    this.positions.append(h("table", { class: "positions" },
      h("thead", {}, h("tr", {}, head.map((t, i) => h("th", { class: i >= 3 && i <= 7 ? "num" : "", scope: "col" }, t)))),
      h("tbody", {}, rows)));
  }

  closeButton(p) {
    const label = `Close ${p.symbol} on ${accountName(p.account_id)}`;
    if (this.closing.has(p.id)) return h("button", { type: "button", class: "danger", disabled: true, "aria-label": label }, "Closing…");
    // Two steps: a click arms it for a few seconds, a second click sends the market order.
    const button = h("button", { type: "button", class: "danger", "aria-label": label }, this.armed.has(p.id) ? "Confirm close" : "Close");
    button.addEventListener("click", async () => {
      if (!this.armed.has(p.id)) {
        this.armed.add(p.id);
        setTimeout(() => { this.armed.delete(p.id); this.update(); }, 5000);
        this.update();
        this.positions.querySelector(`tr[data-position="${p.id}"] button`)?.focus();
        return;
      }
      this.armed.delete(p.id);
      this.closing.add(p.id);
      this.update();
      try {
        await api("POST", `/api/v1/positions/${p.id}/close`);
        this.message.textContent = "";
      } catch (error) {
        this.closing.delete(p.id);
        this.message.textContent = `Could not close ${p.symbol}: ${error.message}`;
        this.update();
      }
    });
    return button;
  }
}
