// The lifecycle tally's dashboard: how far a rollout has got per component, the state of this
// tally, the nodes of a version, and the live feed. Plain JavaScript, no build step, no
// dependencies; served from the tally binary.
//
// Everything the API returns comes from whoever publishes events (identities, components,
// versions), so it reaches the page only as text: textContent, dataset and title, never as
// markup.
//
// Stable hooks for automated browser tests (keep them when changing the page):
//   #role[data-state]                         leader | follower
//   #broker[data-state]                       connected | disconnected | none (fed in process)
//   #readiness[data-state]                    ready | not-ready; its text is "ready" or the
//                                             reason (what /readyz answers)
//   #refused, #expired, #lost                 refused events, expired nodes, lost nodes
//   [data-component="NAME"][data-nodes="N"]   one element per component; its node count is
//                                             also its text, in .component-nodes
//   [data-version="V"][data-count="N"]        one bar per version, inside its component,
//                                             newest version first; .version-share is its
//                                             share of the component's nodes ("12.5%");
//                                             data-newest="true" on the newest; a click
//                                             lists its nodes
//   [data-lost="N"]                           the lost nodes of a component (.component-lost);
//                                             a click lists them
//   #nodes-panel[data-loaded="K"]             the node list, K pages loaded so far;
//                                             #nodes-list tr[data-identity] one row per node,
//                                             #nodes-next the next page (hidden after the last)
//   #feed                                     the live feed; one child element per event,
//                                             newest first, with data-id = the event id and
//                                             data-type = its type
//   #pause[aria-pressed]                      pauses and resumes the feed
//   #filter                                   the filter box, applied on Enter
//   #filter-error                             the server's message for a rejected filter
//   #rate                                     events per second over the last second
//   document.body.dataset.updated             the time (ms since the epoch) of the last
//                                             successful refresh of the counts and state
//
// Times are UTC, as `lifecycle view` shows them, and say so.
//
// Data: GET api/v1/status and api/v1/components every second (components 503 until the
// counts have been current once), api/v1/nodes?component=&version=&state=&limit=&cursor=
// for a node list, and the Server-Sent Events of api/v1/events?filter=EXPR: one message per
// event with the event's Choria JSON as data, a `lagged` event when this page fell behind.
"use strict";

