import CMCCore
import CMCStorage
import CMCTesting
import Foundation
import Platform
import Testing

@Suite("Platform")
struct PlatformTests {
    @Test("health, JSON 404s and oversize bodies", arguments: TestBackend.all)
    func basics(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let health = try await t.client.json(.get, "/health")
            #expect(health["status"] as? String == "ok")
            #expect(health["database"] as? String == backend.rawValue)

            let missing = try await t.client.send(.get, "/no/such/route")
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "not_found")

            let huge = String(repeating: "x", count: 2 << 20)
            let tooLarge = try await t.client.send(.post, "/users", body: ["email": "a@b.org", "password": huge, "name": "big"])
            #expect(tooLarge.status == .contentTooLarge)
            #expect(tooLarge.errorCode == "body_too_large")
        }
    }

    @Test("a request the HTTP parser refuses is answered and its connection closed: 431 for huge headers, 400 for garbage")
    func malformedRequests() async throws {
        try await TestPlatform.run(.sqlite, live: true) { t in
            let port = try #require(t.client.port)
            // Each case on a new connection: what comes back within 5 s, and whether the server then closed it.
            let script = """
                import socket, sys
                port = int(sys.argv[1])
                health = b"GET /health HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
                huge = b"GET /health HTTP/1.1\\r\\nHost: x\\r\\nX-Big: " + b"a" * 200000 + b"\\r\\n\\r\\n"
                cases = {"first": huge, "second": health + huge, "garbage": b"\\x01\\x02 nonsense\\r\\n\\r\\n"}
                for name, request in cases.items():
                    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(5)
                    s.sendall(request)
                    answer = b""
                    try:
                        while True:
                            chunk = s.recv(65536)
                            if not chunk: break
                            answer += chunk
                        closed = "closed"
                    except socket.timeout:
                        closed = "open"
                    last = answer.split(b"HTTP/1.1 ")[-1]
                    print(name, closed, last.split(b" ")[0].decode() if answer else "none", last.split(b"\\r\\n\\r\\n", 1)[-1].decode())
                """
            let outcome = try await ExternalProcess.run("/usr/bin/python3", ["-c", script, "\(port)"])
            let lines = outcome.output.split(separator: "\n").map(String.init)
            #expect(lines.contains { $0.hasPrefix("first closed 431 ") && $0.contains(#""code":"headers_too_large""#) }, "\(outcome.output)")
            #expect(lines.contains { $0.hasPrefix("second closed 431 ") && $0.contains(#""code":"headers_too_large""#) }, "\(outcome.output)")
            #expect(lines.contains { $0.hasPrefix("garbage closed 400 ") && $0.contains(#""code":"malformed_request""#) }, "\(outcome.output)")
            // The server is still there for the next client.
            #expect(try await t.client.json(.get, "/health")["status"] as? String == "ok")
        }
    }

    @Test("metrics count requests per route and time storage", arguments: TestBackend.all)
    func metrics(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            _ = try await t.client.send(.get, "/devices", token: t.adminToken)
            let reply = try await t.client.send(.get, "/metrics")
            #expect(reply.status == .ok)
            #expect(reply.text.contains("http_route=\"/devices\""))
            #expect(reply.text.contains("cmc_storage_query"))
            #expect(reply.text.contains("backend=\"\(backend.rawValue)\""))
        }
    }

    @Test("migrations are recorded once and a second start applies none", arguments: TestBackend.all)
    func migrations(backend: TestBackend) async throws {
        try await backend.withDatabase { database in
            let migrations = try Migrations(directory: TestBackend.migrationsDirectory, dialect: database.dialect)
            let first = try await migrations.apply(to: database, logger: TestBackend.logger)
            #expect(first == migrations.files.map(\.version))
            let second = try await migrations.apply(to: database, logger: TestBackend.logger)
            #expect(second.isEmpty)
            let rows = try await database.query("SELECT version FROM schema_migrations ORDER BY version")
            #expect(try rows.map { try $0.int("version") } == migrations.files.map { Int64($0.version) })
        }
    }

    @Test("both backends carry the same migrations")
    func sameMigrations() throws {
        let sqlite = try Migrations(directory: TestBackend.migrationsDirectory, dialect: .sqlite).files.map(\.name)
        let postgres = try Migrations(directory: TestBackend.migrationsDirectory, dialect: .postgres).files.map(\.name)
        #expect(sqlite == postgres)
    }

    @Test("timestamps parse RFC 3339 with offsets and print UTC microseconds")
    func timestamps() throws {
        #expect(Timestamp(parsing: "2026-01-31T12:00:00Z")?.microseconds == 1_769_860_800_000_000)
        #expect(Timestamp(parsing: "2026-01-31T13:00:00.5+01:00")?.microseconds == 1_769_860_800_500_000)
        #expect(Timestamp(parsing: "1969-12-31T23:59:59.999999Z")?.microseconds == -1)
        #expect(Timestamp(microseconds: -1).description == "1969-12-31T23:59:59.999999Z")
        #expect(Timestamp(parsing: "2026-02-30T00:00:00Z") == nil)
        #expect(Timestamp(parsing: "2026-01-31 12:00") == nil)
        #expect(Timestamp(parsing: "1769860800")?.microseconds == 1_769_860_800_000_000)
        #expect(Timestamp(parsing: "-1.25")?.microseconds == -1_250_000)
        // Seconds as the API document's pattern has them, not whatever Double reads.
        for text in ["1e9", ".5", "5.", "0x10", "inf", "nan", "123456789012", "+", ""] {
            #expect(Timestamp(parsing: text) == nil, "\(text)")
        }
        let now = Timestamp.now()
        #expect(Timestamp(parsing: now.description) == now)
        #expect(Timestamp(parsing: "0001-01-01T00:00:00Z")?.description == "0001-01-01T00:00:00.000000Z")
        #expect(Timestamp(parsing: "9999-12-31T23:59:59.999999Z")?.description == "9999-12-31T23:59:59.999999Z")
        #expect(Timestamp(parsing: "2024-02-29T07:08:09.010203Z")?.description == "2024-02-29T07:08:09.010203Z")
        var random = SplitMix64(seed: 3)
        for _ in 0..<10_000 {
            // Any instant from year 0 to 9999 prints in 27 characters and parses back to itself.
            let micros = Int64(random.next() % 315_537_897_600_000_000) - 62_167_219_200_000_000
            let text = Timestamp(microseconds: micros).description
            #expect(text.utf8.count == 27 && Timestamp(parsing: text)?.microseconds == micros, "\(micros) \(text)")
        }
        // Answers print times straight into their bytes: the same text, also outside four-digit years.
        for micros in [Int64(0), -1, 1_769_860_800_500_000, -62_167_219_200_000_001, 253_402_300_800_000_000, Int64.max / 2] {
            var writer = JSONWriter()
            writer.array([Timestamp(microseconds: micros), Timestamp(microseconds: micros)]) { w, t in w.timestamp(t) }
            let text = Timestamp(microseconds: micros).description
            #expect(String(decoding: writer.bytes, as: UTF8.self) == "[\"\(text)\",\"\(text)\"]")
        }
    }

    @Test("SQL scripts split on statement ends, keeping dollar-quoted bodies whole")
    func scripts() {
        let script = """
            -- comment
            CREATE TABLE a (x INT);
            CREATE FUNCTION f() RETURNS int AS $$
            BEGIN
                RETURN 1;
            END;
            $$ LANGUAGE plpgsql;
            INSERT INTO a VALUES (1);
            """
        let statements = SQLScript.statements(in: script)
        #expect(statements.count == 3)
        #expect(statements[1].hasSuffix("LANGUAGE plpgsql;"))
    }
}
