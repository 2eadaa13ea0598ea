import CMCCore

/// One observation of a device: a time and named values.
public struct Reading: Codable, Sendable, Equatable {
    public let device: String
    public let ts: Timestamp
    /// Copied from the device when stored, so history can be filtered without the Devices service.
    public let category: String
    public let connector: String
    public let values: [String: JSONValue]

    public init(device: String, ts: Timestamp, category: String, connector: String, values: [String: JSONValue]) {
        self.device = device
        self.ts = ts
        self.category = category
        self.connector = connector
        self.values = values
    }
}

/// Field names are restricted so they are safe as JSON paths in either backend.
public enum FieldName {
    public static func isValid(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c == 45 || c == 46
        }
    }
}

extension Reading: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.object { w in
            w.key("category"); w.string(category)
            w.key("connector"); w.string(connector)
            w.key("device"); w.string(device)
            w.key("ts"); w.timestamp(ts)
            w.key("values"); w.object(values)
        }
    }
}
