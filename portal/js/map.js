// The map: one clustered layer per kind of device, markers kept up to date from the event stream.

import { allDevices } from "./api.js";
import * as categories from "./categories.js";
import { fillPopup } from "./popups.js";

const cagliari = [39.2205, 9.1200];

export class CityMap {
  constructor(element, { onLayersChanged = () => {}, onDevicesChanged = () => {} } = {}) {
    this.map = L.map(element, { zoomControl: true }).setView(cagliari, 14);
    // Tiles come through the platform, which answers a transparent tile when the tile server cannot be reached.
    L.tileLayer("/tiles/{z}/{x}/{y}.png", { maxZoom: 19, attribution: "© OpenStreetMap contributors" }).addTo(this.map);
    this.layers = new Map();   // category -> { group, visible }
    this.entries = new Map();  // device id -> { device, latest, marker }
    this.onLayersChanged = onLayersChanged;
    this.onDevicesChanged = onDevicesChanged;
    this.loaded = [];  // boxes already fetched
    this.map.on("moveend", () => this.loadView().catch((error) => console.warn("loading devices:", error.message)));
    this.addLegend();
  }

  /// Loads the devices in view (and half a view around it) that are not loaded yet: a city of
  /// tens of thousands of devices is never fetched whole.
  async loadView() {
    const view = this.map.getBounds();
    if (this.loaded.some((box) => box.contains(view))) return;
    const box = view.pad(0.5);
    const bbox = [box.getWest(), box.getSouth(), box.getEast(), box.getNorth()].map((v) => v.toFixed(6)).join(",");
    await allDevices(`bbox=${bbox}&latest=true`, (devices, latest) => {
      // Each page's new markers go into their clusters in one call: tens of thousands stay quick.
      const batch = new Map();
      for (const device of devices) this.upsert(device, latest[device.id], batch);
      for (const [category, markers] of batch) this.layer(category).group.addLayers(markers);
    });
    this.loaded.push(box);
    this.onDevicesChanged();
  }

  layer(category) {
    let layer = this.layers.get(category);
    if (!layer) {
      const group = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 45, disableClusteringAtZoom: 17, chunkedLoading: true,
        iconCreateFunction: (cluster) => L.divIcon({
          html: `<span class="pin ${categories.known[category] ? category : "other"}" style="width:30px;height:30px">${cluster.getChildCount()}</span>`,
          className: "", iconSize: [30, 30] }) });
      layer = { group, visible: true };
      this.layers.set(category, layer);
      group.addTo(this.map);
      this.onLayersChanged();
    }
    return layer;
  }

  setVisible(category, visible) {
    const layer = this.layer(category);
    layer.visible = visible;
    if (visible) layer.group.addTo(this.map); else layer.group.remove();
  }

  /// Adds or updates a device's marker; with `batch`, new markers are collected there by category
  /// for the caller to add at once.
  upsert(device, latest, batch = null) {
    const existing = this.entries.get(device.id);
    if (existing && existing.device.category !== device.category) this.remove(device.id);
    const entry = this.entries.get(device.id) ?? { device, latest: null, marker: null };
    entry.device = device;
    if (latest !== undefined && latest !== null) entry.latest = latest;
    this.entries.set(device.id, entry);
    if (!device.location) return;
    const position = [device.location.lat, device.location.lon];
    const group = this.layer(device.category).group;
    if (!entry.marker) {
      entry.marker = L.marker(position, { icon: categories.icon(device, entry.latest), title: device.nickname ?? device.id });
      // The popup's element is made when it first opens, not for every marker of the city.
      entry.marker.bindPopup(() => entry.popupElement ??= this.popup(device.id), { minWidth: 240, maxWidth: 340 });
      entry.marker.on("popupopen", (event) => fillPopup(event.popup, this.entries.get(device.id), this));
      if (batch) {
        if (!batch.has(device.category)) batch.set(device.category, []);
        batch.get(device.category).push(entry.marker);
      } else {
        group.addLayer(entry.marker);
      }
    } else {
      const moved = !entry.marker.getLatLng().equals(position);
      if (moved) {
        // Moving markers are taken out and put back so the clusters follow them.
        group.removeLayer(entry.marker);
        entry.marker.setLatLng(position);
        group.addLayer(entry.marker);
      }
      entry.marker.setIcon(categories.icon(device, entry.latest));
    }
  }

  reading(reading) {
    const entry = this.entries.get(reading.device);
    if (!entry) return;
    entry.latest = reading;
    if (entry.marker) {
      entry.marker.setIcon(categories.icon(entry.device, reading));
      if (entry.marker.isPopupOpen()) fillPopup(entry.marker.getPopup(), entry, this);
    }
  }

  remove(id) {
    const entry = this.entries.get(id);
    if (!entry) return;
    if (entry.marker) this.layer(entry.device.category).group.removeLayer(entry.marker);
    this.entries.delete(id);
  }

  popup(id) {
    const element = document.createElement("div");
    element.className = "popup";
    element.textContent = "…";
    element.dataset.device = id;
    return element;
  }

  /// Opens a device's popup, zooming in far enough to take it out of its cluster.
  open(id) {
    const entry = this.entries.get(id);
    if (!entry?.marker) return false;
    const group = this.layer(entry.device.category).group;
    if (!this.layers.get(entry.device.category).visible) this.setVisible(entry.device.category, true);
    group.zoomToShowLayer(entry.marker, () => entry.marker.openPopup());
    return true;
  }

  counts() {
    const counts = {};
    for (const entry of this.entries.values()) {
      if (entry.device.location) counts[entry.device.category] = (counts[entry.device.category] ?? 0) + 1;
    }
    return counts;
  }

  addLegend() {
    const legend = L.control({ position: "bottomright" });
    legend.onAdd = () => {
      const div = L.DomUtil.create("div", "legend");
      div.innerHTML = `Traffic speed: <i style="background:${categories.speedColour(10)}"></i>&lt;20
        <i style="background:${categories.speedColour(30)}"></i>20–35 <i style="background:${categories.speedColour(50)}"></i>&gt;35 km/h`;
      return div;
    };
    legend.addTo(this.map);
  }
}
