// The explorer page of a sweep (deepsets.sweep.explorer inlines this file, the data and
// Plotly). The reach table is a heatmap of the chosen models x tasks, or a panel per task of
// poolings (models less their readout) x readouts; a click on a cell
// draws that task's curves by set size for the chosen models and seeds; the table below
// lists the task's runs, their status and their folders. window.explorer is the page's
// state, for the browser tests and for a curious user's console.
"use strict";

const DATA = JSON.parse(document.getElementById("data").textContent);
const GUESS = -1;  // the constant guess's model index in the rows
const state = {
  models: new Set(DATA.models.map((_, i) => i)),
  tasks: new Set(DATA.tasks.map((_, i) => i)),
  seeds: new Set(DATA.seeds),
  bases: new Set(DATA.models.map((m) => m.base)),  // a model less its readout: a grid's row
  readouts: new Set(DATA.models.map((m) => m.readout)),
  facet: "tasks",  // the heatmap: "tasks" (models x tasks) or "grid" (a panel per task)
  metric: "acc",
  xlog: true,
  ylog: null,  // null: log for errors, linear for accuracies, until the user chooses
  task: null,  // the task whose curves are drawn
};

// Row indices by "task|model", so that a task's curves read only its rows.
const byRun = new Map();
DATA.rows.task.forEach((t, i) => {
  const key = `${t}|${DATA.rows.model[i]}`;
  if (!byRun.has(key)) byRun.set(key, []);
  byRun.get(key).push(i);
});

function medianLow(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

// The reach cell of a model on a task over the chosen seeds, as the summary writes it:
// the median (the lower middle one), its range, "all", "-" or "failed", and "*" where the
// model does not apply beyond some size.
function reachCell(task, model) {
  const values = [];
  DATA.reach.task.forEach((t, i) => {
    if (t === task && DATA.reach.model[i] === model && state.seeds.has(DATA.reach.seed[i])) {
      values.push(DATA.reach.reach[i]);
    }
  });
  const largest = Math.max(...DATA.tasks[task].sizes);
  if (!values.length) return { share: null, text: "failed", short: "failed", seeds: 0 };
  const word = (v) => (v >= largest ? "all" : v === 0 ? "-" : String(v));
  const low = Math.min(...values), mid = medianLow(values), high = Math.max(...values);
  const limited = (byRun.get(`${task}|${model}`) || []).some((i) => DATA.rows.status[i] === "n/a");
  const learned = mid >= trainedTo(task);  // else it missed the task at a training size
  const head = learned ? word(mid) : "not learned";
  const text = (low === high ? head : `${head} (${word(low)} to ${word(high)})`) +
    (limited ? "*" : "");  // *: the model does not apply beyond some size
  return { share: learned ? mid / largest : UNLEARNED, text,
    short: (learned ? word(mid) : "n/l") + (limited ? "*" : ""), seeds: values.length };
}

// The largest test size of a task that its training sets hold (0: none).
function trainedTo(task) {
  const inside = DATA.tasks[task].sizes.filter((s) => s <= DATA.tasks[task].train[1]);
  return inside.length ? Math.max(...inside) : 0;
}

// The models shown: chosen, and of a chosen pooling (less readout) and readout.
function shownModels() {
  return chosen(state.models, DATA.models).filter((m) => state.bases.has(DATA.models[m].base)
    && state.readouts.has(DATA.models[m].readout));
}

function chosen(set, items) {
  return items.map((_, i) => i).filter((i) => set.has(i));
}

const COLORBAR = { title: { text: "reach / largest size (grey: not learned)", side: "right" },
  tickvals: [0, 0.25, 0.5, 0.75, 1] };
// Not learned at the training sizes: a share below 0, drawn grey below Viridis's range.
const UNLEARNED = -0.05;
const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779",
  "#6ece58", "#b5de2b", "#fde725"];
const FLOOR = -UNLEARNED / (1 - UNLEARNED);  // where 0 falls on the scale
const SCALE = [[0, "#d9d9d9"], [FLOOR * 0.99, "#d9d9d9"],
  ...VIRIDIS.map((c, k) => [FLOOR + (1 - FLOOR) * k / (VIRIDIS.length - 1), c])];
const CELLS = { zmin: UNLEARNED, zmax: 1, colorscale: SCALE, xgap: 1, ygap: 1 };
const HOVER = "%{customdata[3]} on %{customdata[4]}: reach %{customdata[2]} (click: its curves)<extra></extra>";

