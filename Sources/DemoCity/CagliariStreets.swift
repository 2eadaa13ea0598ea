import Foundation

/// Cagliari's main streets as polylines of (lat, lon), traced along the roads of the centre and
/// the roads into it, for placing the demo city's stops, sensors and stations.
struct Street: Sendable {
    let name: String
    let points: [(lat: Double, lon: Double)]
}

enum CagliariStreets {
    static let viaRoma = Street(name: "Via Roma", points: [(39.2163, 9.1066), (39.2157, 9.1100), (39.2150, 9.1135), (39.2141, 9.1163)])
    static let largoCarloFelice = Street(name: "Largo Carlo Felice", points: [(39.2158, 9.1107), (39.2170, 9.1114), (39.2181, 9.1121)])
    static let corsoVittorioEmanuele = Street(name: "Corso Vittorio Emanuele II", points: [(39.2183, 9.1116), (39.2180, 9.1092), (39.2176, 9.1068), (39.2186, 9.1040)])
    static let vialeTrieste = Street(name: "Viale Trieste", points: [(39.2170, 9.1045), (39.2200, 9.1037), (39.2232, 9.1030), (39.2260, 9.1015)])
    static let vialeSantAvendrace = Street(name: "Viale Sant'Avendrace", points: [(39.2262, 9.1005), (39.2300, 9.0970), (39.2330, 9.0940), (39.2390, 9.0880)])
    static let vialeTrento = Street(name: "Viale Trento", points: [(39.2205, 9.1040), (39.2222, 9.1052), (39.2240, 9.1065), (39.2262, 9.1070)])
    static let viaIsMirrionis = Street(name: "Via Is Mirrionis", points: [(39.2280, 9.1060), (39.2315, 9.1050), (39.2350, 9.1040), (39.2420, 9.1010)])
    static let viaCadello = Street(name: "Via Cadello", points: [(39.2385, 9.1055), (39.2400, 9.1090), (39.2420, 9.1130)])
    static let vialeReginaMargherita = Street(name: "Viale Regina Margherita", points: [(39.2148, 9.1175), (39.2170, 9.1183), (39.2190, 9.1190), (39.2212, 9.1203)])
    static let viaDante = Street(name: "Via Dante", points: [(39.2212, 9.1203), (39.2240, 9.1208), (39.2270, 9.1213), (39.2305, 9.1217), (39.2340, 9.1220), (39.2355, 9.1225)])
    static let viaSonnino = Street(name: "Via Sonnino", points: [(39.2180, 9.1150), (39.2187, 9.1190), (39.2195, 9.1230), (39.2205, 9.1260)])
    static let vialeMarconi = Street(name: "Viale Marconi", points: [(39.2205, 9.1260), (39.2235, 9.1305), (39.2260, 9.1350), (39.2290, 9.1420), (39.2310, 9.1480), (39.2340, 9.1600)])
    static let vialeBonaria = Street(name: "Viale Bonaria", points: [(39.2141, 9.1165), (39.2130, 9.1200), (39.2120, 9.1230), (39.2095, 9.1290)])
    static let vialeDiaz = Street(name: "Viale Diaz", points: [(39.2148, 9.1190), (39.2130, 9.1250), (39.2115, 9.1300), (39.2100, 9.1400), (39.2085, 9.1480)])
    static let vialePoetto = Street(name: "Viale Poetto", points: [(39.2040, 9.1560), (39.2015, 9.1610), (39.2060, 9.1675), (39.2110, 9.1740), (39.2165, 9.1805), (39.2220, 9.1870)])
    static let vialeBuoncammino = Street(name: "Viale Buoncammino", points: [(39.2205, 9.1098), (39.2230, 9.1102), (39.2260, 9.1120)])
    static let viaSanBenedetto = Street(name: "Via San Benedetto", points: [(39.2290, 9.1215), (39.2292, 9.1260), (39.2290, 9.1320)])
    static let vialeLaPlaya = Street(name: "Viale La Playa", points: [(39.2120, 9.0900), (39.2135, 9.0960), (39.2148, 9.1010), (39.2160, 9.1055)])
    static let asseMediano = Street(name: "Asse Mediano SS554", points: [(39.2500, 9.0950), (39.2505, 9.1100), (39.2480, 9.1300), (39.2450, 9.1450), (39.2430, 9.1600)])
    static let ss131 = Street(name: "SS131 Carlo Felice", points: [(39.2520, 9.0880), (39.2440, 9.0900), (39.2390, 9.0880)])
    static let viaCaboni = Street(name: "Via Pessina", points: [(39.2250, 9.1250), (39.2275, 9.1270), (39.2300, 9.1290)])
    static let vialeCiusa = Street(name: "Viale Ciusa", points: [(39.2330, 9.1120), (39.2350, 9.1170), (39.2355, 9.1225)])

