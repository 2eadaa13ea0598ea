import CMCCore
import Events

/// Devices with a position, in memory, by category and by cell of a fixed latitude/longitude
/// grid: answers "near a point" without a database round trip.
///
/// The SQLite repository keeps one because it is the only writer of its file; a registry shared
/// by several processes (PostgreSQL) asks PostGIS instead.
struct DeviceGrid: Sendable {
    /// About 110 m of latitude: a 200 m circle covers a few dozen cells, a city a few hundred
    /// thousand at most.
    static let cellDegrees = 0.001

    struct Cell: Hashable, Sendable {
        let lat: Int32
        let lon: Int32

        init(lat: Int32, lon: Int32) {
            self.lat = lat
            self.lon = lon
        }

        init(_ point: GeoPoint) {
            lat = Int32((point.lat / DeviceGrid.cellDegrees).rounded(.down))
            lon = Int32((point.lon / DeviceGrid.cellDegrees).rounded(.down))
        }
    }

    private var categories: [String: [Cell: [Device]]] = [:]
    /// Where each device is filed, to move or remove it.
    private var places: [String: (category: String, cell: Cell)] = [:]

    /// Files the device, or refiles it where it now is; a device without a position leaves.
    mutating func put(_ device: Device) {
        remove(id: device.id)
        guard let location = device.location else { return }
        let cell = Cell(location)
        categories[device.category, default: [:]][cell, default: []].append(device)
        places[device.id] = (device.category, cell)
    }

    mutating func remove(id: String) {
        guard let place = places.removeValue(forKey: id) else { return }
        categories[place.category]?[place.cell]?.removeAll { $0.id == id }
        if categories[place.category]?[place.cell]?.isEmpty == true { categories[place.category]?[place.cell] = nil }
        if categories[place.category]?.isEmpty == true { categories[place.category] = nil }
    }

    /// The same answer as the SQL backends: within the radius by great-circle distance, after the
    /// cursor, nearest first with the id breaking ties, at most `limit`, each with its distance.
    func near(_ filter: DeviceFilter, point: GeoPoint, radius: Double) -> [Device] {
        let box = point.boundingBox(radius: radius)
        let low = Cell(lat: Int32((box.minLat / Self.cellDegrees).rounded(.down)), lon: Int32((box.minLon / Self.cellDegrees).rounded(.down)))
        let high = Cell(lat: Int32((box.maxLat / Self.cellDegrees).rounded(.down)), lon: Int32((box.maxLon / Self.cellDegrees).rounded(.down)))
        let boxCells = (Int(high.lat) - Int(low.lat) + 1) * (Int(high.lon) - Int(low.lon) + 1)

        // Matches are kept as positions in the visited cells: sorting them moves no device.
        var visited: [[Device]] = []
        var found: [(distance: Double, cell: Int32, slot: Int32)] = []
        func consider(_ devices: [Device]) {
            let cell = Int32(visited.count)
            var any = false
            for slot in devices.indices {
                // Fields read in place: copying each device would retain all of its strings.
                guard let location = devices[slot].location,
                      location.lat >= box.minLat, location.lat <= box.maxLat, location.lon >= box.minLon, location.lon <= box.maxLon
                else { continue }
                if let connector = filter.connector, devices[slot].connector != connector { continue }
                if let user = filter.visibleTo, !devices[slot].public, devices[slot].ownerID != user { continue }
                if let within = filter.box,
                   location.lat < within.minLat || location.lat > within.maxLat || location.lon < within.minLon || location.lon > within.maxLon { continue }
                let distance = point.distance(to: location)
                guard distance <= radius else { continue }
                if case .distance(let d, let id) = filter.after, distance < d || (distance == d && devices[slot].id <= id) { continue }
                found.append((distance, cell, Int32(slot)))
                any = true
            }
            if any { visited.append(devices) }
        }
        let searched: [[Cell: [Device]]] = filter.category.map { categories[$0].map { [$0] } ?? [] } ?? Array(categories.values)
        for cells in searched {
            // A wide circle (a country, the antimeridian) covers more grid cells than there are
            // occupied ones: then walking the occupied cells is cheaper.
            if boxCells > cells.count {
                for devices in cells.values { consider(devices) }
            } else {
                for lat in low.lat...high.lat {
                    for lon in low.lon...high.lon {
                        if let devices = cells[Cell(lat: lat, lon: lon)] { consider(devices) }
                    }
                }
            }
        }
        typealias Match = (distance: Double, cell: Int32, slot: Int32)
        func nearer(_ a: Match, _ b: Match) -> Bool {
            a.distance != b.distance ? a.distance < b.distance : visited[Int(a.cell)][Int(a.slot)].id < visited[Int(b.cell)][Int(b.slot)].id
        }
        // A wide circle at city density holds thousands of matches for a page of 100: keep the
        // nearest `limit` in a heap (farthest on top) instead of sorting them all. Ids are unique,
        // so the order is total and the page is the same as the sorted prefix.
        let limit = max(filter.limit, 0)
        if found.count > limit {
            var heap = Array(found.prefix(limit))
            func siftDown(_ start: Int) {
                var parent = start
                while true {
                    var farthest = parent
                    let left = 2 * parent + 1, right = left + 1
                    if left < heap.count, nearer(heap[farthest], heap[left]) { farthest = left }
                    if right < heap.count, nearer(heap[farthest], heap[right]) { farthest = right }
                    if farthest == parent { return }
                    heap.swapAt(parent, farthest)
                    parent = farthest
                }
            }
            for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
            for match in found[limit...] where !heap.isEmpty && nearer(match, heap[0]) {
                heap[0] = match
                siftDown(0)
            }
            found = heap
        }
        found.sort(by: nearer)
        return found.map { match in
            var device = visited[Int(match.cell)][Int(match.slot)]
            device.distance = match.distance
            return device
        }
    }
}
