// What an operator does on the map: sign in, register, edit and delete devices, read a device's
// history as a chart, follow the data sources.

import { api, session } from "./api.js";
import { drawChart } from "./chart.js";

export class Operator {
  constructor(cityMap, { onSession }) {
    this.cityMap = cityMap;
    this.onSession = onSession;
    this.editing = null;
    this.place = null;
    this.bind();
    cityMap.actions = { history: (d) => this.history(d), edit: (d) => this.edit(d), delete: (d) => this.remove(d) };
    if (session.token) this.restore();
  }

  $(id) { return document.getElementById(id); }

  bind() {
    this.$("signin").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      this.$("signin-error").textContent = "";
      try {
        const answer = await api("/users/signin", { method: "POST", body: { email: form.email.value, password: form.password.value } });
        session.token = answer.token;
        form.password.value = "";
        await this.restore();
      } catch (error) {
        this.$("signin-error").textContent = error.message;
      }
    });
    this.$("signout").addEventListener("click", () => {
      session.token = null;
      this.$("operator-tools").hidden = true;
      this.$("signin").hidden = false;
      this.onSession();
    });
    this.$("pick-place").addEventListener("click", () => {
      this.$("device-place").textContent = "click the map…";
      this.cityMap.map.getContainer().style.cursor = "crosshair";
      this.cityMap.map.once("click", (event) => {
        this.cityMap.map.getContainer().style.cursor = "";
        this.place = { lat: +event.latlng.lat.toFixed(6), lon: +event.latlng.lng.toFixed(6) };
        this.$("device-place").textContent = `${this.place.lat}, ${this.place.lon}`;
      });
    });
    this.$("device-form").addEventListener("submit", (event) => { event.preventDefault(); this.save(); });
    this.$("device-cancel").addEventListener("click", () => this.resetForm());
    this.$("sources").addEventListener("toggle", () => this.$("sources").open && this.sources());
    this.$("history-close").addEventListener("click", () => { this.$("history").hidden = true; });
    this.$("history-form").addEventListener("change", () => this.drawHistory());
  }

  async restore() {
    try {
      const me = await api("/users/me");
      this.$("signed-in").textContent = `${me.email} (${me.role})`;
      this.$("signin").hidden = true;
      this.$("operator-tools").hidden = false;
      this.onSession();
    } catch {
      session.token = null;
    }
  }

  resetForm() {
    const form = this.$("device-form");
    form.reset();
    form.id.disabled = false;
    this.editing = null;
    this.place = null;
    this.$("device-place").textContent = "click “Pick on map”";
    this.$("device-form-title").textContent = "Register a device";
    this.$("device-submit").textContent = "Register";
    this.$("device-cancel").hidden = true;
    this.$("device-error").textContent = "";
  }

  edit(device) {
    const form = this.$("device-form");
    this.editing = device.id;
    form.id.value = device.id;
    form.id.disabled = true;
    form.category.value = device.category;
    form.connector.value = device.connector;
    form.nickname.value = device.nickname ?? "";
    form.public.checked = device.public;
    this.place = device.location ?? null;
    this.$("device-place").textContent = this.place ? `${this.place.lat}, ${this.place.lon}` : "none";
    this.$("device-form-title").textContent = `Edit ${device.id}`;
    this.$("device-submit").textContent = "Save";
    this.$("device-cancel").hidden = false;
    document.body.classList.add("panel-open");
    form.scrollIntoView({ behavior: "smooth" });
  }

  async save() {
    const form = this.$("device-form");
    this.$("device-error").textContent = "";
    this.$("device-saved").textContent = "";
    this.$("device-credentials").hidden = true;
    const body = { category: form.category.value, nickname: form.nickname.value || null, public: form.public.checked };
    if (this.place) body.location = this.place;
    try {
      let device;
      if (this.editing) {
        device = await api(`/devices/${this.editing}`, { method: "PATCH", body });
      } else {
        device = await api("/devices", { method: "POST", body: { ...body, id: form.id.value, connector: form.connector.value } });
        if (device.credentials) {
          this.$("device-credentials").textContent = `Broker account (shown once): ${device.credentials.username} / ${device.credentials.password}`;
          this.$("device-credentials").hidden = false;
        }
      }
      this.cityMap.upsert(device);
      this.cityMap.onDevicesChanged();
      const credentials = !this.$("device-credentials").hidden;
      this.resetForm();
      this.$("device-credentials").hidden = !credentials;
      this.$("device-saved").textContent = `Saved ${device.id}`;
    } catch (error) {
      this.$("device-error").textContent = error.message;
    }
  }

  async remove(device) {
    if (!confirm(`Delete ${device.id}? Its history stays.`)) return;
    try {
      await api(`/devices/${device.id}`, { method: "DELETE" });
      this.cityMap.map.closePopup();
      this.cityMap.remove(device.id);
      this.cityMap.onDevicesChanged();
    } catch (error) {
      alert(error.message);
    }
  }

  history(device) {
    this.historyDevice = device;
    const entry = this.cityMap.entries.get(device.id);
    const fields = Object.entries(entry?.latest?.values ?? {}).filter(([, v]) => typeof v === "number").map(([k]) => k);
    const select = this.$("history-form").field;
    select.innerHTML = fields.map((f) => `<option>${f}</option>`).join("") || "<option>value</option>";
    this.$("history-title").textContent = `History of ${device.nickname ?? device.id}`;
    this.$("history").hidden = false;
    document.body.classList.add("panel-open");
    this.drawHistory();
  }

  async drawHistory() {
    const device = this.historyDevice;
    if (!device) return;
    const form = this.$("history-form");
    const hours = { "6h": 6, "24h": 24, "7d": 168 }[form.range.value];
    const bucket = { "6h": "10m", "24h": "30m", "7d": "3h" }[form.range.value];
    const to = new Date(), from = new Date(to - hours * 3600e3);
    try {
      const answer = await api(`/history/${device.id}/aggregate?field=${encodeURIComponent(form.field.value)}`
        + `&fn=${form.fn.value}&bucket=${bucket}&from=${from.toISOString()}&to=${to.toISOString()}`);
      const drawn = drawChart(this.$("chart"), answer.buckets);
      this.$("chart-note").textContent = `${form.fn.value} of ${form.field.value} per ${bucket}: ${drawn} buckets with data`;
      this.$("chart").dataset.points = String(drawn);
    } catch (error) {
      this.$("chart-note").textContent = error.message;
    }
  }

  async sources() {
    try {
      const answer = await api("/persistence/sources");
      this.$("source-rows").innerHTML = answer.sources.map((s) => `<tr title="${(s.status.lastError ?? "").replace(/"/g, "&quot;")}">
        <td>${s.source.id}${s.source.paused ? " (paused)" : ""}</td><td>${s.status.lastResult ?? "—"}</td><td>${s.status.stored}</td>
        <td>${s.status.nextRunAt ? new Date(s.status.nextRunAt).toLocaleTimeString() : "—"}</td></tr>`).join("");
    } catch (error) {
      this.$("source-rows").innerHTML = `<tr><td colspan="4">${error.message}</td></tr>`;
    }
  }
}
