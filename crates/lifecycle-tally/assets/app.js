// The lifecycle tally's dashboard: counts per component and version, and the live feed.
// Plain JavaScript, no build step, no dependencies; served from the tally binary.
//
// Stable hooks for automated browser tests (keep them when changing the page):
//   [data-component="NAME"][data-nodes="N"]   one element per component; its node count is
//                                             also its text, in .component-nodes
//   [data-version="V"][data-count="N"]        one bar per version, inside its component,
//                                             newest version first
//   #feed                                     the live feed; one child element per event,
//                                             newest first, with data-id = the event id
//   #filter                                   the filter box, applied on Enter
//   #filter-error                             the server's message for a rejected filter
//   #rate                                     events per second over the last second
//   document.body.dataset.updated             the time (ms since the epoch) of the last
//                                             successful refresh of the counts
//
// Data: GET api/v1/components every second (503 while the tally warms up) and the
// Server-Sent Events of api/v1/events?filter=EXPR: one message per event with the event's
// Choria JSON as data, a `lagged` event when this page fell behind.
"use strict";

(function () {
  const MAX_ROWS = 200;
  const REFRESH_MS = 1000;

  const $ = (id) => document.getElementById(id);
  const els = {
    status: $("status"),
    components: $("components"),
    feed: $("feed"),
    rate: $("rate"),
    filter: $("filter"),
    filterForm: $("filter-form"),
    filterError: $("filter-error"),
    lagged: $("lagged"),
  };

  // ---- dotted versions, as the tally compares them: numbers as numbers, else as text ----

  function compareVersions(a, b) {
    const left = a.split(".");
    const right = b.split(".");
    for (let i = 0; ; i++) {
      if (i >= left.length && i >= right.length) return 0;
      if (i >= left.length) return -1;
      if (i >= right.length) return 1;
      const x = left[i];
      const y = right[i];
      let c;
      if (/^[0-9]+$/.test(x) && /^[0-9]+$/.test(y)) {
        const dx = x.replace(/^0+/, "");
        const dy = y.replace(/^0+/, "");
        c = dx.length - dy.length || (dx < dy ? -1 : dx > dy ? 1 : 0);
      } else {
        c = x < y ? -1 : x > y ? 1 : 0;
      }
      if (c !== 0) return c;
    }
  }

  // ---- the display line of an event, from its Choria JSON ----

  function displayLine(e) {
    const protocol = String(e.protocol || "");
    const lifecycle = /^io\.choria\.lifecycle\.v1\.(.+)$/.exec(protocol) ||
      /^choria:lifecycle:([^:]+):1$/.exec(protocol);
    if (!lifecycle) {
      if (protocol === "io.choria.machine.v1.transition") {
        return `[transition] ${e.identity} ${e.machine} transitioned via event ${e.transition}: ${e.from_state} => ${e.to_state}`;
      }
      if (/^io\.choria\.machine\.watcher\..+\.v1\.state$/.test(protocol)) {
        return `[state] ${e.identity} ${e.machine}#${e.name} ${e.type} watcher state`;
      }
      return `[${protocol}] ${e.identity}`;
    }
    const type = lifecycle[1];
    const head = `[${type}] ${e.identity}: `;
    switch (type) {
      case "startup":
      case "alive":
        return `${head}${e.component} version ${e.version}`;
      case "upgraded":
        return `${head}${e.component} version ${e.version} to ${e.new_version}`;
      case "governor": {
        const seq = Number(e.sequence) || 0;
        const gov = e.governor;
        switch (e.event_type) {
          case "enter":
            return head + (seq ? `obtained slot ${seq} on ${gov}` : `obtained slot on ${gov}`);
          case "exit":
            return head + (seq ? `vacated slot ${seq} on ${gov}` : `vacated ${gov}`);
          case "timeouts":
            return `${head}failed to obtain a slot on ${gov}`;
          case "eviction":
            return head + (seq ? `evicted from slot ${seq} on ${gov}` : `evicted from ${gov}`);
          default:
            return `${head}unknown stage on Governor ${gov}`;
        }
      }
      default:
        return `${head}${e.component}`;
    }
  }

  function clock(seconds) {
    const date = seconds ? new Date(seconds * 1000) : new Date();
    return date.toLocaleTimeString([], { hour12: false });
  }

  // ---- rendering: at most once per animation frame ----

  let counts = null; // the last answer of api/v1/components, not yet drawn
  let pending = []; // events received, not yet drawn (at most MAX_ROWS kept)
  let frame = 0;

  function schedule() {
    if (!frame) frame = requestAnimationFrame(render);
  }

  function render() {
    frame = 0;
    if (counts) {
      renderCounts(counts);
      counts = null;
    }
    if (pending.length) {
      renderFeed(pending);
      pending = [];
    }
  }

  function renderCounts(components) {
    const box = els.components;
    if (!components.length) {
      box.replaceChildren(Object.assign(document.createElement("p"), {
        className: "empty",
        textContent: "No components counted yet.",
      }));
      return;
    }
    const nodes = components.map((c) => {
      const el = document.createElement("div");
      el.className = "component";
      el.dataset.component = c.component;
      el.dataset.nodes = String(c.nodes);

      const head = document.createElement("div");
      head.className = "component-head";
      const name = document.createElement("span");
      name.className = "component-name";
      name.textContent = c.component;
      const count = document.createElement("span");
      count.className = "component-nodes";
      count.textContent = String(c.nodes);
      count.title = `${c.nodes} nodes`;
      head.append(name, count);
      el.append(head);

      const versions = Object.entries(c.versions || {})
        .sort((a, b) => compareVersions(b[0], a[0]));
      for (const [version, n] of versions) {
        const share = c.nodes > 0 ? (100 * n) / c.nodes : 0;
        const bar = document.createElement("div");
        bar.className = "version";
        bar.dataset.version = version;
        bar.dataset.count = String(n);
        bar.title = `${version}: ${n} of ${c.nodes} nodes (${share.toFixed(1)}%)`;
        const fill = document.createElement("div");
        fill.className = "version-fill";
        fill.style.width = `${share}%`;
        const label = document.createElement("div");
        label.className = "version-label";
        const v = document.createElement("span");
        v.textContent = version;
        const k = document.createElement("span");
        k.textContent = String(n);
        label.append(v, k);
        bar.append(fill, label);
        el.append(bar);
      }
      return el;
    });
    box.replaceChildren(...nodes);
  }

  function renderFeed(events) {
    const fragment = document.createDocumentFragment();
    // Newest on top: the last received goes first.
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i];
      const row = document.createElement("li");
      row.dataset.id = String(e.id ?? "");
      const time = document.createElement("time");
      time.textContent = clock(e.timestamp);
      const line = document.createElement("span");
      line.className = "line";
      line.textContent = displayLine(e);
      line.title = line.textContent;
      row.append(time, line);
      fragment.append(row);
    }
    els.feed.prepend(fragment);
    while (els.feed.childElementCount > MAX_ROWS) els.feed.lastElementChild.remove();
  }

  // ---- counts ----

  function setStatus(text, warn) {
    els.status.textContent = text;
    els.status.classList.toggle("warn", Boolean(warn));
  }

  async function refreshCounts() {
    try {
      const response = await fetch("api/v1/components", { cache: "no-store" });
      if (response.status === 503) {
        setStatus("warming up", true);
      } else if (!response.ok) {
        setStatus(`counts unavailable: HTTP ${response.status}`, true);
      } else {
        counts = await response.json();
        document.body.dataset.updated = String(Date.now());
        setStatus(`updated ${new Date().toLocaleTimeString([], { hour12: false })}`);
        schedule();
      }
    } catch (err) {
      setStatus("tally unreachable", true);
    }
    setTimeout(refreshCounts, REFRESH_MS);
  }

  // ---- the live feed ----

  let source = null;
  let received = 0; // events in the current second
  let missed = 0;

  function feedUrl(filter) {
    return filter ? `api/v1/events?filter=${encodeURIComponent(filter)}` : "api/v1/events";
  }

  // EventSource hides an error's body, so the filter is tried with fetch first: a 400
  // carries the server's message (with the position of the error). Answers null when the
  // feed would be served, else { status, text }.
  async function checkFilter(url) {
    const abort = new AbortController();
    try {
      const response = await fetch(url, { signal: abort.signal, cache: "no-store" });
      if (response.ok) return null;
      const text = (await response.text()).trim() || `HTTP ${response.status}`;
      return { status: response.status, text };
    } catch (err) {
      return { status: 0, text: "tally unreachable" };
    } finally {
      abort.abort();
    }
  }

  function connect(url) {
    if (source) source.close();
    source = new EventSource(url);
    source.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (err) {
        return;
      }
      if (message.lastEventId && event.id === undefined) event.id = message.lastEventId;
      received++;
      pending.push(event);
      if (pending.length > MAX_ROWS) pending.splice(0, pending.length - MAX_ROWS);
      schedule();
    };
    source.addEventListener("lagged", (message) => {
      missed += Number(message.data) || 0;
      els.lagged.hidden = false;
      els.lagged.textContent = `This page fell behind and skipped ${missed} events.`;
    });
    source.onerror = () => {
      // EventSource retries by itself unless the server refused outright (4xx, 503).
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(() => applyFilter(els.filter.value.trim()), 3000);
      }
    };
  }

  let shown = null; // the filter whose events #feed shows

  async function applyFilter(filter) {
    const url = feedUrl(filter);
    const problem = await checkFilter(url);
    if (problem && problem.status === 400) {
      els.filterError.textContent = problem.text;
      return;
    }
    // Anything else (busy, unreachable) is retried by the EventSource itself.
    els.filterError.textContent = problem ? problem.text : "";
    if (filter !== shown) {
      shown = filter;
      missed = 0;
      els.lagged.hidden = true;
      els.feed.replaceChildren();
      pending = [];
    }
    connect(url);
  }

  els.filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    applyFilter(els.filter.value.trim());
  });

  setInterval(() => {
    els.rate.textContent = String(received);
    received = 0;
  }, 1000);

  const initial = new URLSearchParams(location.search).get("filter") || "";
  els.filter.value = initial;
  applyFilter(initial);
  refreshCounts();
})();
