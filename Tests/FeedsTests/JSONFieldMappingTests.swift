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

/// The FIWARE Smart Data Models examples (key-value NGSI) read by field paths.
@Suite struct NGSIExamplesTests {
    @Test func offStreetParking() throws {
        let mapping = JSONFieldMapping(id: "id", name: "name", lat: "location.coordinates.1", lon: "location.coordinates.0", time: "occupancyModified",
                                       values: ["capacity": "totalSpotNumber", "free": "availableSpotNumber", "occupied": "occupiedSpotNumber"])
        let batch = try mapping.read(FeedSamples.data("ngsi-ld/OffStreetParking/example.json"), category: "parking", fetchedAt: .now())
        #expect(batch.devices.map(\.id) == ["porto-ParkingLot-23889"])
        #expect(batch.devices[0].lat == 41.150691773 && batch.devices[0].lon == -8.60961198807)
        #expect(batch.observations[0].values == ["capacity": .number(414), "free": .number(132), "occupied": .number(282)])
        #expect(batch.observations[0].time == Timestamp(parsing: "2018-09-21T12:00:00Z"))
    }

    @Test func trafficFlowObserved() throws {
        let mapping = JSONFieldMapping(id: "id", lat: "location.coordinates.0.1", lon: "location.coordinates.0.0", time: "dateObservedTo",
                                       values: ["flow": "intensity", "speed": "averageVehicleSpeed"], metadata: ["road": "address.streetAddress"])
        let batch = try mapping.read(FeedSamples.data("ngsi-ld/TrafficFlowObserved/example.json"), category: "traffic", fetchedAt: .now())
        #expect(batch.observations.first?.values == ["flow": .number(197), "speed": .number(52.6)])
        #expect(batch.devices.first?.metadata == ["road": .string("Avenida de Salamanca")])
        #expect(batch.devices.first?.lat == 41.6538181849672)
    }

    @Test func bikeDockAndParkingSpot() throws {
        let dock = JSONFieldMapping(id: "id", name: "stationName", lat: "location.coordinates.1", lon: "location.coordinates.0", time: "observationDate",
                                    values: ["vehiclesAvailable": "availableBikeNumber", "docksAvailable": "freeSlotNumber", "status": "status"],
                                    metadata: ["capacity": "totalSlotNumber"])
        let docks = try dock.read(FeedSamples.data("ngsi-ld/BikeHireDockingStation/example.json"), category: "bikesharing", fetchedAt: .now())
        #expect(docks.devices.first?.metadata == ["capacity": .number(100)] && docks.devices.first?.name == "Pune")
        #expect(docks.observations.first?.values == ["vehiclesAvailable": .number(20), "docksAvailable": .number(10), "status": .string("working")])
        #expect(docks.observations.first?.time == Timestamp(parsing: "2021-03-11T10:21:02Z"))

        let spot = JSONFieldMapping(id: "id", name: "name", lat: "location.coordinates.1", lon: "location.coordinates.0", values: ["status": "status"])
        let fetched = Timestamp(parsing: "2026-11-23T10:00:00Z")!
        let spots = try spot.read(FeedSamples.data("ngsi-ld/ParkingSpot/example.json"), category: "parking_spot", fetchedAt: fetched)
        #expect(spots.observations.first?.values == ["status": .string("free")] && spots.observations.first?.time == fetched)
    }
}
