// The web map: layers per kind of device, live updates, search, and the operator's tools.

import { CityMap } from "./map.js";
import { follow } from "./live.js";
import { Operator } from "./operator.js";
import * as categories from "./categories.js";

const started = performance.now();
const list = document.getElementById("layer-list");

const cityMap = new CityMap("map", {
  onLayersChanged: () => renderLayers(),
  onDevicesChanged: () => { renderLayers(); renderSearch(); },
});

function renderLayers() {
  const counts = cityMap.counts();
  const names = [...cityMap.layers.keys()].sort(categories.order);
  list.innerHTML = names.map((category) => `<li><label><input type="checkbox" data-category="${category}"${cityMap.layers.get(category).visible ? " checked" : ""}>
    ${categories.label(category)}</label><span class="count" data-count="${category}">${counts[category] ?? 0}</span></li>`).join("");
  for (const box of list.querySelectorAll("input[data-category]")) {
    box.addEventListener("change", () => cityMap.setVisible(box.dataset.category, box.checked));
  }
  document.getElementById("category-names").innerHTML = names.map((c) => `<option value="${c}">`).join("");
}

function renderSearch() {
  const names = new Set();
  for (const { device } of cityMap.entries.values()) names.add(device.nickname ?? device.id);
  document.getElementById("search-names").innerHTML = [...names].sort().slice(0, 2000).map((n) => `<option value="${n.replace(/"/g, "&quot;")}">`).join("");
}

document.getElementById("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = document.getElementById("search-input").value.trim().toLowerCase();
  if (!text) return;
  let best = null;
  for (const { device } of cityMap.entries.values()) {
    const name = (device.nickname ?? "").toLowerCase(), id = device.id.toLowerCase();
    const score = name === text || id === text ? 3 : name.startsWith(text) ? 2 : name.includes(text) || id.includes(text) ? 1 : 0;
    if (score > (best?.score ?? 0)) best = { score, device };
  }
  if (best) cityMap.open(best.device.id);
  document.getElementById("search-input").setCustomValidity(best ? "" : "Nothing of that name on the map");
  document.getElementById("search-input").reportValidity();
});

document.getElementById("panel-toggle").addEventListener("click", () => {
  const open = document.body.classList.toggle("panel-open");
  document.getElementById("panel-toggle").setAttribute("aria-expanded", String(open));
});

const live = follow(cityMap, document.getElementById("live"));
const operator = new Operator(cityMap, { onSession: () => live.reconnect() });

// What the browser tests (and curious operators) can ask the page.
window.cmcPortal = {
  ready: false,
  counts: () => cityMap.counts(),
  latest: (id) => cityMap.entries.get(id)?.latest ?? null,
  open: (id) => cityMap.open(id),
  map: cityMap,
  operator,
};

cityMap.loadView().then(() => {
  window.cmcPortal.ready = true;
  window.cmcPortal.loadMilliseconds = Math.round(performance.now() - started);
  document.body.dataset.ready = "true";
}).catch((error) => {
  document.getElementById("layer-list").textContent = `The map could not load devices: ${error.message}`;
});
