import AsyncHTTPClient
import CMCCore
import Crypto
import Events
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Outbound
import ServiceLifecycle

/// Delivers events to webhooks: each has its own queue and worker, so a slow or dead endpoint
/// delays nobody else. A delivery is retried with exponential backoff; one that still fails counts
/// against the webhook, which is marked `failing` after a few in a row and `active` again on the
/// next success.
public final class WebhookDispatcher: Service, Sendable {
    public struct Policy: Sendable {
        public var attempts = 5
        public var firstRetry: Duration = .seconds(1)
        public var longestRetry: Duration = .seconds(60)
        public var timeout: Duration = .seconds(10)
        /// Failed deliveries in a row that mark a webhook failing.
        public var failingAfter = 3
        /// Events waiting per webhook; beyond it the oldest are dropped and counted.
        public var queueLimit = 1000
        /// Where deliveries may go: public addresses, unless an admin allows a host.
        public var outbound = OutboundPolicy()

        public init() {}
    }

    public struct Counts: Sendable {
        var succeeded = 0
        var failed = 0
    }

    struct Entry {
        var webhook: Webhook
        let queue: AsyncStream<Event>.Continuation
        var counts = Counts()
    }

    struct Start: Sendable {
        let id: String
        let events: AsyncStream<Event>
    }

    let repository: WebhookRepository
    let policy: Policy
    let logger: Logger
    let events: AsyncStream<Event>
    private let entries = NIOLockedValueBox([String: Entry]())
    /// Set by the platform's stop: deliveries under way finish (without further retries), queued
    /// ones are left.
    private let stopping = NIOLockedValueBox(false)
    private let starts = AsyncStream<Start>.makeStream()

    public init(repository: WebhookRepository, bus: EventBus, policy: Policy = Policy(), logger: Logger) {
        self.repository = repository
        self.policy = policy
        self.logger = logger
        // Subscribed from the start, so events during start-up are delivered too. Each process
        // delivers the events it produced; another's come through the mesh and are its own to deliver.
        events = bus.subscribe(EventFilter(viewer: .everything, localOnly: true))
    }

    public func run() async throws {
        for webhook in try await repository.all() { add(webhook) }
        let fanOut = Task { await self.fanOut() }
        defer { fanOut.cancel() }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await start in self.starts.stream {
                    group.addTask { await self.work(start) }
                }
                // Ends once every delivery under way has finished.
            }
        } onGracefulShutdown: {
            self.stopping.withLockedValue { $0 = true }
            self.starts.continuation.finish()
            for entry in self.entries.withLockedValue({ Array($0.values) }) { entry.queue.finish() }
        }
    }

    var isStopping: Bool { stopping.withLockedValue { $0 } }

    func add(_ webhook: Webhook) {
        let (stream, queue) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(policy.queueLimit))
        entries.withLockedValue { $0[webhook.id] = Entry(webhook: webhook, queue: queue) }
        starts.continuation.yield(Start(id: webhook.id, events: stream))
    }

    func remove(id: String) {
        entries.withLockedValue { $0.removeValue(forKey: id) }?.queue.finish()
    }

    /// The webhook as the dispatcher knows it now (health changes first land here).
    func current(id: String) -> (Webhook, Counts)? {
        entries.withLockedValue { $0[id].map { ($0.webhook, $0.counts) } }
    }

    private func fanOut() async {
        for await event in events {
            let queues = entries.withLockedValue { entries in
                entries.values.filter { $0.webhook.filter.admits(event) }.map(\.queue)
            }
            for queue in queues {
                if case .dropped = queue.yield(event) { Counter(label: "cmc_webhook_events_dropped_total").increment() }
            }
        }
    }

    private func work(_ start: Start) async {
        for await event in start.events {
            guard !isStopping, let webhook = entries.withLockedValue({ $0[start.id]?.webhook }) else { return }
            let error = await deliver(event, to: webhook)
            await record(id: start.id, error: error)
        }
    }

    /// Nil on success, or why the last attempt failed.
    private func deliver(_ event: Event, to webhook: Webhook) async -> String? {
        var delay = policy.firstRetry
        var attempt = 0
        while true {
            attempt += 1
            let failure: String
            do {
                let status = try await post(event, to: webhook)
                if (200..<300).contains(status) { return nil }
                failure = "HTTP \(status)"
            } catch let refusal as OutboundRefusal {
                if Task.isCancelled { return "stopped" }
                failure = refusal.description
            } catch {
                if Task.isCancelled { return "stopped" }
                // What failed underneath (refused, reset, unreachable, TLS) is not told: the
                // subscriber learns that the delivery failed, not what answered at that address.
                failure = "no answer from the endpoint"
            }
            Counter(label: "cmc_webhook_attempts_failed_total").increment()
            if attempt >= policy.attempts || Task.isCancelled || isStopping { return failure }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, policy.longestRetry)
        }
    }

    private func post(_ event: Event, to webhook: Webhook) async throws -> UInt {
        var request = HTTPClientRequest(url: webhook.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "cmc-webhooks")
        request.headers.add(name: "X-CMC-Event", value: event.kind.rawValue)
        request.headers.add(name: "X-CMC-Webhook", value: webhook.id)
        request.headers.add(name: "X-CMC-Signature", value: Self.signature(of: event.json, secret: webhook.secret))
        request.body = .bytes(ByteBuffer(bytes: event.json))
        // Redirects are not followed: a delivery goes where the subscriber registered, or fails.
        return try await policy.outbound.execute(request, timeout: TimeAmount(policy.timeout), followRedirects: false) { response in
            _ = try await response.body.collect(upTo: 1 << 16)
            return response.status.code
        }
    }

    /// `sha256=<hex of HMAC-SHA256(secret, body)>`, the form GitHub and others use.
    public static func signature(of body: [UInt8], secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    private func record(id: String, error: String?) async {
        let changed = entries.withLockedValue { entries -> Webhook? in
            guard var entry = entries[id] else { return nil }
            defer { entries[id] = entry }
            if let error {
                entry.counts.failed += 1
                entry.webhook.consecutiveFailures += 1
                entry.webhook.lastError = error
                entry.webhook.lastFailureAt = .now()
                if entry.webhook.consecutiveFailures >= policy.failingAfter { entry.webhook.status = .failing }
                return entry.webhook
            }
            entry.counts.succeeded += 1
            guard entry.webhook.consecutiveFailures > 0 || entry.webhook.status != .active else { return nil }
            entry.webhook.consecutiveFailures = 0
            entry.webhook.status = .active
            return entry.webhook
        }
        guard let changed else { return }
        if changed.status == .failing, changed.consecutiveFailures == policy.failingAfter {
            logger.warning("webhook failing", metadata: ["webhook": "\(id)", "url": "\(changed.url)", "error": "\(changed.lastError ?? "")"])
        }
        do { try await repository.saveHealth(changed) } catch {
            logger.error("could not save a webhook's health", metadata: ["webhook": "\(id)", "error": "\(error)"])
        }
    }
}
