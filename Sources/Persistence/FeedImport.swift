import CMCCore
import Devices
import Feeds
import History

/// Turns what a source read into devices and history: registers devices on first sight, updates
/// them when their static data changes, stores each observation once, and announces both.
/// A feed that shrinks deletes nothing.
public struct FeedImport: Sendable {
    /// The registry, which announces what the feed registers and changes.
    let devices: any DevicesClient
    /// Where observations go, like every reading; its device cache spares unchanged feed entries
    /// a query.
    let ingest: ReadingIngest
    /// Owner of the devices feeds register; they are public.
    let owner: String

    public init(devices: any DevicesClient, ingest: ReadingIngest, owner: String = "persistence") {
        self.devices = devices
        self.ingest = ingest
        self.owner = owner
    }

    struct Outcome: Sendable {
        var devices = 0
        var devicesChanged = 0
        var observations = 0
        var stored = 0
        var skipped: [String: Int] = [:]
    }

    func apply(_ batch: FeedBatch, connector: String) async throws -> Outcome {
        var outcome = Outcome(devices: batch.devices.count, observations: batch.observations.count, skipped: batch.skipped)
        let now = Timestamp.now()
        var created: [Device] = []
        var changed: [Device] = []
        var seen = Set<String>()
        for entry in batch.devices where seen.insert(entry.id).inserted {
            var location: GeoPoint?
            if let lat = entry.lat, let lon = entry.lon {
                location = try? GeoPoint(lat: lat, lon: lon)
                if location == nil { outcome.skipped["invalid position", default: 0] += 1 }
            }
            guard let existing = try await ingest.device(entry.id) else {
                created.append(Device(id: entry.id, category: entry.category, connector: connector, location: location, nickname: entry.name,
                                      public: true, metadata: entry.metadata, ownerID: owner, createdAt: now, updatedAt: now))
                continue
            }
            // Registered by someone else before the feed showed it: never the source's to change.
            guard existing.ownerID == owner else {
                outcome.skipped["device of another owner", default: 0] += 1
                continue
            }
            var updated = existing
            updated.category = entry.category
            updated.location = location ?? existing.location
            updated.nickname = entry.name ?? existing.nickname
            updated.metadata = entry.metadata
            if updated != existing {
                updated.updatedAt = now
                changed.append(updated)
            }
        }
        try await devices.register(created)
        for device in changed { try await devices.update(device) }
        outcome.devicesChanged = created.count + changed.count

        var stored: [Reading] = []
        var owners: [String: Device] = [:]
        for observation in batch.observations {
            guard let device = try await ingest.device(observation.device) else {
                outcome.skipped["unknown device", default: 0] += 1
                continue
            }
            guard device.ownerID == owner else {
                outcome.skipped["device of another owner", default: 0] += 1
                continue
            }
            // The checks every reading passes, whichever connector brought it: a feed's clock or
            // field names are as hostile as a device's.
            guard let reading = try? ingest.readings([ReadingInput(ts: observation.time, values: observation.values)], of: device).first else {
                outcome.skipped["invalid reading", default: 0] += 1
                continue
            }
            owners[device.id] = device
            stored.append(reading)
        }
        outcome.stored = try await ingest.record(stored, devices: owners)
        return outcome
    }
}
