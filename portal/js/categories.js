// How each kind of device looks on the map and is named in the menu.

export const known = {
  parking: { label: "Parking areas", glyph: "P" },
  traffic: { label: "Traffic sensors", glyph: "" },
  bus_stop: { label: "Bus stops", glyph: "B" },
  carsharing: { label: "Car sharing", glyph: "C" },
  bikesharing: { label: "Bike docks", glyph: "b" },
  bus: { label: "Buses", glyph: "▲" },
};

export function label(category) {
  return known[category]?.label ?? category.replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase());
}

export function order(a, b) {
  const keys = Object.keys(known);
  const ia = keys.indexOf(a), ib = keys.indexOf(b);
  if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  return a.localeCompare(b);
}

/// Traffic sensors by speed: red when slow, amber, green when flowing.
export function speedColour(speed) {
  if (typeof speed !== "number") return "#90a4ae";
  if (speed < 20) return "#d32f2f";
  if (speed < 35) return "#f9a825";
  return "#388e3c";
}

export function icon(device, latest) {
  const kind = known[device.category] ? device.category : "other";
  const glyph = known[device.category]?.glyph ?? device.category.slice(0, 1).toUpperCase();
  const style = device.category === "traffic" ? ` style="background:${speedColour(latest?.values?.speed)}"` : "";
  return L.divIcon({
    className: "",
    html: `<span class="pin ${kind}"${style}>${glyph}</span>`,
    iconSize: [22, 22],
    iconAnchor: [11, 11],
    popupAnchor: [0, -10],
  });
}