// A panel per chosen task: the shown models' poolings (rows) x readouts (columns).
function drawGrid(tasks, models) {
  const bases = [...new Set(models.map((m) => DATA.models[m].base))];
  const readouts = [...new Set(models.map((m) => DATA.models[m].readout))];
  const at = new Map(models.map((m) => [`${DATA.models[m].base}|${DATA.models[m].readout}`, m]));
  const columns = Math.min(4, tasks.length), rows = Math.ceil(tasks.length / columns);
  const traces = tasks.map((t, k) => {
    const cells = bases.map((b) => readouts.map((r) => {
      const m = at.get(`${b}|${r}`);
      return m === undefined ? null : [m, reachCell(t, m)];
    }));
    return {
      type: "heatmap", x: readouts, y: bases, xaxis: `x${k + 1}`, yaxis: `y${k + 1}`,
      z: cells.map((row) => row.map((c) => (c ? c[1].share : null))),
      text: cells.map((row) => row.map((c) => (c ? c[1].short : ""))),
      customdata: cells.map((row) => row.map((c) => (c ? [t, c[0], c[1].text,
        DATA.models[c[0]].label, DATA.tasks[t].name] : [t, null, "", "", ""]))),
      texttemplate: "%{text}", textfont: { size: 10 }, hovertemplate: HOVER,
      ...CELLS, showscale: k === 0, colorbar: COLORBAR,
    };
  });
  const layout = {
    title: { text: "Reach by pooling (rows) and readout (columns), a panel per task; n/l: not learned" },
    grid: { rows, columns, pattern: "independent" },
    height: 120 + rows * (60 + 24 * bases.length),
    margin: { l: 150, r: 20, t: 60, b: 60 },
    annotations: tasks.map((t, k) => ({ text: DATA.tasks[t].name, showarrow: false,
      xref: `x${k + 1} domain`, yref: `y${k + 1} domain`, x: 0.5, y: 1.0, yanchor: "bottom" })),
  };
  tasks.forEach((_, k) => {
    layout[`yaxis${k ? k + 1 : ""}`] = { autorange: "reversed", automargin: true,
      showticklabels: k % columns === 0 };
  });
  Plotly.react("heatmap", traces, layout, { responsive: true, displaylogo: false });
}

function drawHeatmap() {
  const tasks = chosen(state.tasks, DATA.tasks);
  const models = shownModels();
  if (state.facet === "grid") {
    drawGrid(tasks, models);
    return;
  }
  const cells = models.map((m) => tasks.map((t) => reachCell(t, m)));
  const trace = {
    type: "heatmap",
    x: tasks.map((t) => DATA.tasks[t].name),
    y: models.map((m) => DATA.models[m].label),
    z: cells.map((row) => row.map((c) => c.share)),
    text: cells.map((row) => row.map((c) => c.short)),  // the median; the range on hover
    customdata: models.map((m, i) => tasks.map((t, j) => [t, m, cells[i][j].text,
      DATA.models[m].label, DATA.tasks[t].name])),
    texttemplate: "%{text}", textfont: { size: 10 }, hovertemplate: HOVER,
    ...CELLS, colorbar: COLORBAR,
  };
  const layout = {
    title: { text: "Reach: the largest test size up to which a model meets the task (n/l: not learned)" },
    height: 160 + 26 * models.length,
    margin: { l: 150, r: 20, t: 40, b: 110 },
    xaxis: { tickangle: -45, automargin: true },
    yaxis: { autorange: "reversed", automargin: true },
  };
  Plotly.react("heatmap", [trace], layout, { responsive: true, displaylogo: false });
}

