// The event stream: readings and device changes arrive as they happen.

import { session } from "./api.js";

export function follow(cityMap, indicator) {
  let source;
  const open = () => {
    source?.close();
    const token = session.token ? `&access_token=${encodeURIComponent(session.token)}` : "";
    source = new EventSource(`/events?type=reading,device.created,device.changed,device.deleted${token}`);
    source.onopen = () => indicator.classList.add("on");
    // EventSource reconnects by itself; the indicator shows the gap.
    source.onerror = () => indicator.classList.remove("on");
    source.addEventListener("reading", (event) => cityMap.reading(JSON.parse(event.data).data));
    for (const kind of ["device.created", "device.changed"]) {
      source.addEventListener(kind, (event) => {
        cityMap.upsert(JSON.parse(event.data).data);
        cityMap.onDevicesChanged();
      });
    }
    source.addEventListener("device.deleted", (event) => {
      cityMap.remove(JSON.parse(event.data).device);
      cityMap.onDevicesChanged();
    });
  };
  open();
  return { reconnect: open };
}
