// Sextant's GUI script: live job progress (server-sent events), the model page's plots
// (plotly.js), one row's waterfall, sorting a table's page, printing a report. The pages work
// without it; it adds what needs a script. Served from this server only (no inline script).
"use strict";

(function () {
  const RED = "#c0392b", BLUE = "#2471a3", GREY = "#7f8c8d";
  const layoutBase = {
    margin: { l: 60, r: 20, t: 20, b: 50 },
    font: { family: "system-ui, sans-serif", size: 12 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
  };
  const config = { displaylogo: false, responsive: true };
  let pending = 0;

  function data(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  // Draws into #id when the element exists; counts the plots drawn, for tests and benchmarks.
  function draw(id, traces, layout) {
    const el = document.getElementById(id);
    if (!el || typeof Plotly === "undefined") return Promise.resolve();
    return track(Plotly.react(el, traces, Object.assign({}, layoutBase, layout), config).then(function () {
      el.dataset.drawn = String(traces.length);
    }));
  }

  // Counts work in flight (plots, their data); the page is drawn when none is left.
  function track(promise) {
    pending += 1;
    return promise.finally(function () {
      pending -= 1;
      if (pending === 0) drawn();
    });
  }

  // Marks the page drawn, with the milliseconds since navigation began (tests and benchmarks
  // wait for it).
  function drawn() {
    document.body.dataset.drawnMs = String(Math.round(performance.now()));
    document.body.dataset.plotsDrawn = "1";
  }

  function api(path) {
    return fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body && body.error ? body.error.message : r.statusText);
          return body;
        });
      });
  }

  // ---- jobs: live progress ---------------------------------------------------------------
  function followJobs() {
    document.querySelectorAll("tr[data-job][data-live='true']").forEach(function (row) {
      const source = new EventSource("/api/v1/jobs/" + row.dataset.job + "/events");
      source.addEventListener("job", function (event) {
        const job = JSON.parse(event.data);
        const percent = Math.round(job.progress.percent);
        row.querySelector("progress").value = percent;
        row.querySelector(".percent").textContent = percent + " %";
        row.querySelector(".phase").textContent = job.progress.phase;
        const state = row.querySelector("span.state");
        state.textContent = job.state;
        state.className = "state " + job.state;
        if (job.reason) {
          let reason = row.querySelector(".reason");
          if (!reason) {
            reason = document.createElement("div");
            reason.className = "reason";
            row.querySelector("td.state").appendChild(reason);
          }
          reason.textContent = job.reason;
        }
        if (["succeeded", "failed", "cancelled"].indexOf(job.state) >= 0) {
          source.close();
          row.dataset.live = "false";
          const cancel = row.querySelector("form");
          if (cancel) cancel.remove();
        }
      });
      source.addEventListener("error", function () {
        if (row.dataset.live === "false") source.close();
      });
    });
  }

  // ---- quality ---------------------------------------------------------------------------
  function quality(d) {
    const curves = d.curves;
    if (curves && curves.binary) {
      const b = curves.binary;
      draw("plot-roc", [
        { x: b.roc.map(p => p.x), y: b.roc.map(p => p.y), mode: "lines", name: "ROC", line: { color: BLUE } },
        { x: [0, 1], y: [0, 1], mode: "lines", name: "chance", line: { color: GREY, dash: "dot" } },
      ], { xaxis: { title: { text: "false positive rate" } }, yaxis: { title: { text: "true positive rate" } }, showlegend: false });
      draw("plot-pr", [
        { x: b.precision_recall.map(p => p.x), y: b.precision_recall.map(p => p.y), mode: "lines", name: "PR", line: { color: BLUE } },
      ], { xaxis: { title: { text: "recall" } }, yaxis: { title: { text: "precision" }, range: [0, 1.02] }, showlegend: false });
      draw("plot-calibration", [
        { x: b.calibration.map(c => c.predicted), y: b.calibration.map(c => c.observed), mode: "lines+markers",
          name: "model", text: b.calibration.map(c => c.rows + " rows"), line: { color: BLUE } },
        { x: [0, 1], y: [0, 1], mode: "lines", name: "perfect", line: { color: GREY, dash: "dot" } },
      ], { xaxis: { title: { text: "mean predicted probability" } }, yaxis: { title: { text: "observed positive share" } }, showlegend: false });
      const slider = document.getElementById("threshold");
      const shown = document.getElementById("threshold-value");
      const confusion = function () {
        const t = Math.round(parseFloat(slider.value) * 100);
        const c = b.thresholds[t];
        shown.textContent = (t / 100).toFixed(2);
        drawConfusion([[c.tn, c.fp], [c.fn, c.tp]], ["0", "1"]);
      };
      if (slider) { slider.addEventListener("input", confusion); confusion(); }
    } else if (d.metrics && d.metrics.confusion_matrix) {
      const labels = d.metrics.confusion_matrix.map((_, i) => String(i));
      drawConfusion(d.metrics.confusion_matrix, labels);
    }
    if (curves && curves.regression) {
      const r = curves.regression;
      const lo = Math.min.apply(null, r.points.map(p => Math.min(p.prediction, p.label)));
      const hi = Math.max.apply(null, r.points.map(p => Math.max(p.prediction, p.label)));
      draw("plot-residuals", [
        { x: r.points.map(p => p.label), y: r.points.map(p => p.prediction), mode: "markers", type: "scatter",
          name: "rows", marker: { size: 4, color: BLUE, opacity: 0.6 }, customdata: r.points.map(p => p.row),
          hovertemplate: "row %{customdata}<br>label %{x}<br>prediction %{y}<extra></extra>" },
        { x: [lo, hi], y: [lo, hi], mode: "lines", name: "perfect", line: { color: GREY, dash: "dot" } },
      ], { xaxis: { title: { text: "label" } }, yaxis: { title: { text: "prediction" } }, showlegend: false });
      draw("plot-residual-histogram", [
        { x: r.residuals.map(h => (h.from + h.to) / 2), y: r.residuals.map(h => h.count), type: "bar",
          marker: { color: BLUE }, name: "rows" },
      ], { xaxis: { title: { text: "label − prediction" } }, yaxis: { title: { text: "rows" } }, bargap: 0.05 });
    }
  }

  function drawConfusion(matrix, labels) {
    draw("plot-confusion", [{
      z: matrix, x: labels, y: labels, type: "heatmap", colorscale: "Blues", reversescale: true, showscale: false,
      text: matrix.map(r => r.map(String)), texttemplate: "%{text}", hovertemplate: "actual %{y}, predicted %{x}: %{z}<extra></extra>",
    }], { xaxis: { title: { text: "predicted" }, type: "category" }, yaxis: { title: { text: "actual" }, type: "category", autorange: "reversed" } });
  }

  // ---- influences ------------------------------------------------------------------------
  function importance(d) {
    if (!d.importance) return;
    // A multiclass model's importance for the class shown.
    const size = f => (f.mean_abs_by_class ? f.mean_abs_by_class[d.class] : f.mean_abs);
    const ranked = d.importance.result.features.slice().sort((a, b) => size(b) - size(a));
    const top = ranked.slice(0, 20).reverse();
    // Sampled influences: a 95 % interval on each bar (the model's mean |influence| over all
    // classes carries it).
    const sampled = top.some(f => f.mean_abs_stderr != null) && !top[0].mean_abs_by_class;
    draw("plot-importance", [{
      type: "bar", orientation: "h", x: top.map(size), y: top.map(f => f.feature),
      marker: { color: BLUE }, name: "mean |influence|",
      error_x: sampled ? { type: "data", array: top.map(f => 1.96 * (f.mean_abs_stderr || 0)), visible: true, color: "#333" } : undefined,
    }], { margin: { l: 140, r: 20, t: 10, b: 40 }, xaxis: { title: { text: "mean |influence|" } }, height: Math.max(260, 22 * top.length + 60) });
  }

  // Colour of a value between its feature's low and high ends.
  function scaled(values) {
    const finite = values.filter(v => v !== null);
    const lo = Math.min.apply(null, finite), hi = Math.max.apply(null, finite);
    return values.map(v => (v === null ? null : hi > lo ? (v - lo) / (hi - lo) : 0.5));
  }

  function beeswarm(d) {
    if (!d.points) return;
    const features = d.points.features.slice().reverse();
    // One trace for every feature's points (a trace each costs more to draw than its points).
    const trace = {
      type: "scatter", mode: "markers", name: "rows", x: [], y: [], text: [], customdata: [],
      marker: { size: 4, color: [], colorscale: [[0, BLUE], [1, RED]], cmin: 0, cmax: 1, opacity: 0.7 },
      hovertemplate: "%{text}<br>row %{customdata}<br>influence %{x}<extra></extra>",
    };
    features.forEach(function (f, i) {
      const colours = scaled(f.values);
      f.influences.forEach(function (phi, k) {
        trace.x.push(phi);
        // Rows spread vertically by a deterministic jitter, so the drawing is the same each time.
        trace.y.push(i + (((k * 2654435761) % 1000) / 1000 - 0.5) * 0.6);
        trace.text.push(f.feature);
        trace.customdata.push(d.points.rows[k]);
        trace.marker.color.push(colours[k] === null ? 0.5 : colours[k]);
      });
    });
    const traces = [trace];
    draw("plot-beeswarm", traces, {
      showlegend: false, margin: { l: 140, r: 20, t: 10, b: 40 }, height: Math.max(300, 34 * features.length + 60),
      xaxis: { title: { text: "influence on the margin" }, zeroline: true },
      yaxis: { tickvals: features.map((_, i) => i), ticktext: features.map(f => f.feature), range: [-0.7, features.length - 0.3] },
    }).then(function () { clickToExplain("plot-beeswarm"); });
  }

  function dependence(d) {
    const feature = document.getElementById("dep-feature");
    const colour = document.getElementById("dep-colour");
    if (!feature || !d.importance) return;
    const base = "/api/v1/projects/" + encodeURIComponent(d.project) + "/models/" + encodeURIComponent(d.model);
    const ranked = d.importance.result.features.map(f => f.feature);
    feature.value = ranked[0];
    colour.value = ranked[1] || "";
    const plotPoints = function (p) {
      const f = p.features[0], c = p.features[1];
      const labelOf = function (v, cats) { return v === null ? "missing" : cats ? cats[v] || String(v) : v; };
      const marker = { size: 5, opacity: 0.7, color: BLUE };
      if (c) {
        marker.color = scaled(c.values).map(v => (v === null ? 0.5 : v));
        marker.colorscale = [[0, BLUE], [1, RED]];
        marker.showscale = true;
        marker.colorbar = { title: { text: c.feature }, tickvals: [0, 1], ticktext: ["low", "high"] };
      }
      return draw("plot-dependence", [{
        type: "scatter", mode: "markers", x: f.values.map(v => labelOf(v, f.categories)), y: f.influences,
        customdata: p.rows, marker: marker, name: f.feature,
        hovertemplate: "row %{customdata}<br>" + f.feature + " %{x}<br>influence %{y}<extra></extra>",
      }], { xaxis: { title: { text: f.feature }, type: f.categories ? "category" : "-" }, yaxis: { title: { text: "influence of " + f.feature } } })
        .then(function () { clickToExplain("plot-dependence"); });
    };
    const wanted = function () {
      return [feature.value].concat(colour.value && colour.value !== feature.value ? [colour.value] : []);
    };
    // The page's own points for the first drawing; the API's, 1,000 rows, once the reader chooses.
    const local = function (names) {
      if (!d.points) return null;
      const found = names.map(n => d.points.features.find(f => f.feature === n));
      return found.every(Boolean) ? { rows: d.points.rows, features: found } : null;
    };
    const update = function () {
      const names = wanted();
      return track(api(base + "/influences/points?" + d.query + d.class_query + d.segment_query + "&points=1000&features=" + names.map(encodeURIComponent).join(","))
        .then(plotPoints)
        .catch(function (e) { showError(e.message); }));
    };
    feature.addEventListener("change", update);
    colour.addEventListener("change", update);
    const first = local(wanted());
    if (first) plotPoints(first);
    else update();
  }

  function showError(message) {
    const el = document.getElementById("waterfall-error");
    if (!el) return;
    el.textContent = message;
    el.hidden = !message;
  }

  function waterfall(d, by) {
    const base = "/api/v1/projects/" + encodeURIComponent(d.project) + "/models/" + encodeURIComponent(d.model);
    return track(api(base + "/explanation?" + d.query + d.class_query + "&" + by)
      .then(drawWaterfall)
      .catch(function (err) { showError(err.message); }));
  }

  function drawWaterfall(e) {
    showError("");
    const shown = e.contributions.slice(0, 12);
    const rest = e.contributions.slice(12).reduce((s, c) => s + c.influence, 0);
    const labels = ["base value"].concat(shown.map(c => c.feature + " = " + (c.value === null ? "missing" : c.value)));
    const values = [e.base_value].concat(shown.map(c => c.influence));
    const measure = ["absolute"].concat(shown.map(() => "relative"));
    if (e.contributions.length > 12) { labels.push(e.contributions.length - 12 + " other features"); values.push(rest); measure.push("relative"); }
    labels.push("margin"); values.push(e.margin); measure.push("total");
    const title = "row " + e.row + (e.id !== null ? " (id " + e.id + ")" : "");
    const row = document.getElementById("wf-row");
    if (row) row.value = e.row;
    return draw("plot-waterfall", [{
      type: "waterfall", orientation: "h", y: labels, x: values, measure: measure,
      increasing: { marker: { color: RED } }, decreasing: { marker: { color: BLUE } }, totals: { marker: { color: GREY } },
      name: title,
    }], { margin: { l: 200, r: 20, t: 30, b: 40 }, title: { text: title, font: { size: 13 }, x: 0.01, xanchor: "left" }, yaxis: { autorange: "reversed" }, height: 420 });
  }

  let explainFrom = null;
  function clickToExplain(id) {
    const el = document.getElementById(id);
    if (!el || !el.on || el.dataset.clicks) return;
    el.dataset.clicks = "1";
    el.on("plotly_click", function (event) {
      const point = event.points && event.points[0];
      if (point && point.customdata !== undefined && explainFrom) explainFrom("row=" + point.customdata);
    });
  }

  function waterfallForm(d) {
    const form = document.getElementById("waterfall-form");
    if (!form || !d.importance) return;
    explainFrom = function (by) { return waterfall(d, by); };
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const id = document.getElementById("wf-id");
      if (id && id.value !== "") explainFrom("id=" + encodeURIComponent(id.value));
      else explainFrom("row=" + encodeURIComponent(document.getElementById("wf-row").value || "0"));
    });
    if (d.explanation) drawWaterfall(d.explanation);
    else explainFrom("row=" + (d.points && d.points.rows.length ? d.points.rows[0] : 0));
  }

  function compare(c) {
    const seen = {};
    c.importance.forEach(function (imp) {
      if (imp) imp.result.features.slice(0, 15).forEach(f => { seen[f.feature] = true; });
    });
    const features = Object.keys(seen);
    const traces = c.models.map(function (name, i) {
      const imp = c.importance[i];
      const by = {};
      if (imp) imp.result.features.forEach(f => { by[f.feature] = f.mean_abs; });
      return { type: "bar", name: name, x: features, y: features.map(f => (f in by ? by[f] : null)) };
    }).filter((_, i) => c.importance[i]);
    if (traces.length) draw("plot-compare-importance", traces, { barmode: "group", margin: { l: 60, r: 20, t: 20, b: 110 }, xaxis: { tickangle: -30, automargin: true }, yaxis: { title: { text: "mean |influence|" } } });
  }

  // ---- tables ----------------------------------------------------------------------------
  function sortable() {
    document.querySelectorAll("table.sortable").forEach(function (table) {
      table.querySelectorAll("th button.sort").forEach(function (button, column) {
        button.addEventListener("click", function () {
          const down = button.dataset.order !== "desc";
          table.querySelectorAll("th button.sort").forEach(b => { delete b.dataset.order; b.parentElement.removeAttribute("aria-sort"); });
          button.dataset.order = down ? "desc" : "asc";
          button.parentElement.setAttribute("aria-sort", down ? "descending" : "ascending");
          const body = table.tBodies[0];
          const rows = Array.from(body.rows);
          const key = r => { const v = r.cells[column].dataset.value; return v === "" ? -Infinity : parseFloat(v); };
          rows.sort((a, b) => (down ? key(b) - key(a) : key(a) - key(b)));
          rows.forEach(r => body.appendChild(r));
        });
      });
    });
  }

  // Forms that delete something ask first.
  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  function start() {
    followJobs();
    confirmations();
    sortable();
    const print = document.getElementById("print");
    if (print) print.addEventListener("click", () => window.print());
    const d = data("sx-model");
    if (d) {
      quality(d);
      importance(d);
      beeswarm(d);
      dependence(d);
      waterfallForm(d);
    }
    const c = data("sx-compare");
    if (c) compare(c);
    if (pending === 0) drawn();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
