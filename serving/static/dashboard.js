// Fleet dashboard: vanilla JS over the serving API. No build step, no dependencies.
//
// Live: one EventSource on /live (snapshot, then alerts/vehicles/batch changes).
// Polled: /cluster every 10 s, /fleet/efficiency every 30 s and whenever a new batch
// version is published, /routes/recommendations on a new batch version.
// Every panel shows a plain message when its source is empty or down; no data
// from the API is ever put into the page as HTML (textContent only).
"use strict";

(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 };
  const KM_PER_DEG = 111.32;

  const state = {
    cars: new Map(), // vin -> latest state
    alerts: new Map(), // alert_id -> open alert
    project: null, // [lat, lon] -> [x, y] in map units, once the network is known
    selected: null,
    routes: [],
    network: null,
    batchVersion: undefined,
    live: false, // a snapshot has arrived
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function svg(tag, attrs = {}) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    return node;
  }

  function note(id, text, level = "") {
    const node = $(id);
    node.textContent = text || "";
    node.className = "note" + (level ? " " + level : "");
  }

  async function getJSON(url, timeoutMs = 15000) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const response = await fetch(url, { signal: abort.signal, headers: { Accept: "application/json" } });
      if (!response.ok) {
        let detail = "";
        try {
          const body = await response.json();
          detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
        } catch (_) {
          detail = response.statusText;
        }
        throw new Error(`${url} answered ${response.status}: ${detail}`);
      }
      return await response.json();
    } catch (err) {
      if (err.name === "AbortError") throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
      if (err instanceof TypeError) throw new Error(`the API is not reachable (${url})`);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  // --- formatting -------------------------------------------------------------------

  const num = (value, digits = 1) =>
    value === null || value === undefined ? "–" : Number(value).toFixed(digits);
  const label = (word) => (word || "").replaceAll("_", " ");

  function clock(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? "–" : d.toISOString().slice(11, 19);
  }

  function stamp(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? "–" : d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.round(seconds));
    if (s < 90) return `${s} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
    return `${(s / 86400).toFixed(1)} days`;
  }

  function servedText(served) {
    // Which layers answered, and the batch view's version and watermark (the Lambda merge).
    if (!served || !served.layers.length) return "";
    const layers = served.layers.join(" + ");
    const batch = served.batch_version === null
      ? "no batch run yet"
      : `batch v${served.batch_version} to ${clock(served.watermark)} UTC`;
    return `${layers} · ${batch}`;
  }

  // --- the map ------------------------------------------------------------------------

  function projection(network) {
    const cosLat = Math.cos((network.centre[0] * Math.PI) / 180);
    const [lat0, lon0] = network.centre;
    return ([lat, lon]) => [(lon - lon0) * KM_PER_DEG * cosLat, -(lat - lat0) * KM_PER_DEG];
  }

  function drawNetwork(network) {
    state.network = network;
    state.project = projection(network);
    const roads = $("roads");
    const zones = $("zones");
    roads.replaceChildren();
    zones.replaceChildren();
    let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
    const order = { direct: 0, ring: 1, motorway: 2 };
    const routes = [...network.routes].sort((a, b) => (order[a.kind] ?? 0) - (order[b.kind] ?? 0));
    for (const route of routes) {
      const points = route.points.map(state.project);
      for (const [x, y] of points) {
        minX = Math.min(minX, x); maxX = Math.max(maxX, x);
        minY = Math.min(minY, y); maxY = Math.max(maxY, y);
      }
      const line = svg("polyline", {
        class: `road road-${route.kind}`,
        points: points.map((p) => p.map((v) => v.toFixed(3)).join(",")).join(" "),
      });
      line.append(svg("title"));
      line.lastChild.textContent = `${label(route.origin)} → ${label(route.destination)} (${route.kind}, ${num(route.length_km)} km)`;
      roads.append(line);
    }
    for (const zone of network.zones) {
      const [x, y] = state.project([zone.latitude, zone.longitude]);
      const group = svg("g", { class: "zone" });
      group.append(svg("circle", { cx: x.toFixed(3), cy: y.toFixed(3), r: "0.55" }));
      const text = svg("text", { x: (x + 0.8).toFixed(3), y: (y - 0.6).toFixed(3) });
      text.textContent = label(zone.name);
      group.append(text);
      zones.append(group);
    }
    const pad = 2.5;
    $("map").setAttribute(
      "viewBox",
      [minX - pad, minY - pad, maxX - minX + 2 * pad, maxY - minY + 2 * pad].map((v) => v.toFixed(2)).join(" "),
    );
    for (const car of state.cars.values()) placeCar(car);
    highlightPair();
  }

  function worstSeverity(vin) {
    let worst = null;
    for (const alert of state.alerts.values()) {
      if (alert.vin !== vin) continue;
      if (worst === null || SEVERITY_RANK[alert.severity] > SEVERITY_RANK[worst]) worst = alert.severity;
    }
    return worst;
  }

  function placeCar(car) {
    if (!state.project) return;
    const id = "car-" + car.vin;
    let dot = document.getElementById(id);
    if (car.latitude === null || car.longitude === null) {
      if (dot) dot.remove();
      return;
    }
    const [x, y] = state.project([car.latitude, car.longitude]);
    if (!dot) {
      dot = svg("circle", { id, r: "0.42" });
      dot.append(svg("title"));
      dot.addEventListener("click", () => select(car.vin));
      $("cars").append(dot);
    }
    const severity = worstSeverity(car.vin);
    dot.setAttribute("class", "car" + (severity ? " sev-" + severity : "") + (state.selected === car.vin ? " selected" : ""));
    dot.setAttribute("cx", x.toFixed(3));
    dot.setAttribute("cy", y.toFixed(3));
    if (severity) $("cars").append(dot); // cars with alerts drawn on top
    const trip = car.origin ? ` · ${label(car.origin)} → ${label(car.destination)}` : " · parked";
    dot.firstChild.textContent = `${car.vin}${trip} · ${num(car.speed_kmh, 0)} km/h · fuel ${num(car.fuel_level_percent, 0)} %`;
  }

  function renderMapSummary() {
    const cars = state.cars.size;
    const moving = [...state.cars.values()].filter((c) => (c.speed_kmh || 0) > 1).length;
    $("map-summary").textContent = cars ? `${cars} cars · ${moving} moving` : "";
    if (!state.network) return;
    if (!state.live) {
      note("map-note", "Waiting for the live feed…");
    } else if (!cars) {
      note("map-note", "No car has reported yet. Start the simulator and the hot-path worker (make demo) and cars appear here within seconds.");
    } else {
      note("map-note", "");
    }
    const newest = newestReading();
    $("fleet-time").textContent = newest ? stamp(newest) : "–";
  }

  function newestReading() {
    let newest = null;
    for (const car of state.cars.values()) {
      if (car.event_time && (!newest || car.event_time > newest)) newest = car.event_time;
    }
    return newest;
  }

  function select(vin) {
    state.selected = state.selected === vin ? null : vin;
    for (const dot of document.querySelectorAll("#cars .car.selected")) dot.classList.remove("selected");
    if (state.selected) {
      const dot = document.getElementById("car-" + state.selected);
      if (dot) { dot.classList.add("selected"); $("cars").append(dot); }
    }
    for (const item of document.querySelectorAll("#attention-list > li")) {
      item.classList.toggle("selected", item.dataset.vin === state.selected);
    }
  }

  // --- cars needing attention ---------------------------------------------------------

  function renderAttention() {
    const byCar = new Map();
    for (const alert of state.alerts.values()) {
      if (!byCar.has(alert.vin)) byCar.set(alert.vin, []);
      byCar.get(alert.vin).push(alert);
    }
    const cars = [...byCar.entries()].map(([vin, alerts]) => {
      alerts.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || (a.opened_at < b.opened_at ? 1 : -1));
      return { vin, alerts, worst: alerts[0].severity, newest: alerts.reduce((m, a) => (a.opened_at > m ? a.opened_at : m), "") };
    });
    cars.sort((a, b) => SEVERITY_RANK[b.worst] - SEVERITY_RANK[a.worst] || (a.newest < b.newest ? 1 : -1));

    const list = $("attention-list");
    list.replaceChildren(...cars.map(attentionItem));
    const count = $("attention-count");
    count.textContent = String(cars.length);
    count.className = "count" + (cars.some((c) => c.worst === "critical") ? " hot" : "");
    if (!cars.length) note("attention-note", "No open alerts: every car reporting is healthy.");
    else note("attention-note", "");
  }

  function attentionItem(car) {
    const where = state.cars.get(car.vin);
    const place = where && where.origin ? `${label(where.origin)} → ${label(where.destination)}` : "";
    const item = el("li", { class: "sev-" + car.worst },
      el("span", { class: "vin", text: car.vin }),
      place ? el("span", { class: "where", text: place }) : null,
      el("ul", {}, ...car.alerts.map((alert) => el("li", { "data-alert": alert.alert_id },
        el("span", { class: "badge sev-" + alert.severity, text: alert.severity }),
        el("span", { class: "kind", text: label(alert.kind) }),
        el("span", { class: "since", text: "since " + clock(alert.opened_at), title: stamp(alert.opened_at) }),
      ))),
    );
    item.dataset.vin = car.vin;
    if (state.selected === car.vin) item.classList.add("selected");
    item.addEventListener("click", () => select(car.vin));
    return item;
  }

  function applyAlerts(alerts) {
    const touched = new Set();
    for (const alert of alerts) {
      if (alert.status === "open") state.alerts.set(alert.alert_id, alert);
      else state.alerts.delete(alert.alert_id);
      touched.add(alert.vin);
    }
    renderAttention();
    for (const vin of touched) if (state.cars.has(vin)) placeCar(state.cars.get(vin));
  }

  function applyVehicles(cars) {
    for (const car of cars) {
      state.cars.set(car.vin, car);
      placeCar(car);
    }
    renderMapSummary();
  }

  // --- the live feed ------------------------------------------------------------------

  function liveStatus(text, kind) {
    const pill = $("live-status");
    pill.textContent = text;
    pill.className = "pill pill-" + kind;
  }

  function connectLive() {
    if (!("EventSource" in window)) {
      note("attention-note", "This browser cannot receive live updates (no EventSource).", "warn");
      return;
    }
    const source = new EventSource("/live");
    const parse = (handler) => (event) => {
      try {
        handler(JSON.parse(event.data));
      } catch (err) {
        console.warn("live feed: ignoring a message", err);
      }
    };
    source.onopen = () => liveStatus("live", "live");
    source.onerror = () => liveStatus("reconnecting", "wait");
    source.addEventListener("snapshot", parse((data) => {
      state.live = true;
      state.alerts.clear();
      state.cars.clear();
      $("cars").replaceChildren();
      applyAlerts(data.alerts);
      applyVehicles(data.vehicles);
      onBatch(data.batch);
    }));
    source.addEventListener("alerts", parse((data) => applyAlerts(data.alerts)));
    source.addEventListener("vehicles", parse((data) => applyVehicles(data.vehicles)));
    source.addEventListener("batch", parse(onBatch));
    source.addEventListener("status", parse((data) => {
      if (data.store.ok) {
        liveStatus("live", "live");
        if (!state.alerts.size) renderAttention();
      } else {
        liveStatus("store down", "down");
        note("attention-note", `${data.store.error}. Alerts shown may be stale until it is back.`, "bad");
      }
    }));
  }

  function onBatch(batch) {
    const version = batch ? batch.version : null;
    if (state.batchVersion !== undefined && version === state.batchVersion) return;
    state.batchVersion = version;
    refreshLeaderboard();
    refreshRoutes();
  }

  // --- leaderboard ----------------------------------------------------------------------

  async function refreshLeaderboard() {
    let board;
    try {
      board = await getJSON("/fleet/efficiency?limit=10");
    } catch (err) {
      note("leaderboard-note", `Leaderboard unavailable: ${err.message}`, "bad");
      return;
    }
    $("leaderboard-served").textContent = servedText(board.served);
    const table = $("leaderboard-table");
    const classes = board.classes.filter((c) => c.l_per_100km !== null);
    if (!board.vehicles.length) {
      table.hidden = true;
      note("leaderboard-note", "No car has driven 1 km yet, so there is no efficiency to rank.");
    } else {
      table.hidden = false;
      note("leaderboard-note", board.served.batch_version === null
        ? "No batch view yet: figures are the speed layer's alone until the first batch run."
        : "");
      const mixed = board.served.layers.length > 1;
      table.tBodies[0].replaceChildren(...board.vehicles.map((v) => el("tr", {},
        el("td", { text: String(v.rank) }),
        el("td", { class: "mono", text: v.vin },
          // The answer's `served` names the layers; flag a car that only one of them knows.
          mixed && v.layers.length === 1 ? el("span", { class: "tag", text: `${v.layers[0]} only` }) : null),
        el("td", { text: label(v.vehicle_class) || "–" }),
        el("td", { class: "num", text: num(v.l_per_100km, 2) }),
        el("td", { class: "num", text: num(v.distance_km, 1) }),
      )));
    }
    $("classes-title").hidden = $("classes-table").hidden = !classes.length;
    $("classes-table").tBodies[0].replaceChildren(...classes.map((c) => el("tr", {},
      el("td", { text: label(c.vehicle_class) || "unknown" }),
      el("td", { class: "num", text: String(c.vehicles) }),
      el("td", { class: "num", text: num(c.l_per_100km, 2) }),
      el("td", { class: "num", text: num(c.distance_km, 0) }),
    )));
  }

  // --- routes ------------------------------------------------------------------------------

  async function refreshRoutes() {
    let body;
    try {
      body = await getJSON("/routes/recommendations");
    } catch (err) {
      note("routes-note", `Route recommendations unavailable: ${err.message}`, "bad");
      return;
    }
    $("routes-served").textContent = servedText(body.served);
    state.routes = body.items;
    if (!body.items.length) {
      $("routes-form").hidden = true;
      $("routes-table").hidden = true;
      note("routes-note", body.served.batch_version === null
        ? "No batch view yet: routes are ranked by the batch job (python -m cold_path batch) from completed trips."
        : "The latest batch run saw no completed trip yet, so no route is ranked.");
      highlightPair();
      return;
    }
    note("routes-note", "");
    const pairs = [...new Set(body.items.map((r) => `${r.origin}|${r.destination}`))].sort();
    const origin = $("route-origin");
    const destination = $("route-destination");
    const current = `${origin.value}|${destination.value}`;
    // Keep the user's pair; else show the pair with the most routes ranked (then most trips).
    const weight = (pair) => {
      const rows = body.items.filter((r) => `${r.origin}|${r.destination}` === pair);
      return rows.length * 1e6 + rows.reduce((n, r) => n + r.trips, 0);
    };
    const pick = pairs.includes(current) ? current : [...pairs].sort((a, b) => weight(b) - weight(a))[0];
    const origins = [...new Set(pairs.map((p) => p.split("|")[0]))];
    origin.replaceChildren(...origins.map((o) => el("option", { value: o, text: label(o) })));
    origin.value = pick.split("|")[0];
    fillDestinations(pick.split("|")[1]);
    $("routes-form").hidden = false;
    renderRoutes();
  }

  function fillDestinations(wanted) {
    const origin = $("route-origin").value;
    const options = [...new Set(state.routes.filter((r) => r.origin === origin).map((r) => r.destination))].sort();
    const select = $("route-destination");
    select.replaceChildren(...options.map((d) => el("option", { value: d, text: label(d) })));
    select.value = options.includes(wanted) ? wanted : options[0];
  }

  function renderRoutes() {
    const origin = $("route-origin").value;
    const destination = $("route-destination").value;
    const rows = state.routes
      .filter((r) => r.origin === origin && r.destination === destination)
      .sort((a, b) => a.rank_fuel - b.rank_fuel);
    const table = $("routes-table");
    table.hidden = !rows.length;
    table.tBodies[0].replaceChildren(...rows.map((r) => el("tr", { class: r.recommended ? "pick" : "" },
      el("td", {},
        r.recommended ? el("span", { class: "tag good", text: "recommended" }) : null,
        el("span", { text: routeName(r.route) })),
      el("td", { class: "num", text: num(r.mean_fuel_l, 2) }),
      el("td", { class: "num", text: duration(r.mean_duration_s) }),
      el("td", { class: "num", text: num(r.mean_distance_km, 1) }),
      el("td", { class: "num", text: String(r.trips) }),
    )));
    highlightPair();
  }

  function routeName(route) {
    // A route is the roads of a trip joined by "+", each "origin:destination:kind".
    return route.split("+").map((road) => road.split(":").pop()).join(" + ");
  }

  function highlightPair() {
    const layer = $("route-highlight");
    layer.replaceChildren();
    if (!state.network || !state.routes.length) return;
    const origin = $("route-origin").value;
    const destination = $("route-destination").value;
    const ranked = state.routes.filter((r) => r.origin === origin && r.destination === destination);
    const byId = new Map(state.network.routes.map((r) => [r.route_id, r]));
    for (const r of ranked.sort((a, b) => Number(a.recommended) - Number(b.recommended))) {
      for (const road of r.route.split("+")) {
        const known = byId.get(road);
        if (!known) continue;
        layer.append(svg("polyline", {
          class: r.recommended ? "route-pick" : "route-other",
          points: known.points.map(state.project).map((p) => p.map((v) => v.toFixed(3)).join(",")).join(" "),
        }));
      }
    }
  }

  // --- cluster and pipeline health -----------------------------------------------------------

  async function refreshHealth() {
    let body;
    try {
      body = await getJSON("/cluster");
    } catch (err) {
      note("health-note", `Cluster status unavailable: ${err.message}`, "bad");
      return;
    } finally {
      $("health-checked").textContent = "checked " + new Date().toISOString().slice(11, 19) + " UTC";
    }
    const rows = [];
    const add = (term, text, cls = "") => rows.push(el("dt", { text: term }), el("dd", { class: cls, text }));
    if (!body.reachable) {
      note("health-note", `Kafka unreachable: ${body.error}` + (body.next_step ? ` Next: ${body.next_step}` : ""), "bad");
    } else {
      const up = body.brokers_up.length;
      const all = up + body.brokers_down.length;
      note("health-note", body.brokers_down.length ? `Broker(s) ${body.brokers_down.join(", ")} down.` : "", "warn");
      add("brokers up", `${up} of ${all}`, body.brokers_down.length ? "warn" : "good");
      add("topics", String(body.topics.length));
      for (const group of ["hot-path", "cold-path"]) {
        const lag = body.lag[group];
        add(`${group} lag`, lag === null || lag === undefined ? "not running" : `${lag.toLocaleString()} records`,
          lag === null || lag === undefined ? "warn" : lag > 10000 ? "warn" : "good");
      }
    }
    const batch = body.batch;
    if (batch.version === null) {
      add("batch view", "none yet", "warn");
    } else {
      add("batch view", `v${batch.version} to ${stamp(batch.watermark)}`);
      const age = batch.watermark_age_s;
      add("watermark age", duration(age), age > 3600 ? "warn" : "good");
      // In event time too: a simulator running faster or in the past makes wall-clock age odd.
      const newest = newestReading();
      if (newest && batch.watermark) {
        const behind = (new Date(newest) - new Date(batch.watermark)) / 1000;
        add("batch behind fleet", duration(behind), behind > 3600 ? "warn" : "good");
      }
    }
    $("health-list").replaceChildren(...rows);
  }

  // --- start ---------------------------------------------------------------------------------

  async function loadNetwork() {
    try {
      drawNetwork(await getJSON("/network"));
      renderMapSummary();
    } catch (err) {
      note("map-note", `Road network unavailable: ${err.message}`, "bad");
    }
  }

  $("route-origin").addEventListener("change", () => { fillDestinations(null); renderRoutes(); });
  $("route-destination").addEventListener("change", renderRoutes);

  loadNetwork();
  connectLive();
  refreshHealth();
  onBatch(undefined);
  setInterval(refreshHealth, 10000);
  setInterval(refreshLeaderboard, 30000);
})();
