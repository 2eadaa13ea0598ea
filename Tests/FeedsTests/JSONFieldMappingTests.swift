import CMCCore
import Foundation
import Testing
@testable import Feeds

@Suite struct JSONFieldMappingTests {
    @Test func readsItemsByPath() throws {
        let mapping = JSONFieldMapping(items: "result.loops", id: "code", name: "label", lat: "pos.0", lon: "pos.1", time: "updated",
                                       values: ["flow": "counts.vph", "speed": "kmh"], metadata: ["road": "road"])
        let json = #"""
        {"result":{"loops":[
          {"code":17,"label":"Viale Diaz","pos":[39.2101,9.1252],"updated":"2026-11-23T09:00:00+01:00","counts":{"vph":640},"kmh":"31.5","road":"SS554"},
          {"code":"L18","pos":[39.21,9.12],"updated":"2026-11-23T09:00:00+01:00","counts":{}},
          {"label":"no id"}
        ]}}
        """#
        let batch = try mapping.read(Data(json.utf8), category: "traffic", fetchedAt: .now())
        #expect(batch.devices.map(\.id) == ["17", "L18"])
        #expect(batch.devices[0].lat == 39.2101 && batch.devices[0].metadata == ["road": .string("SS554")])
        #expect(batch.observations.count == 1)
        #expect(batch.observations[0].values == ["flow": .number(640), "speed": .number(31.5)])
        #expect(batch.observations[0].time == Timestamp(parsing: "2026-11-23T08:00:00Z"))
        #expect(batch.skipped == ["item without code": 1, "item without values": 1])
        #expect(throws: FeedError.self) { try mapping.read(Data(#"{"result":{}}"#.utf8), category: "traffic", fetchedAt: .now()) }
    }
}