(function () {
  const MAX_ROWS = 200;
  const REFRESH_MS = 1000;
  const NODES_PAGE = 25;

  const $ = (id) => document.getElementById(id);
  const els = {
    status: $("status"),
    role: $("role"),
    broker: $("broker"),
    readiness: $("readiness"),
    refused: $("refused"),
    expired: $("expired"),
    lost: $("lost"),
    components: $("components"),
    nodesPanel: $("nodes-panel"),
    nodesTitle: $("nodes-title"),
    nodesList: $("nodes-list"),
    nodesError: $("nodes-error"),
    nodesShown: $("nodes-shown"),
    nodesNext: $("nodes-next"),
    nodesClose: $("nodes-close"),
    feed: $("feed"),
    rate: $("rate"),
    pause: $("pause"),
    paused: $("paused"),
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

  // A version keeps its colour wherever it shows: picked from its name. The newest version
  // of a component has the highlight colour instead (see style.css).
  const PALETTE = 8;

  function colourOf(version) {
    let hash = 0;
    for (let i = 0; i < version.length; i++) hash = (hash * 31 + version.charCodeAt(i)) >>> 0;
    return hash % PALETTE;
  }

  // ---- times, in UTC ----

  const two = (n) => String(n).padStart(2, "0");

  function clock(seconds) {
    const date = seconds ? new Date(seconds * 1000) : new Date();
    return `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
  }

  function dateTime(seconds) {
    const date = new Date(seconds * 1000);
    if (Number.isNaN(date.getTime())) return String(seconds);
    return `${date.getUTCFullYear()}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())} ${clock(seconds)}`;
  }

  // ---- an event's type and display line, from its Choria JSON ----

  function typeOf(e) {
    const protocol = String(e.protocol || "");
    const lifecycle = /^io\.choria\.lifecycle\.v1\.(.+)$/.exec(protocol) ||
      /^choria:lifecycle:([^:]+):1$/.exec(protocol);
    if (lifecycle) return lifecycle[1];
    if (protocol === "io.choria.machine.v1.transition") return "transition";
    if (/^io\.choria\.machine\.watcher\..+\.v1\.state$/.test(protocol)) return "state";
    return "";
  }

  function displayLine(e) {
    const type = typeOf(e);
    if (type === "transition") {
      return `[transition] ${e.identity} ${e.machine} transitioned via event ${e.transition}: ${e.from_state} => ${e.to_state}`;
    }
    if (type === "state") return `[state] ${e.identity} ${e.machine}#${e.name} ${e.type} watcher state`;
    if (!type) return `[${String(e.protocol || "")}] ${e.identity}`;
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

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // ---- rendering: at most once per animation frame ----

  let counts = null; // the last answer of api/v1/components, not yet drawn
  let state = null; // the last answer of api/v1/status, not yet drawn
  let lostBy = new Map(); // component -> lost nodes, from the last status
  let pending = []; // events received, not yet drawn (at most MAX_ROWS kept)
  let frame = 0;

  function schedule() {
    if (!frame) frame = requestAnimationFrame(render);
  }

  function render() {
    frame = 0;
    if (state) {
      renderStatus(state);
      state = null;
    }
    if (counts) {
      renderCounts(counts);
      counts = null;
      document.body.dataset.updated = String(Date.now());
    }
    if (pending.length && !paused) {
      renderFeed(pending);
      pending = [];
    }
  }

  function badge(el, stateName, text, title) {
    el.dataset.state = stateName;
    el.textContent = text;
    el.title = title || text;
  }

  function renderStatus(s) {
    badge(els.role, s.leader ? "leader" : "follower", s.leader ? "leader" : "follower",
      s.leader ? "This tally leads: its series say active=\"1\"" : "Another tally leads");
    if (!s.broker) {
      badge(els.broker, "none", "no broker (in process)");
    } else if (s.connected) {
      badge(els.broker, "connected", "broker connected");
    } else {
      badge(els.broker, "disconnected", "broker disconnected");
    }
    badge(els.readiness, s.ready ? "ready" : "not-ready", s.ready ? "ready" : String(s.reason), String(s.reason));
    els.refused.textContent = String(s.refused);
    els.expired.textContent = String(s.expired);
    const lost = Array.isArray(s.lost) ? s.lost : [];
    lostBy = new Map(lost.map((l) => [String(l.component), Number(l.lost) || 0]));
    els.lost.textContent = String(lost.reduce((sum, l) => sum + (Number(l.lost) || 0), 0));
  }

  function renderCounts(components) {
    const box = els.components;
    if (!components.length) {
      box.replaceChildren(element("p", "empty", "No components counted yet."));
      return;
    }
    const nodes = components.map((c) => {
      const el = element("div", "component");
      el.dataset.component = c.component;
      el.dataset.nodes = String(c.nodes);

      const head = element("div", "component-head");
      head.append(element("span", "component-name", c.component));
      const count = element("span", "component-nodes", String(c.nodes));
      count.title = `${c.nodes} nodes up`;
      head.append(count);
      el.append(head);

      const versions = Object.entries(c.versions || {})
        .sort((a, b) => compareVersions(b[0], a[0]));
      versions.forEach(([version, n], i) => {
        const share = c.nodes > 0 ? (100 * n) / c.nodes : 0;
        const bar = element("button", "version");
        bar.type = "button";
        bar.dataset.version = version;
        bar.dataset.count = String(n);
        bar.dataset.colour = String(colourOf(version));
        if (i === 0) bar.dataset.newest = "true";
        bar.title = `${version}: ${n} of ${c.nodes} nodes (${share.toFixed(1)}%)` +
          (i === 0 ? ", the newest version" : "") + ". Click for its nodes.";
        const fill = element("div", "version-fill");
        fill.style.width = `${share}%`;
        const label = element("div", "version-label");
        const name = element("span", "version-name", version);
        if (i === 0) name.append(element("span", "newest", "newest"));
        label.append(
          name,
          element("span", "version-count", String(n)),
          element("span", "version-share", `${share.toFixed(1)}%`),
        );
        bar.append(fill, label);
        bar.addEventListener("click", () => showNodes({ component: c.component, version, state: "up" }));
        el.append(bar);
      });

      const lost = lostBy.get(c.component) || 0;
      const line = element("button", "component-lost", `${lost} lost`);
      line.type = "button";
      line.dataset.lost = String(lost);
      line.disabled = lost === 0;
      line.title = "Nodes not seen for the max age without a shutdown. Click for them.";
      line.addEventListener("click", () => showNodes({ component: c.component, state: "lost" }));
      el.append(line);
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
      const type = typeOf(e);
      row.dataset.type = type;
      const time = element("time", "", clock(e.timestamp));
      time.title = `${dateTime(Number(e.timestamp) || 0)} UTC`;
      const line = element("span", "line", displayLine(e));
      line.title = line.textContent;
      row.append(time, line);
      fragment.append(row);
    }
    els.feed.prepend(fragment);
    while (els.feed.childElementCount > MAX_ROWS) els.feed.lastElementChild.remove();
  }

  // ---- counts and state ----

  function setStatus(text, warn) {
    els.status.textContent = text;
    els.status.classList.toggle("warn", Boolean(warn));
  }

  async function refresh() {
    try {
      const [statusAnswer, countsAnswer] = await Promise.all([
        fetch("api/v1/status", { cache: "no-store" }),
        fetch("api/v1/components", { cache: "no-store" }),
      ]);
      if (statusAnswer.ok) {
        state = await statusAnswer.json();
      }
      if (countsAnswer.ok) {
        counts = await countsAnswer.json();
        setStatus(`updated ${clock()} UTC`);
      } else {
        const text = (await countsAnswer.text()).trim() || `HTTP ${countsAnswer.status}`;
        setStatus(`counts not served yet (${text})`, true);
      }
      schedule();
    } catch (err) {
      setStatus("tally unreachable", true);
    }
    setTimeout(refresh, REFRESH_MS);
  }

  // ---- the nodes of a version, a page at a time ----

  let listing = null; // { component, version, state }
  let cursor = null; // where the next page starts
  let shownSoFar = 0;
  let pages = 0;

  function showNodes(query) {
    listing = query;
    cursor = null;
    shownSoFar = 0;
    els.nodesTitle.textContent = query.version
      ? `${query.component} ${query.version}: nodes up`
      : `${query.component}: lost nodes`;
    els.nodesList.replaceChildren();
    els.nodesPanel.hidden = false;
    loadNodes();
  }

  async function loadNodes() {
    const query = listing;
    const params = new URLSearchParams({ component: query.component, state: query.state });
    if (query.version !== undefined) params.set("version", query.version);
    params.set("limit", String(NODES_PAGE));
    if (cursor) params.set("cursor", cursor);
    els.nodesNext.disabled = true;
    els.nodesError.textContent = "";
    try {
      const response = await fetch(`api/v1/nodes?${params}`, { cache: "no-store" });
      if (!response.ok) {
        els.nodesError.textContent = (await response.text()).trim() || `HTTP ${response.status}`;
        return;
      }
      const page = await response.json();
      if (query !== listing) return; // another list was asked for meanwhile
      const rows = page.nodes.map((n) => {
        const row = document.createElement("tr");
        row.dataset.identity = String(n.identity);
        row.dataset.state = String(n.state);
        const cells = [
          element("td", "node-identity", String(n.identity)),
          element("td", "", String(n.version)),
          element("td", "", dateTime(Number(n.last_seen) || 0)),
          element("td", `node-state ${n.state === "lost" ? "lost" : ""}`, String(n.state)),
        ];
        // Cut short to fit: the whole text on hover.
        for (const cell of cells) cell.title = cell.textContent;
        row.append(...cells);
        return row;
      });
      els.nodesList.replaceChildren(...rows);
      const first = shownSoFar + 1;
      shownSoFar += rows.length;
      els.nodesShown.textContent = rows.length
        ? `nodes ${first} to ${shownSoFar}${page.next_cursor ? "" : " (the last)"}`
        : "no nodes";
      cursor = page.next_cursor;
      els.nodesNext.hidden = !cursor;
      pages += 1;
      els.nodesPanel.dataset.loaded = String(pages);
    } catch (err) {
      els.nodesError.textContent = "tally unreachable";
    } finally {
      els.nodesNext.disabled = false;
    }
  }

  els.nodesNext.addEventListener("click", () => {
    if (listing && cursor) loadNodes();
  });
  els.nodesClose.addEventListener("click", () => {
    listing = null;
    els.nodesPanel.hidden = true;
  });

  // ---- the live feed ----

  let source = null;
  let received = 0; // events in the current second
  let missed = 0;
  let paused = false;
  let held = 0; // events received while paused

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
      if (paused) {
        held++;
        els.paused.textContent = `Paused: ${held} new events held (the latest ${Math.min(held, MAX_ROWS)} show on resume).`;
      } else {
        schedule();
      }
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

  function setPaused(on) {
    paused = on;
    held = 0;
    els.pause.setAttribute("aria-pressed", String(on));
    els.pause.textContent = on ? "resume" : "pause";
    els.feed.dataset.paused = String(on);
    els.paused.hidden = !on;
    els.paused.textContent = "Paused: no new events yet.";
    if (!on) schedule();
  }

  els.pause.addEventListener("click", () => setPaused(!paused));

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
  refresh();
})();
