// What a click on a device shows: its figures now, and for a parking area the services around it.

import { api, session } from "./api.js";
import { label } from "./categories.js";

const escape = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
const row = (name, value, key) => `<tr${key ? ` data-field="${key}"` : ""}><th>${escape(name)}</th><td>${escape(value)}</td></tr>`;

export async function fillPopup(popup, entry, cityMap) {
  if (!entry) return;
  const { device, latest } = entry;
  const values = latest?.values ?? {};
  const title = `<h3>${escape(device.nickname ?? device.id)}</h3><p class="muted">${escape(label(device.category))} · ${escape(device.id)}</p>`;
  let body = "";
  switch (device.category) {
    case "parking":
      body = `<table>${row("Capacity", values.capacity ?? device.metadata.capacity ?? "?", "capacity")}${row("Free now", values.free ?? "?", "free")}`
        + `${row("Occupied", values.occupancy !== undefined ? `${values.occupancy} %` : "?", "occupancy")}</table><div class="around">Looking around…</div>`;
      break;
    case "traffic":
      body = `<table>${row("Flow", values.flow !== undefined ? `${values.flow} vehicles/h` : "no data", "flow")}`
        + `${row("Speed", values.speed !== undefined ? `${values.speed} km/h` : "no data", "speed")}</table>`;
      break;
    case "bus_stop": {
      const lines = device.metadata.lines ?? [];
      body = `<table>${row("Lines", lines.join(", ") || "?", "lines")}</table><div class="departures">Next departures…</div>`;
      break;
    }
    case "carsharing":
    case "bikesharing": {
      const byType = Object.entries(values.availableByType ?? {}).filter(([, n]) => n > 0).map(([type, n]) => `${n} ${type}`).join(", ");
      body = `<table>${row("Available", values.vehiclesAvailable ?? "?", "vehiclesAvailable")}`
        + (values.docksAvailable !== undefined ? row("Free docks", values.docksAvailable, "docksAvailable") : "")
        + (values.vehiclesReserved ? row("Reserved", values.vehiclesReserved, "vehiclesReserved") : "")
        + (byType ? row("Vehicles", byType, "byType") : "") + `</table>`;
      break;
    }
    default:
      body = `<table>${Object.entries(values).filter(([, v]) => typeof v !== "object").map(([k, v]) => row(k, v, k)).join("") || row("Data", "none yet")}</table>`;
  }
  const updated = latest ? `<p class="muted">Updated ${time(latest.ts)}</p>` : "";
  const actions = session.token && cityMap.actions ? `<div class="actions">
      <button type="button" data-action="history">History</button><button type="button" data-action="edit">Edit</button>
      <button type="button" data-action="delete">Delete</button></div>` : "";
  const element = entry.popupElement;
  if (!(element instanceof HTMLElement)) return;
  element.innerHTML = title + body + updated + actions;
  for (const button of element.querySelectorAll("[data-action]")) {
    button.addEventListener("click", () => cityMap.actions[button.dataset.action](device));
  }
  popup.update();
  if (device.category === "parking") await fillAround(element, device, popup);
  if (device.category === "bus_stop") await fillDepartures(element, device, values, popup);
}

async function fillDepartures(element, device, values, popup) {
  const target = element.querySelector(".departures");
  try {
    const answer = await api(`/devices/${device.id}/departures?limit=5`);
    const reliability = values.reliability ?? {};
    const delays = values.delays ?? {};
    target.innerHTML = `<table>${answer.departures.map((d) => {
      const late = delays[d.line] !== undefined ? ` (${Math.round(delays[d.line] / 60)} min late)` : "";
      return `<tr data-line="${escape(d.line)}"><th>${escape(d.line)}</th><td>${time(d.time)} → ${escape(d.headsign ?? "")}${late}</td></tr>`;
    }).join("")}</table>`
      + (Object.keys(reliability).length ? `<p>Reliability: ${Object.entries(reliability).map(([line, share]) =>
        `<span data-reliability="${escape(line)}">${escape(line)} ${Math.round(share * 100)} %</span>`).join(", ")}</p>` : "");
  } catch (error) {
    target.textContent = error.status === 404 ? "No timetable" : "Departures unavailable";
  }
  popup.update();
}

async function fillAround(element, device, popup) {
  const target = element.querySelector(".around");
  try {
    const answer = await api(`/mobility/around?lat=${device.location.lat}&lon=${device.location.lon}&radius=1&departures=1`);
    const here = answer.parkings.find((p) => p.device.id === device.id) ?? answer.parkings[0];
    if (!here) { target.textContent = ""; return; }
    const around = here.around;
    const describe = {
      traffic: (item) => item.latest ? `${item.latest.values.speed ?? "?"} km/h` : "no data",
      busStops: (item) => item.departures?.[0] ? `line ${item.departures[0].line} at ${time(item.departures[0].time)}` : "no departure soon",
      carsharing: (item) => `${item.latest?.values?.vehiclesAvailable ?? "?"} cars`,
      bikesharing: (item) => `${item.latest?.values?.vehiclesAvailable ?? "?"} bikes`,
    };
    const names = { traffic: "Traffic", busStops: "Bus stops", carsharing: "Car sharing", bikesharing: "Bikes" };
    target.innerHTML = `<h4>Around (${Object.entries(answer.radii).map(([k, r]) => `${names[k] ?? k} ${r} m`).join(", ")})</h4><table>`
      + Object.entries(around).map(([key, items]) => `<tr data-around="${key}"><th>${names[key] ?? key} (${items.length})</th><td>${
        items.slice(0, 3).map((item) => `${escape(item.device.nickname ?? item.device.id)}: ${escape(describe[key]?.(item) ?? "")}`).join("<br>") || "none"}</td></tr>`).join("")
      + `</table>`;
  } catch (error) {
    target.textContent = "Services around unavailable";
  }
  popup.update();
}