// Mean, min and max over the chosen seeds of one model's scores, by size.
function curve(task, model, metric) {
  const bySize = new Map();
  const failedSeeds = new Set(), naSizes = new Set();
  for (const i of byRun.get(`${task}|${model}`) || []) {
    const seed = DATA.rows.seed[i];
    if (!state.seeds.has(seed)) continue;
    const status = DATA.rows.status[i];
    if (status === "failed") failedSeeds.add(seed);
    if (status === "n/a") naSizes.add(DATA.rows.card[i]);
    const value = DATA.rows[metric][i];
    if (status !== "ok" || value === null) continue;
    const card = DATA.rows.card[i];
    if (!bySize.has(card)) bySize.set(card, []);
    bySize.get(card).push(value);
  }
  const sizes = [...bySize.keys()].sort((a, b) => a - b);
  const mean = sizes.map((c) => bySize.get(c).reduce((a, b) => a + b, 0) / bySize.get(c).length);
  return {
    sizes, mean,
    low: sizes.map((c) => Math.min(...bySize.get(c))),
    high: sizes.map((c) => Math.max(...bySize.get(c))),
    seeds: Math.max(0, ...sizes.map((c) => bySize.get(c).length)),
    failedSeeds, naSizes,
  };
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"];

function modelTraces(task, model, metric, color) {
  const name = model === GUESS ? DATA.guess : DATA.models[model].label;
  const c = curve(task, model, metric);
  const notes = [];
  if (c.failedSeeds.size) notes.push(`${c.failedSeeds.size} seed(s) failed`);
  if (c.naSizes.size) notes.push(`n/a at ${Math.min(...c.naSizes)}+`);
  const label = notes.length ? `${name} (${notes.join(", ")})` : name;
  if (!c.sizes.length) return { traces: [], missing: label };
  const meta = { model: model === GUESS ? "constant" : DATA.models[model].name };
  const line = {
    type: "scatter", mode: "lines+markers", x: c.sizes, y: c.mean, name: label,
    legendgroup: label, line: { color, dash: model === GUESS ? "dot" : "solid" },
    meta: { ...meta, role: "mean" },
    hovertemplate: `${name}: %{y:.4g} at %{x}<extra></extra>`,
  };
  if (c.seeds < 2) return { traces: [line] };
  const band = {
    type: "scatter", mode: "lines", x: [...c.sizes, ...[...c.sizes].reverse()],
    y: [...c.high, ...[...c.low].reverse()], fill: "toself", fillcolor: color,
    opacity: 0.2, line: { width: 0 }, hoverinfo: "skip", showlegend: false,
    legendgroup: label, meta: { ...meta, role: "range" },
  };
  return { traces: [band, line] };
}

function drawCurves() {
  const note = document.getElementById("note");
  if (state.task === null || !state.tasks.has(state.task)) {
    Plotly.purge("curves");
    note.textContent = "Click a cell of the reach table to draw that task's curves.";
    drawRuns();
    return;
  }
  const task = DATA.tasks[state.task];
  const metric = task.metrics.includes(state.metric) ? state.metric : task.metrics[0];
  const models = shownModels();
  if (task.guessed && metric === "mae") models.push(GUESS);
  const traces = [], missing = [];
  models.forEach((m, k) => {
    const made = modelTraces(state.task, m, metric, COLORS[k % COLORS.length]);
    traces.push(...made.traces);
    if (made.missing) missing.push(made.missing);
  });
  const accuracy = metric === "acc";
  const ylog = state.ylog ?? !accuracy;
  document.getElementById("ylog").checked = ylog;
  const layout = {
    title: { text: `Task ${task.name}: ${accuracy ? "accuracy" : "mean absolute error"} by set size` },
    height: 400 + 22 * Math.ceil(models.length / 5),  // the legend's rows below the plot
    xaxis: { title: { text: "number of elements in the set" }, type: state.xlog ? "log" : "linear" },
    yaxis: {
      title: { text: accuracy ? "accuracy" : "mean absolute error" },
      type: ylog ? "log" : "linear",
      ...(accuracy && !ylog ? { range: [0, 1.02] } : {}),
    },
    shapes: [{ type: "rect", xref: "x", yref: "paper", x0: task.train[0], x1: task.train[1],
      y0: 0, y1: 1, fillcolor: "#888", opacity: 0.15, line: { width: 0 }, layer: "below" }],
    annotations: [{ xref: "x", yref: "paper", x: state.xlog ? Math.log10(task.train[0]) : task.train[0],
      y: 1, xanchor: "left", yanchor: "bottom", showarrow: false,
      text: `training sizes (${task.train[0]}-${task.train[1]})` }],
    legend: { orientation: "h", y: -0.2 },
    margin: { t: 50 },
  };
  Plotly.react("curves", traces, layout, { responsive: true, displaylogo: false });
  const parts = [`${task.about}. A model meets the task at a size when ${task.criterion}.`];
  if (metric !== state.metric) parts.push(`This task is scored by ${metric === "acc" ? "accuracy" : "error"} only.`);
  if (missing.length) parts.push(`No finished run to draw: ${missing.join("; ")}.`);
  note.textContent = parts.join(" ");
  drawRuns();
}

function cellOf(tag, text, cls) {
  const cell = document.createElement(tag);
  cell.textContent = text;
  if (cls) cell.className = cls;
  return cell;
}

// The chosen task's runs: model, seed, status, reach, error and links to its folder.
function drawRuns() {
  const table = document.getElementById("runs");
  const title = document.getElementById("runs-title");
  table.replaceChildren();
  title.textContent = "The task's runs";
  if (state.task === null || !state.tasks.has(state.task)) return;
  let count = 0;
  const head = document.createElement("tr");
  ["model", "seed", "status", "reach", "error", "run folder"].forEach((h) => head.append(cellOf("th", h)));
  table.append(head);
  for (const m of shownModels()) {
    for (const seed of DATA.seeds.filter((s) => state.seeds.has(s))) {
      const mine = (byRun.get(`${state.task}|${m}`) || []).filter((i) => DATA.rows.seed[i] === seed);
      if (!mine.length) continue;
      const statuses = new Set(mine.map((i) => DATA.rows.status[i]));
      const status = statuses.has("failed") ? "failed" : statuses.has("n/a") ? "n/a at some sizes" : "ok";
      const errors = [...new Set(mine.map((i) => DATA.errors[DATA.rows.error[i]]).filter((e) => e))];
      let reach = "";
      DATA.reach.task.forEach((t, i) => {
        if (t === state.task && DATA.reach.model[i] === m && DATA.reach.seed[i] === seed) {
          reach = String(DATA.reach.reach[i]);
        }
      });
      const row = document.createElement("tr");
      row.append(cellOf("td", DATA.models[m].label), cellOf("td", String(seed)),
        cellOf("td", status, status === "failed" ? "failed" : status === "ok" ? "" : "na"),
        cellOf("td", reach), cellOf("td", errors.join("; ")));
      const links = cellOf("td", "");
      const run = DATA.runs[`${state.task}|${m}|${seed}`];
      if (run) {
        const [folder, files] = run;
        const all = document.createElement("a");
        all.href = `${encodeURI(folder)}/`;
        all.textContent = folder;
        links.append(all);
        for (const f of files) {
          const a = document.createElement("a");
          a.href = `${encodeURI(folder)}/${encodeURI(f)}`;
          a.textContent = f;
          links.append(" ", a);
        }
      } else {
        links.textContent = "-";
        links.title = "this folder does not hold the run's folder";
      }
      row.append(links);
      table.append(row);
      count += 1;
    }
  }
  const failed = table.querySelectorAll("td.failed").length;
  title.textContent = `The runs of ${DATA.tasks[state.task].name}: ${count}` +
    (failed ? `, ${failed} failed` : "") + " (status, reach, error, run folder)";
}

function checkboxes(id, items, set, text, name = text, hint = () => "") {
  const box = document.getElementById(id);
  const buttons = document.createElement("div");
  for (const [word, on] of [["all", true], ["none", false]]) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = word;
    b.addEventListener("click", () => {
      items.forEach((item) => (on ? set.add(item) : set.delete(item)));
      box.querySelectorAll("input").forEach((input) => { input.checked = on; });
      redraw();
    });
    buttons.append(b);
  }
  const list = document.createElement("div");
  list.className = "list";
  items.forEach((item) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.checked = set.has(item);
    input.value = String(item);
    input.dataset.name = name(item);
    input.addEventListener("change", () => {
      if (input.checked) set.add(item); else set.delete(item);
      redraw();
    });
    label.append(input, " ", text(item));
    label.title = hint(item);
    list.append(label);
  });
  box.append(buttons, list);
}

