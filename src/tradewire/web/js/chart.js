// Charts with TradingView's lightweight-charts, served by this server (web/vendor, copied by make).
// Loaded on first use: if the file is missing (built without npm) the page works without charts.
import { onThemeChange } from "./theme.js";

let library = null;
function load() {
  library ??= import("/assets/vendor/lightweight-charts.mjs");
  return library;
}

function palette() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return { text: v("--muted"), line: v("--line"), panel: v("--panel"), up: v("--up"), down: v("--down") };
}

function options() {
  const c = palette();
  return {
    autoSize: true,
    layout: { background: { color: c.panel }, textColor: c.text, attributionLogo: false },
    grid: { vertLines: { color: c.line }, horzLines: { color: c.line } },
    rightPriceScale: { borderColor: c.line },
    timeScale: { borderColor: c.line },
    handleScroll: false,
    handleScale: false,
  };
}

/** The options of a chart whose time scale shows the time of day too. */
function timedOptions() {
  const base = options();
  return { ...base, timeScale: { ...base.timeScale, timeVisible: true } };
}

/** In place of a chart when the library could not be loaded; null, as the chart's `ready`. */
function unavailable(el) {
  el.replaceChildren(Object.assign(document.createElement("p"), {
    className: "empty", textContent: "Charts are unavailable: the chart library was not installed (make installs it with npm).",
  }));
  return null;
}

/** A baseline chart of `points` ({time: "YYYY-MM-DD", value}) in `el`: above zero green, below red. */
export class CurveChart {
  constructor(el) {
    this.el = el;
    this.ready = load().then((lwc) => {
      this.chart = lwc.createChart(el, options());
      const c = palette();
      this.series = this.chart.addSeries(lwc.BaselineSeries, {
        baseValue: { type: "price", price: 0 },
        topLineColor: c.up, bottomLineColor: c.down,
        topFillColor1: "rgba(63, 207, 142, 0.25)", topFillColor2: "rgba(63, 207, 142, 0.02)",
        bottomFillColor1: "rgba(255, 107, 107, 0.02)", bottomFillColor2: "rgba(255, 107, 107, 0.25)",
        lineWidth: 2,
      });
      this.unsubscribe = onThemeChange(() => this.chart.applyOptions(options()));
      return this;
    }).catch(() => unavailable(el));
  }

  async show(points) {
    if (!(await this.ready)) return;
    this.series.setData(points);
    this.chart.timeScale().fitContent();
  }

  destroy() {
    this.unsubscribe?.();
    this.chart?.remove();
  }
}


/** A candlestick chart of `bars` ({time, open, high, low, close}, time in UTC seconds) with `markers`
 * (entries below the bar, exits above), and a line of the equity under it, on one time scale. */
export class TradesChart {
  constructor(priceEl, equityEl) {
    this.ready = load().then((lwc) => {
      const c = palette();
      this.lwc = lwc;
      this.price = lwc.createChart(priceEl, timedOptions());
      this.candles = this.price.addSeries(lwc.CandlestickSeries, {
        upColor: c.up, downColor: c.down, borderVisible: false, wickUpColor: c.up, wickDownColor: c.down,
      });
      this.equity = lwc.createChart(equityEl, timedOptions());
      this.curve = this.equity.addSeries(lwc.LineSeries, { color: c.up, lineWidth: 2 });
      this.unsubscribe = onThemeChange(() => { this.price.applyOptions(options()); this.equity.applyOptions(options()); });
      return this;
    }).catch(() => null);
  }

  async show(bars, markers, equity) {
    if (!(await this.ready)) return false;
    this.candles.setData(bars);
    this.lwc.createSeriesMarkers(this.candles, markers);
    this.curve.setData(equity);
    this.price.timeScale().fitContent();
    this.equity.timeScale().fitContent();
    return true;
  }

  destroy() {
    this.unsubscribe?.();
    this.price?.remove();
    this.equity?.remove();
  }
}

/** Two equity curves on one chart ({time: UTC seconds, value}), each in its own colour, on one scale. */
export class CompareChart {
  constructor(el) {
    this.ready = load().then((lwc) => {
      const css = getComputedStyle(document.documentElement);
      this.chart = lwc.createChart(el, timedOptions());
      this.lines = [css.getPropertyValue("--accent").trim(), css.getPropertyValue("--warn").trim()]
        .map((color) => this.chart.addSeries(lwc.LineSeries, { color, lineWidth: 2 }));
      this.unsubscribe = onThemeChange(() => this.chart.applyOptions(options()));
      return this;
    }).catch(() => unavailable(el));
  }

  async show(first, second) {
    if (!(await this.ready)) return false;
    this.lines[0].setData(first);
    this.lines[1].setData(second);
    this.chart.timeScale().fitContent();
    return true;
  }

  destroy() {
    this.unsubscribe?.();
    this.chart?.remove();
  }
}