    /// Bus lines: a name and the streets they run along, end to end.
    static let lines: [(name: String, streets: [Street])] = [
        ("1", [vialeSantAvendrace.reversed, vialeTrieste.reversed, viaRoma, vialeDiaz]),
        ("3", [corsoVittorioEmanuele.reversed, vialeTrento, viaIsMirrionis, viaCadello]),
        ("5", [viaRoma, largoCarloFelice, viaSonnino, vialeMarconi]),
        ("7", [vialeReginaMargherita, viaDante, viaSanBenedetto]),
        ("8", [vialeLaPlaya, viaRoma, vialeBonaria]),
        ("9", [vialeBuoncammino, vialeCiusa, viaDante.reversed]),
        ("10", [vialeTrieste, vialeTrento.reversed, corsoVittorioEmanuele]),
        ("30", [ss131, vialeSantAvendrace.reversed]),
        ("31", [asseMediano, vialeMarconi.reversed]),
        ("M", [viaCaboni, viaDante.reversed, vialeReginaMargherita.reversed]),
        ("PF", [vialeDiaz, vialePoetto]),
        ("PQ", [vialeBonaria, vialePoetto]),
    ]

    /// The roads into the centre, where the traffic loops are.
    static let arterials: [Street] = [asseMediano, ss131, viaRoma, vialeSantAvendrace, vialeTrieste, vialeLaPlaya, vialeDiaz, vialeMarconi,
                                      vialePoetto, viaDante, vialeBonaria, viaIsMirrionis, vialeReginaMargherita]
}

extension Street {
    var reversed: Street { Street(name: name, points: points.reversed()) }

    /// Length in metres.
    var length: Double { zip(points, points.dropFirst()).reduce(0) { $0 + Geo.distance($1.0, $1.1) } }

    /// The point `metres` along the street (clamped to its ends).
    func point(at metres: Double) -> (lat: Double, lon: Double) {
        var left = max(0, metres)
        for (a, b) in zip(points, points.dropFirst()) {
            let segment = Geo.distance(a, b)
            if left <= segment, segment > 0 {
                let f = left / segment
                return (a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f)
            }
            left -= segment
        }
        return points.last!
    }
}

extension Array where Element == Street {
    /// The street `metres` along these streets laid end to end, and how far along that street.
    func locate(_ metres: Double) -> (street: Street, offset: Double) {
        var left = Swift.max(0, metres)
        for street in self {
            if left <= street.length { return (street, left) }
            left -= street.length
        }
        return (last!, last!.length)
    }
}

enum Geo {
    static func distance(_ a: (lat: Double, lon: Double), _ b: (lat: Double, lon: Double)) -> Double {
        let r = 6_371_008.8, rad = Double.pi / 180
        let dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad
        let h = sin(dLat / 2) * sin(dLat / 2) + cos(a.lat * rad) * cos(b.lat * rad) * sin(dLon / 2) * sin(dLon / 2)
        return 2 * r * asin(min(1, sqrt(h)))
    }
}
