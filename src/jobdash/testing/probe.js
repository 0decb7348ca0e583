// The benchmarks' in-page probe, installed before any page script runs
// (Playwright add_init_script). It records, on the browser's clock:
//
// * when the DOM first satisfies an expectation registered from Python
//   (a job row or a workflow badge showing a state, the page being ready, the
//   job table showing a filter's or a sort's result), checked in a
//   MutationObserver callback, i.e. right after the DOM change and before
//   the next paint;
// * every distinct text a watched job row's state or card badge shows, and
//   when it first showed (probe.watch, probe.histories);
// * every long task (> 50 ms of main-thread work), via PerformanceObserver;
// * every long animation frame (> 50 ms) with the scripts it ran (Long
//   Animation Frames API: each script's source URL, function and invoker),
//   so that a benchmark can say whose code a long task was.
//
// Panel renders every component inside a shadow root, which observers and
// selectors on the document do not see into; the probe wraps attachShadow so
// that every shadow root is observed from birth, and searches through shadow
// roots itself.
//
// Times are epoch milliseconds (performance.timeOrigin + performance.now()),
// the same clock as Python's time.time() * 1000 on this machine.
(() => {
  const now = () => performance.timeOrigin + performance.now();
  const probe = {
    longTasks: [],
    longFrames: [],
    hits: [],
    pending: new Map(),
    mutationCallbacks: 0,
    checkMs: 0,
    marks: {},
  };
  window.__jdProbe = probe;

  if (PerformanceObserver.supportedEntryTypes.includes("longtask")) {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        probe.longTasks.push([performance.timeOrigin + entry.startTime, entry.duration]);
      }
    }).observe({ type: "longtask", buffered: true });
  }
  if (PerformanceObserver.supportedEntryTypes.includes("long-animation-frame")) {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        probe.longFrames.push({
          start: performance.timeOrigin + entry.startTime,
          duration: entry.duration,
          scripts: (entry.scripts || []).map((script) => ({
            source: script.sourceURL || "",
            func: script.sourceFunctionName || "",
            invoker: script.invoker || "",
            duration: script.duration,
          })),
        });
      }
    }).observe({ type: "long-animation-frame", buffered: true });
  }

  // --- searching through shadow roots ---------------------------------------------

  function deepAll(root, selector, found = []) {
    for (const el of root.querySelectorAll(selector)) found.push(el);
    for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) deepAll(el.shadowRoot, selector, found);
    }
    return found;
  }

  function deepFirst(root, selector) {
    const direct = root.querySelector(selector);
    if (direct) return direct;
    for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) {
        const inner = deepFirst(el.shadowRoot, selector);
        if (inner) return inner;
      }
    }
    return null;
  }

  const within = (host) => host.shadowRoot || host;
  const text = (el) => (el ? el.textContent.trim() : "");
  const cache = {};

  function cached(key, find) {
    let el = cache[key];
    if (!el || !el.isConnected) {
      el = find();
      if (el) cache[key] = el;
    }
    return el;
  }

  const jobTable = () => cached("table", () => deepFirst(document, ".jd-job-table"));

  function tableRows() {
    const table = jobTable();
    return table ? deepAll(within(table), ".tabulator-row") : [];
  }

  const cell = (row, field) => text(row.querySelector(`[tabulator-field="${field}"]`));

  function rowOfJob(short) {
    for (const row of tableRows()) {
      if (cell(row, "job") === short) return row;
    }
    return null;
  }

  const shows = (label, state) => label === state || label.startsWith(state + " ");

  function badgeText(cardClass) {
    const card = cached(`card:${cardClass}`, () =>
      deepFirst(document, `.jd-workflow-card.${cardClass}`),
    );
    return card ? text(deepFirst(within(card), ".jd-status-badge")) : "";
  }

  // --- expectations ---------------------------------------------------------------

  const checks = {
    // The job table's row of the job whose short number is `short` shows `state`.
    row: ({ short, state }) => {
      const row = rowOfJob(short);
      return row !== null && shows(cell(row, "state"), state);
    },
    // The badge of the card with class `card` starts with `state`.
    badge: ({ card, state }) => shows(badgeText(card), state),
    // Both views show data: job rows with a state, and `cards` cards with badges.
    ready: ({ cards }) => {
      const rows = tableRows();
      if (!rows.length || !cell(rows[0], "state")) return false;
      const found = deepAll(document, ".jd-workflow-card");
      return (
        found.length >= cards &&
        found.every((card) => text(deepFirst(within(card), ".jd-status-badge")) !== "")
      );
    },
    // Every row on the page contains `needle` in `field`, and there are `count`.
    filtered: ({ field, needle, count }) => {
      const rows = tableRows();
      return rows.length === count && rows.every((row) => cell(row, field).includes(needle));
    },
    // The page's rows show `field` in exactly this order.
    ordered: ({ field, values }) => {
      const rows = tableRows();
      return (
        rows.length === values.length && rows.every((row, i) => cell(row, field) === values[i])
      );
    },
  };

  function evaluate() {
    const began = performance.now();
    const at = now();
    for (const [id, expectation] of probe.pending) {
      if (checks[expectation.kind](expectation)) {
        probe.hits.push({ id, at, mutations: probe.mutationCallbacks });
        probe.pending.delete(id);
      }
    }
    probe.checkMs += performance.now() - began;
  }

  // Register an expectation; if it already holds, it is recorded at once
  // with `already: true` (a measurement that went wrong, not a fast one).
  probe.expect = (id, expectation) => {
    if (checks[expectation.kind](expectation)) {
      probe.hits.push({ id, at: now(), already: true });
      return true;
    }
    probe.pending.set(id, expectation);
    return false;
  };

  // Watched values: the state cell of a job's row, a card's badge. Every
  // distinct text each shows is recorded with when it first showed (checked
  // in every mutation callback), so a whole sequence of changes is timed from
  // one registration, and a state that was never shown is visible as such.
  const watched = new Map();

  function watchedText(spec) {
    if (spec.kind === "row") {
      const row = rowOfJob(spec.short);
      return row === null ? "" : cell(row, "state");
    }
    return badgeText(spec.card);
  }

  function record(at) {
    const began = performance.now();
    for (const { spec, history } of watched.values()) {
      const value = watchedText(spec);
      if (!history.length || history[history.length - 1][1] !== value) {
        history.push([at, value]);
      }
    }
    probe.checkMs += performance.now() - began;
  }

  // Watch `spec` ({kind: "row", short} or {kind: "badge", card}) as `key`.
  probe.watch = (key, spec) => {
    watched.set(key, { spec, history: [] });
    record(now());
  };
  probe.histories = () =>
    Object.fromEntries(Array.from(watched, ([key, { history }]) => [key, history]));

  // The time of the latest event of a type in the capture phase (a click, an
  // input), for latencies measured from the user's action.
  for (const type of ["click", "input", "keydown"]) {
    window.addEventListener(type, () => (probe.marks[type] = now()), true);
  }

  const observer = new MutationObserver(() => {
    probe.mutationCallbacks += 1;
    if (probe.pending.size) evaluate();
    if (watched.size) record(now());
  });
  const options = { subtree: true, childList: true, characterData: true };
  const attachShadow = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const root = attachShadow.call(this, init);
    observer.observe(root, options);
    return root;
  };
  observer.observe(document, options);
})();
