import CMCCore
import Events
import Foundation

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

    /// A device with what every search reads beside it: its position, and whether everybody may
    /// see it. The device's other fields are behind a reference, a cache miss for each candidate.
    struct Filed: Sendable {
        let location: GeoPoint
        let isPublic: Bool
        let device: Device
    }

    private var categories: [String: [Cell: [Filed]]] = [:]
    /// Every filed device by id: to read it, and to find its category and cell to move or remove it.
    private var byID: [String: Device] = [:]

    /// Files the device, or refiles it where it now is; a device without a position leaves.
    ///
    /// It is filed with its JSON written: near answers copy it rather than write it again (about
    /// 300 bytes a device; a list of 100 devices writes a thousand members otherwise).
    mutating func put(_ device: Device) {
        remove(id: device.id)
        guard let location = device.location else { return }
        let cell = Cell(location)
        var device = device
        device.prewrite()
        categories[device.category, default: [:]][cell, default: []].append(Filed(location: location, isPublic: device.public, device: device))
        byID[device.id] = device
    }

    /// The device with this id, if it has a position: the grid holds every such device.
    func device(id: String) -> Device? { byID[id] }

    mutating func remove(id: String) {
        guard let filed = byID.removeValue(forKey: id), let location = filed.location else { return }
        let category = filed.category, cell = Cell(location)
        categories[category]?[cell]?.removeAll { $0.device.id == id }
        if categories[category]?[cell]?.isEmpty == true { categories[category]?[cell] = nil }
        if categories[category]?.isEmpty == true { categories[category] = nil }
    }

    /// The same answer as the SQL backends: within the radius by great-circle distance, after the
    /// cursor, nearest first with the id breaking ties, at most `limit`, each with its distance.
    ///
    /// Cells are searched nearest first, and the search stops at the first cell that cannot hold
    /// anything nearer than the page found so far: a 500 m circle at city density holds thousands
    /// of devices, of which a page needs the nearest hundred.
    func near(_ filter: DeviceFilter, point: GeoPoint, radius: Double) -> [Device] {
        let box = point.boundingBox(radius: radius)
        let low = Cell(lat: Int32((box.minLat / Self.cellDegrees).rounded(.down)), lon: Int32((box.minLon / Self.cellDegrees).rounded(.down)))
        let high = Cell(lat: Int32((box.maxLat / Self.cellDegrees).rounded(.down)), lon: Int32((box.maxLon / Self.cellDegrees).rounded(.down)))
        let boxCells = (Int(high.lat) - Int(low.lat) + 1) * (Int(high.lon) - Int(low.lon) + 1)

        // Cells are remembered by their place in their dictionary, and their devices read only
        // when searched: every query shares these arrays, and each reference taken is a count
        // that both cores write.
        typealias Place = (nearest: Double, category: Int32, index: Dictionary<Cell, [Filed]>.Index)
        var cells: [Place] = []
        let searched: [[Cell: [Filed]]] = filter.category.map { categories[$0].map { [$0] } ?? [] } ?? Array(categories.values)
        for (category, occupied) in searched.enumerated() {
            func consider(_ cell: Cell, _ index: Dictionary<Cell, [Filed]>.Index) {
                let nearest = cell.nearestDistance(to: point)
                if nearest <= radius { cells.append((nearest, Int32(category), index)) }
            }
            // A wide circle (a country, the antimeridian) covers more grid cells than there are
            // occupied ones: then walking the occupied cells is cheaper.
            if boxCells > occupied.count {
                var index = occupied.startIndex
                while index != occupied.endIndex {
                    let cell = occupied.keys[index]
                    if (low.lat...high.lat).contains(cell.lat) && (low.lon...high.lon).contains(cell.lon) { consider(cell, index) }
                    index = occupied.index(after: index)
                }
            } else {
                for lat in low.lat...high.lat {
                    for lon in low.lon...high.lon {
                        let cell = Cell(lat: lat, lon: lon)
                        if let index = occupied.index(forKey: cell) { consider(cell, index) }
                    }
                }
            }
        }
        cells.sort { $0.nearest < $1.nearest }
        func filed(in place: Int32) -> [Filed] { searched[Int(cells[Int(place)].category)].values[cells[Int(place)].index] }

        // The page so far, as positions in `cells`, in a heap with the farthest on top. Ids are
        // unique, so the order is total and the page is the same as a sorted prefix of every match.
        typealias Match = (distance: Double, cell: Int32, slot: Int32)
        func nearer(_ a: Match, _ b: Match) -> Bool {
            a.distance != b.distance ? a.distance < b.distance : filed(in: a.cell)[Int(a.slot)].device.id < filed(in: b.cell)[Int(b.slot)].device.id
        }
        let limit = max(filter.limit, 0)
        var heap: [Match] = []
        heap.reserveCapacity(min(limit, 1024))
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
        func siftUp(_ start: Int) {
            var child = start
            while child > 0, nearer(heap[(child - 1) / 2], heap[child]) {
                heap.swapAt(child, (child - 1) / 2)
                child = (child - 1) / 2
            }
        }
        for index in cells.indices {
            // Strictly farther: a device at exactly the page's last distance may still win on its id.
            if heap.count == limit, heap.isEmpty || cells[index].nearest > heap[0].distance { break }
            let devices = filed(in: Int32(index))
            for slot in devices.indices {
                let location = devices[slot].location
                guard location.lat >= box.minLat, location.lat <= box.maxLat, location.lon >= box.minLon, location.lon <= box.maxLon
                else { continue }
                if let connector = filter.connector, devices[slot].device.connector != connector { continue }
                if let user = filter.visibleTo, !devices[slot].isPublic, devices[slot].device.ownerID != user { continue }
                if let within = filter.box,
                   location.lat < within.minLat || location.lat > within.maxLat || location.lon < within.minLon || location.lon > within.maxLon { continue }
                let distance = point.distance(to: location)
                guard distance <= radius else { continue }
                if case .distance(let d, let id) = filter.after, distance < d || (distance == d && devices[slot].device.id <= id) { continue }
                let match = (distance, Int32(index), Int32(slot))
                if heap.count < limit {
                    heap.append(match)
                    siftUp(heap.count - 1)
                } else if nearer(match, heap[0]) {
                    heap[0] = match
                    siftDown(0)
                }
            }
        }
        heap.sort(by: nearer)
        return heap.map { match in
            var device = filed(in: match.cell)[Int(match.slot)].device
            device.distance = match.distance
            return device
        }
    }
}