// The centre of the drawn heatmap's cell in row ``model``, column ``task`` (positions
// among those shown), in the window's pixels: where a user would click.
function cellCentre(model, task) {
  const gd = document.getElementById("heatmap");
  const box = gd.querySelector(".nsewdrag").getBoundingClientRect();
  return [box.left + gd._fullLayout.xaxis.l2p(task), box.top + gd._fullLayout.yaxis.l2p(model)];
}

function redraw() {
  drawHeatmap();
  drawCurves();
}

function showTask(task) {
  state.task = task;
  drawCurves();
}

// A model of parts names them on hover (phi, pooling, rho); the others say they are not.
const partsOf = (parts) => (parts ? `phi ${parts.phi}, pooling ${parts.pooling}, rho ${parts.rho}`
  : "not a model of parts");
checkboxes("models", DATA.models.map((_, i) => i), state.models, (i) => DATA.models[i].label,
  (i) => DATA.models[i].name, (i) => partsOf(DATA.models[i].parts));
checkboxes("bases", [...state.bases], state.bases, (b) => b);
checkboxes("readouts", [...state.readouts], state.readouts, (r) => r);
document.querySelectorAll("input[name=facet]").forEach((input) => {
  input.addEventListener("change", () => { state.facet = input.value; drawHeatmap(); });
});
checkboxes("tasks", DATA.tasks.map((_, i) => i), state.tasks, (i) => DATA.tasks[i].name);
checkboxes("seeds", DATA.seeds, state.seeds, (s) => `seed ${s}`);
document.querySelectorAll("input[name=metric]").forEach((input) => {
  input.addEventListener("change", () => { state.metric = input.value; drawCurves(); });
});
document.getElementById("xlog").addEventListener("change", (e) => { state.xlog = e.target.checked; drawCurves(); });
document.getElementById("ylog").addEventListener("change", (e) => { state.ylog = e.target.checked; drawCurves(); });
redraw();
document.getElementById("heatmap").on("plotly_click", (event) => {
  const [task] = event.points[0].customdata;
  showTask(task);
});
window.explorer = { DATA, state, showTask, redraw, cellCentre };
