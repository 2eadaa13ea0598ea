import CMCCore

/// The checks every reading passes, whichever connector brought it.
public enum ReadingValidation {
    public static let maximumBatch = 1000
    public static let maximumValues = 100
    /// The values of one reading, as stored JSON. A reading is a measurement, not a file: this
    /// keeps a page of history, an event and a subscriber's buffer a sum of small parts.
    public static let maximumValuesBytes = 65_536
    /// Device clocks drift; a day ahead is a wrong clock, not drift.
    public static let maximumClockSkew: Int64 = 86400

    /// The readings of a batch one device sent, stamped with what history keeps of the device.
    public static func readings(_ batch: [ReadingInput], device: String, category: String, connector: String,
                                now: Timestamp = .now()) throws -> [Reading] {
        guard !batch.isEmpty else { throw APIError.invalid("body", "must hold at least one reading") }
        guard batch.count <= maximumBatch else { throw APIError.invalid("body", "holds \(batch.count) readings; at most \(maximumBatch) per request") }
        let single = batch.count == 1
        return try batch.enumerated().map { index, input in
            let at = single ? "" : "[\(index)]."
            guard !input.values.isEmpty else { throw APIError.invalid("\(at)values", "must hold at least one value") }
            guard input.values.count <= maximumValues else { throw APIError.invalid("\(at)values", "must hold at most \(maximumValues) values") }
            for key in input.values.keys where !FieldName.isValid(key) {
                throw APIError.invalid("\(at)values.\(key)", "names must be 1-64 letters, digits, '_', '-' or '.'")
            }
            // Measuring means encoding, a pass over every value of every reading; no encoded byte
            // takes more than six of the estimate's, so a reading well under the limit needs none.
            if JSONValue.approximateSize(of: input.values) * 6 > maximumValuesBytes {
                let size = JSONValue.encodeObject(input.values).utf8.count
                guard size <= maximumValuesBytes else {
                    throw APIError.invalid("\(at)values", "are \(size) bytes as JSON; at most \(maximumValuesBytes) per reading")
                }
            }
            let ts = input.ts ?? now
            guard ts <= now.adding(seconds: maximumClockSkew) else { throw APIError.invalid("\(at)ts", "is more than a day in the future") }
            guard ts.microseconds >= 0 else { throw APIError.invalid("\(at)ts", "is before 1970") }
            return Reading(device: device, ts: ts, category: category, connector: connector, values: input.values)
        }
    }
}