extension DeviceGrid.Cell {
    /// A lower bound of the distance from `point` to anything filed in this cell, in metres.
    ///
    /// Haversine's `a = sin²(Δφ/2) + cos φ₁ cos φ₂ sin²(Δλ/2)` is bounded below term by term: the
    /// least latitude difference, the cosine of the largest latitude, the least `sin²(Δλ/2)` over
    /// the cell's longitudes (found at one of its edges, also across the antimeridian).
    func nearestDistance(to point: GeoPoint) -> Double {
        // Widened by a hair: a position on a cell's edge may be filed on either side of it.
        let degrees = DeviceGrid.cellDegrees, hair = 1e-9
        let south = Double(lat) * degrees - hair, north = Double(lat + 1) * degrees + hair
        let west = Double(lon) * degrees - hair, east = Double(lon + 1) * degrees + hair
        let radians = Double.pi / 180
        let dLat = max(0, south - point.lat, point.lat - north) * radians
        let widest = min(90, max(abs(point.lat), abs(south), abs(north))) * radians
        var lonTerm = 0.0
        if point.lon < west || point.lon > east {
            let near = min(abs(west - point.lon), abs(east - point.lon)) * radians
            let far = max(abs(west - point.lon), abs(east - point.lon)) * radians
            lonTerm = min(sin(near / 2) * sin(near / 2), sin(far / 2) * sin(far / 2))
        }
        let a = sin(dLat / 2) * sin(dLat / 2) + max(0, cos(widest)) * max(0, cos(widest)) * lonTerm
        // Shrunk by more than the rounding of either formula, so a tie is never skipped.
        return max(0, 2 * GeoPoint.earthRadius * asin(min(1, a.squareRoot())) * (1 - 1e-9) - 1e-6)
    }
}
